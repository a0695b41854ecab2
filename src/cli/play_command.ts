import { parseArgs } from 'node:util';
import { dispose } from '@livekit/rtc-node';
import { MediaDevices } from '../media_devices.js';
import { readWav } from '../wav.js';
import { wavFrames } from '../wav_frames.js';
import { CliUsageError } from './cli_usage_error.js';
import { parseDevice } from './device_option.js';

/** `lk-audio play <file.wav> [--device <speaker>]`: plays a WAV file in real time, then reports what happened. */
export async function runPlay(args: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { device: { type: 'string' } },
  });
  if (positionals.length !== 1) throw new CliUsageError('play takes one WAV file');
  const audio = await readWav(positionals[0]!);
  const selector = parseDevice(values.device);
  const lookup = new MediaDevices();
  const device =
    selector === undefined ? lookup.defaultOutputDevice() : lookup.getOutputDevice(selector);
  if (!device) throw new Error('there is no default output device; choose one with --device');
  // The file's channels, as many as the device has (the player maps the rest); its rate is converted.
  const devices = new MediaDevices({
    numChannels: Math.min(audio.channels, device.maxOutputChannels, 8),
  });
  const player = devices.openOutput({ outputDevice: device.id });
  try {
    const frames = wavFrames(audio);
    const ended = new Promise<void>((resolve, reject) => {
      player.once('streamEnded', () => resolve());
      player.once('error', reject);
    });
    player.addStream(frames);
    await player.start();
    await ended;
    // What the device took is heard within its latency.
    await new Promise((resolve) => setTimeout(resolve, 100));
    const { underruns, renderedFrames } = player.stats;
    const seconds = audio.samples.length / audio.channels / audio.sampleRate;
    console.log(
      `played ${seconds.toFixed(2)} s on ${player.device.name} [${player.device.id}]` +
        ` (${(renderedFrames / player.sampleRate).toFixed(2)} s rendered, ${underruns} underruns)`,
    );
  } finally {
    await player.aclose();
    await dispose();
  }
}
