import { Command } from '@commander-js/extra-typings';
import { dispose } from '@livekit/rtc-node';
import { MediaDevices } from '../media_devices.js';
import type { WavAudio } from '../wav.js';
import { deviceOptionHelp, resolveDevice } from './device_option.js';
import { numberInRange } from './number_option.js';
import { playAudio } from './play_audio.js';

const RATE = 48000;
/** Fade in and out (ms), so the tone starts and stops without a click. */
const FADE_MS = 10;

/**
 * A sine tone, faded in and out.
 * @param freqHz frequency (Hz)
 * @param seconds length (s)
 * @param dbfs peak level (dBFS)
 */
function sine(freqHz: number, seconds: number, dbfs: number): WavAudio {
  const samples = new Int16Array(Math.round(seconds * RATE));
  const peak = 32767 * 10 ** (dbfs / 20);
  const fade = Math.min((RATE * FADE_MS) / 1000, samples.length / 2);
  for (let i = 0; i < samples.length; i++) {
    const edge = Math.min(1, i / fade, (samples.length - 1 - i) / fade);
    samples[i] = Math.round(peak * edge * Math.sin((2 * Math.PI * freqHz * i) / RATE));
  }
  return { sampleRate: RATE, channels: 1, samples };
}

/** `lk-audio tone [--device <speaker>] [--freq 1000] [--seconds 2] [--dbfs -12]`: a speaker check. */
export function toneCommand() {
  return new Command('tone')
    .description('play a sine tone on a speaker (a speaker check)')
    .option('--device <speaker>', deviceOptionHelp('audiooutput'))
    .option('--freq <Hz>', 'frequency, 20 to 20000 Hz', numberInRange(20, 20000, 'Hz'), 1000)
    .option(
      '--seconds <s>',
      'length, up to 600 s',
      numberInRange(0, 600, 's', { aboveMin: true }),
      2,
    )
    .option('--dbfs <dBFS>', 'peak level, -60 to 0 dBFS', numberInRange(-60, 0, 'dBFS'), -12)
    .action(async (options) => {
      const device = resolveDevice(new MediaDevices(), 'audiooutput', options.device, '--device');
      const player = new MediaDevices({ outputSampleRate: RATE }).openOutput({
        outputDevice: device.id,
      });
      try {
        const { underruns } = await playAudio(
          player,
          sine(options.freq, options.seconds, options.dbfs),
          'tone',
        );
        console.log(
          `played ${options.freq} Hz at ${options.dbfs} dBFS for ${options.seconds} s on ` +
            `${player.device.name} [${player.device.id}] (${underruns} underruns)`,
        );
      } finally {
        await player.aclose();
        await dispose();
      }
    });
}
