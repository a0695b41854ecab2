import { Command } from '@commander-js/extra-typings';
import { dispose } from '@livekit/rtc-node';
import { MediaDevices } from '../media_devices.js';
import { deviceOptionHelp, resolveDevice } from './device_option.js';
import { playAudio } from './play_audio.js';
import { readWavArgument } from './wav_argument.js';

/** `lk-audio play <file.wav> [--device <speaker>]`: plays a WAV file in real time, then reports what happened. */
export function playCommand() {
  return new Command('play')
    .description('play a WAV file (any rate and channels) in real time on a speaker')
    .argument('<file.wav>', 'WAV file: 8/16/24/32-bit integer or 32-bit float PCM')
    .option('--device <speaker>', deviceOptionHelp('audiooutput'))
    .action(async (file, options) => {
      const audio = await readWavArgument(file);
      const lookup = new MediaDevices();
      const device = resolveDevice(lookup, 'audiooutput', options.device, '--device');
      // The file's channels, as many as the device has (the player maps the rest); its rate is converted.
      const devices = new MediaDevices({
        numChannels: Math.min(audio.channels, device.maxOutputChannels, 8),
      });
      const player = devices.openOutput({ outputDevice: device.id });
      try {
        const { underruns } = await playAudio(player, audio, 'playing');
        const seconds = audio.samples.length / audio.channels / audio.sampleRate;
        console.log(
          `played ${seconds.toFixed(2)} s on ${player.device.name} [${player.device.id}] (${underruns} underruns)`,
        );
      } finally {
        await player.aclose();
        await dispose();
      }
    });
}
