import type { AudioDevice } from '../audio_device.js';

/**
 * @internal
 * Whether a device's audio passes through the sound server: one of the server's own sinks or sources, or the ALSA
 * PCM that leads to it (`pulse`, and `default` on a system whose ALSA default is the server).
 */
export function throughSoundServer(device: AudioDevice | undefined): boolean {
  if (!device) return false;
  return (
    device.hostApi === 'PulseAudio' ||
    (device.hostApi === 'ALSA' && (device.name === 'pulse' || device.name === 'default'))
  );
}
