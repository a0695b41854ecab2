import { Command } from '@commander-js/extra-typings';
import { dispose } from '@livekit/rtc-node';
import { APM_MAX_STREAM_DELAY_MS, APM_SAMPLE_RATES } from '../apm.js';
import { cancelEcho } from '../offline_aec.js';
import { CliUsageError } from './cli_usage_error.js';
import { numberInRange } from './number_option.js';
import { createOutputWav } from './output_file.js';
import { resampleWav } from './resample_wav.js';
import { readWavArgument } from './wav_argument.js';

/**
 * `lk-audio aec --mic mic.wav --far far.wav --out out.wav [--delay-ms N] [--ns] [--hpf] [--agc]`: offline echo
 * cancellation of WAV files; a far end at another rate is resampled to the microphone's.
 */
export function aecCommand() {
  return new Command('aec')
    .description("remove the far end's echo from a microphone recording (WAV files, offline)")
    .requiredOption('--mic <file.wav>', 'what the microphone heard')
    .requiredOption(
      '--far <file.wav>',
      "what the speaker played (any rate: resampled to the microphone's)",
    )
    .requiredOption('--out <file.wav>', 'where to write the microphone without the echo')
    .option(
      '--delay-ms <ms>',
      `echo delay hint, 0 to ${APM_MAX_STREAM_DELAY_MS} ms (0: the canceller finds it)`,
      numberInRange(0, APM_MAX_STREAM_DELAY_MS, 'ms'),
      0,
    )
    .option('--ns', 'noise suppression')
    .option('--hpf', 'high-pass filter')
    .option('--agc', 'automatic gain control')
    .action(async (options) => {
      const mic = await readWavArgument(options.mic);
      if (!APM_SAMPLE_RATES.includes(mic.sampleRate)) {
        throw new CliUsageError(
          `${options.mic}: the canceller takes ${APM_SAMPLE_RATES.join(', ')} Hz, not ${mic.sampleRate} Hz`,
          'resample the microphone recording first',
        );
      }
      const far = resampleWav(await readWavArgument(options.far), mic.sampleRate);
      // A failed write is thrown by close().
      const writer = await createOutputWav(options.out, mic.sampleRate, mic.channels, () => {});
      let frames = 0;
      try {
        const { audio, stats } = cancelEcho(mic, far, {
          delayMs: options.delayMs,
          noiseSuppression: options.ns ?? false,
          highPassFilter: options.hpf ?? false,
          autoGainControl: options.agc ?? false,
        });
        writer.write(audio.samples);
        frames = stats.streamFrames;
      } finally {
        await writer.close();
        await dispose();
      }
      console.log(`wrote ${options.out} (${frames} frames of 10 ms processed)`);
    });
}
