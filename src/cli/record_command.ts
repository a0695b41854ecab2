import { Command } from '@commander-js/extra-typings';
import { dispose, type AudioFrame } from '@livekit/rtc-node';
import { MediaDevices } from '../media_devices.js';
import type { InputCapture } from '../input_capture.js';
import type { OutputPlayer } from '../output_player.js';
import { wavFrames } from '../wav_frames.js';
import { CliUsageError } from './cli_usage_error.js';
import { runCleanup } from './run_cleanup.js';
import { deviceOptionHelp, resolveDevice } from './device_option.js';
import { waitForInterrupt } from './interrupt.js';
import { levelsDbfs } from './levels.js';
import { numberInRange } from './number_option.js';
import { createOutputWav } from './output_file.js';
import { progressText } from './progress.js';
import { StatusLine } from './status_line.js';
import { readWavArgument } from './wav_argument.js';

/**
 * `lk-audio record <out.wav> [--seconds N] [--device <mic>] [--channel N] [--rate 48000] [--aec [--far f.wav]]
 * [--ns] [--hpf] [--agc]`: records the microphone as a capture publishes it (10 ms frames, the processing asked
 * for; none by default), streaming to the file, until N seconds or Ctrl-C; what was recorded is kept either way.
 */
export function recordCommand() {
  return new Command('record')
    .description('record a microphone as a capture publishes it, until --seconds or Ctrl-C')
    .argument('<out.wav>', 'WAV file to write (16-bit, mono)')
    .option(
      '--seconds <s>',
      'stop after this long, up to 86400 s (default: at Ctrl-C)',
      numberInRange(0, 86400, 's', { aboveMin: true }),
    )
    .option('--device <mic>', deviceOptionHelp('audioinput'))
    .option(
      '--channel <n>',
      'record this channel of the device (0 is the first; default: all mixed)',
      numberInRange(0, 255, '', { step: 1 }),
    )
    .option(
      '--rate <Hz>',
      'sample rate of the file, 8000 to 48000 Hz',
      numberInRange(8000, 48000, 'Hz', { step: 100 }),
      48000,
    )
    .option('--aec', 'echo cancellation (of what this process plays: see --far)')
    .option(
      '--far <file.wav>',
      'play this WAV file on --output while recording (the far end, for --aec)',
    )
    .option('--output <speaker>', 'output device for --far (default: the default output)')
    .option('--ns', 'noise suppression')
    .option('--hpf', 'high-pass filter')
    .option('--agc', 'automatic gain control')
    .action(async (file, options) => {
      if (options.output !== undefined && options.far === undefined) {
        throw new CliUsageError('--output is for --far: give the file to play');
      }
      const far = options.far === undefined ? undefined : await readWavArgument(options.far);
      const rate = options.rate;
      const devices = new MediaDevices({ inputSampleRate: rate });
      const device = resolveDevice(devices, 'audioinput', options.device, '--device');
      if (options.channel !== undefined && options.channel >= device.maxInputChannels) {
        throw new CliUsageError(
          `--channel ${options.channel}: ${device.id} has ${device.maxInputChannels} input channels (0 to ${device.maxInputChannels - 1})`,
        );
      }
      const speaker = far && resolveDevice(devices, 'audiooutput', options.output, '--output');
      let writeFailed: (error: unknown) => void = () => {};
      const writer = await createOutputWav(file, rate, 1, (error) => writeFailed(error));
      const status = new StatusLine();
      let player: OutputPlayer | undefined;
      let capture: InputCapture | undefined;
      try {
        capture = devices.openInput({
          inputDevice: device.id,
          inputChannelIndex: options.channel,
          enableAec: options.aec ?? false,
          noiseSuppression: options.ns ?? false,
          highPassFilter: options.hpf ?? false,
          autoGainControl: options.agc ?? false,
        });
        if (speaker && far) {
          player = devices.openOutput({ outputDevice: speaker.id });
          player.addStream(wavFrames(far));
          await player.start();
        }
        const mic = capture;
        const wanted =
          options.seconds === undefined ? Infinity : Math.round(options.seconds * rate);
        let frames = 0;
        await waitForInterrupt((done, fail) => {
          writeFailed = (error) => fail(error instanceof Error ? error : new Error(String(error)));
          mic.once('error', fail);
          player?.once('error', fail);
          mic.on('frame', (frame: AudioFrame) => {
            const take = Math.min(frame.samplesPerChannel, wanted - writer.frames);
            if (take <= 0) return;
            writer.write(frame.data.subarray(0, take));
            if (++frames % 10 === 0 && status.active) {
              const level = levelsDbfs(frame.data).rmsDbfs;
              status.update(
                progressText('recording', writer.frames / rate, options.seconds, level),
              );
            }
            if (writer.frames >= wanted) done();
          });
        });
      } finally {
        // Whatever ended the recording, the file keeps what was captured, with its header fixed up.
        status.clear();
        await runCleanup(
          [() => player?.aclose(), () => capture?.aclose(), () => writer.close(), () => dispose()],
          'ending the recording',
        );
      }
      const { framesDropped, deviceDroppedFrames } = capture.stats;
      console.log(
        `recorded ${(writer.frames / rate).toFixed(2)} s from ${capture.device.name} [${capture.device.id}] ` +
          `to ${file} (${framesDropped} frames dropped, ${deviceDroppedFrames} samples lost)`,
      );
    });
}
