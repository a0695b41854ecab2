import { Command } from '@commander-js/extra-typings';
import { dispose, type AudioFrame } from '@livekit/rtc-node';
import { MediaDevices } from '../media_devices.js';
import { deviceOptionHelp, resolveDevice } from './device_option.js';
import { waitForInterrupt } from './interrupt.js';
import { formatDbfs, jsonDbfs, levelBar, levelsDbfs } from './levels.js';
import { numberInRange } from './number_option.js';
import { StatusLine } from './status_line.js';

/** Bar width (characters) for -60..0 dBFS: 6 per 10 dB. */
const BAR = 36;
/** Width of the time column before the bar: `  12.3 s  `. */
const TIME = 10;

/** The scale over the bar: -60 to 0 dBFS every 10 dB, each figure ending over its place in the bar. */
function scale(): string {
  const line = Array.from({ length: TIME + BAR + 1 }, () => ' ');
  for (let k = 0; k <= 6; k++) {
    const label = String(-60 + 10 * k);
    const end = TIME + (BAR / 6) * k;
    for (let i = 0; i < label.length; i++) line[end - label.length + 1 + i] = label[i]!;
  }
  return `${line.join('')}  dBFS (bar: RMS)`;
}

/**
 * `lk-audio meters [--device <mic>] [--seconds N] [--interval-ms 100] [--json]`: the microphone's level as a capture
 * publishes it (no processing), until Ctrl-C or N seconds. On a terminal one line is redrawn in place under a dBFS
 * scale; otherwise (or with --json) one line per interval.
 */
export function metersCommand() {
  return new Command('meters')
    .description("show a microphone's level (RMS and peak dBFS) until Ctrl-C or --seconds")
    .option('--device <mic>', deviceOptionHelp('audioinput'))
    .option(
      '--seconds <s>',
      'stop after this long (default: at Ctrl-C)',
      numberInRange(0, 86400, 's', { aboveMin: true }),
    )
    .option(
      '--interval-ms <ms>',
      'one reading per interval, a multiple of 10 ms',
      numberInRange(10, 10000, 'ms', { step: 10 }),
      100,
    )
    .option(
      '--json',
      'one JSON line per interval: {seconds, rmsDbfs, peakDbfs} (null below -100 dBFS: silence)',
    )
    .action(async (options) => {
      const devices = new MediaDevices();
      const device = resolveDevice(devices, 'audioinput', options.device, '--device');
      const capture = devices.openInput({
        inputDevice: device.id,
        enableAec: false,
        noiseSuppression: false,
        highPassFilter: false,
        autoGainControl: false,
      });
      const framesPerLine = options.intervalMs / 10;
      const lines =
        options.seconds === undefined
          ? Infinity
          : Math.round((options.seconds * 1000) / options.intervalMs);
      const window = new Int16Array((capture.sampleRate / 100) * framesPerLine);
      const live = new StatusLine(process.stdout);
      const inPlace = live.active && !options.json;
      if (!options.json) {
        console.log(
          `${capture.device.name} [${capture.device.id}]  RMS / peak dBFS  (Ctrl-C ends)`,
        );
        if (inPlace) console.log(scale());
      }
      let frames = 0;
      let printed = 0;
      try {
        await waitForInterrupt((done, fail) => {
          capture.once('error', fail);
          capture.on('frame', (frame: AudioFrame) => {
            window.set(frame.data, (frames % framesPerLine) * frame.data.length);
            if (++frames % framesPerLine !== 0) return;
            const { rmsDbfs, peakDbfs } = levelsDbfs(window);
            const seconds = frames / 100;
            if (options.json) {
              console.log(
                JSON.stringify({
                  seconds,
                  rmsDbfs: jsonDbfs(rmsDbfs),
                  peakDbfs: jsonDbfs(peakDbfs),
                }),
              );
            } else {
              const text =
                `${seconds.toFixed(1).padStart(6)} s  ${levelBar(rmsDbfs, BAR)}  ` +
                (rmsDbfs < -100 ? 'silence' : `${formatDbfs(rmsDbfs)} / ${formatDbfs(peakDbfs)}`);
              if (inPlace) live.update(text);
              else console.log(text);
            }
            if (++printed >= lines) done();
          });
        });
      } finally {
        if (inPlace && printed > 0) process.stdout.write('\n');
        await capture.aclose();
        await dispose();
      }
    });
}
