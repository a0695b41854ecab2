import { Command } from '@commander-js/extra-typings';
import { dispose } from '@livekit/rtc-node';
import { MediaDevices } from '../media_devices.js';
import type { OutputPlayer } from '../output_player.js';
import { CaptureFrames } from './capture_frames.js';
import { runCleanup } from './run_cleanup.js';
import { deviceOptionHelp, resolveDevice } from './device_option.js';
import { waitForInterrupt } from './interrupt.js';
import { numberInRange } from './number_option.js';

/**
 * `lk-audio loopback [--input <mic>] [--output <speaker>] [--seconds N] [--no-aec] [--ns] [--hpf] [--agc]`: hear
 * yourself through the whole pipeline: the microphone's capture (with echo cancellation, by default, and the
 * processing asked for) played live on the speaker. With AEC on and no headphones, your voice should not howl.
 */
export function loopbackCommand() {
  return new Command('loopback')
    .description(
      'play a microphone on a speaker through the capture pipeline (AEC on), until Ctrl-C or --seconds',
    )
    .option('--input <mic>', deviceOptionHelp('audioinput'))
    .option('--output <speaker>', deviceOptionHelp('audiooutput'))
    .option(
      '--seconds <s>',
      'stop after this long (default: at Ctrl-C)',
      numberInRange(0, 86400, 's', { aboveMin: true }),
    )
    .option('--no-aec', 'no echo cancellation (use headphones: a speaker will howl)')
    .option('--ns', 'noise suppression')
    .option('--hpf', 'high-pass filter')
    .option('--agc', 'automatic gain control')
    .action(async (options) => {
      const devices = new MediaDevices();
      const input = resolveDevice(devices, 'audioinput', options.input, '--input');
      const output = resolveDevice(devices, 'audiooutput', options.output, '--output');
      const capture = devices.openInput({
        inputDevice: input.id,
        enableAec: options.aec,
        noiseSuppression: options.ns ?? false,
        highPassFilter: options.hpf ?? false,
        autoGainControl: options.agc ?? false,
      });
      const frames = new CaptureFrames(capture);
      let player: OutputPlayer;
      try {
        player = devices.openOutput({ outputDevice: output.id });
      } catch (error) {
        await runCleanup([() => capture.aclose(), () => dispose()], 'closing the devices');
        throw error;
      }
      console.error(
        `loopback: ${input.name} -> ${output.name}, echo cancellation ${options.aec ? 'on' : 'OFF'}; Ctrl-C ends`,
      );
      let timer: NodeJS.Timeout | undefined;
      try {
        player.addStream(frames, { live: true });
        await player.start();
        await waitForInterrupt((done, fail) => {
          capture.once('error', fail);
          player.once('error', fail);
          if (options.seconds !== undefined) timer = setTimeout(done, options.seconds * 1000);
        });
      } finally {
        clearTimeout(timer);
        frames.end();
        await runCleanup(
          [() => player.aclose(), () => capture.aclose(), () => dispose()],
          'closing the devices',
        );
      }
      const { droppedFrames, underruns } = player.stats;
      console.log(
        `looped ${input.name} [${input.id}] to ${output.name} [${output.id}] ` +
          `(${underruns} underruns, ${droppedFrames} samples dropped to keep latency low)`,
      );
    });
}
