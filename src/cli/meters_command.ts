import { parseArgs } from 'node:util';
import { dispose, type AudioFrame } from '@livekit/rtc-node';
import { MediaDevices } from '../media_devices.js';
import { CliUsageError } from './cli_usage_error.js';
import { parseDevice } from './device_option.js';
import { levelsDbfs } from './levels.js';

function bar(dbfs: number): string {
  const width = 40; // one character per 1.5 dB, from -60 dBFS
  const filled = Math.max(0, Math.min(width, Math.round((dbfs + 60) / 1.5)));
  return '#'.repeat(filled) + '.'.repeat(width - filled);
}

/**
 * `lk-audio meters [--device <mic>] [--seconds N] [--interval-ms 100] [--json]`: the microphone's level as a capture
 * publishes it (no processing), one line per interval, until Ctrl-C or N seconds.
 */
export async function runMeters(args: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      device: { type: 'string' },
      seconds: { type: 'string' },
      'interval-ms': { type: 'string', default: '100' },
      json: { type: 'boolean', default: false },
    },
  });
  if (positionals.length > 0) throw new CliUsageError('meters takes no file');
  const intervalMs = Number(values['interval-ms']);
  if (!Number.isInteger(intervalMs) || intervalMs < 10 || intervalMs % 10 !== 0)
    throw new CliUsageError('--interval-ms must be a multiple of 10 ms');
  const seconds = values.seconds === undefined ? Infinity : Number(values.seconds);
  if (!(seconds > 0)) throw new CliUsageError(`--seconds must be above 0, not ${values.seconds}`);

  const capture = new MediaDevices().openInput({
    inputDevice: parseDevice(values.device),
    enableAec: false,
    noiseSuppression: false,
    highPassFilter: false,
    autoGainControl: false,
  });
  const framesPerLine = intervalMs / 10;
  const lines = Math.round((seconds * 1000) / intervalMs);
  const window = new Int16Array((capture.sampleRate / 100) * framesPerLine);
  let frames = 0;
  let printed = 0;
  if (!values.json) console.log(`${capture.device.name} [${capture.device.id}]  RMS / peak dBFS`);
  // Ctrl-C ends the metering (and closes the device) instead of killing the process.
  let stop = (): void => {};
  const onInterrupt = (): void => stop();
  process.once('SIGINT', onInterrupt);
  try {
    await new Promise<void>((resolve, reject) => {
      stop = resolve;
      capture.once('error', reject);
      capture.on('frame', (frame: AudioFrame) => {
        window.set(frame.data, (frames % framesPerLine) * frame.data.length);
        if (++frames % framesPerLine !== 0) return;
        const { rmsDbfs, peakDbfs } = levelsDbfs(window);
        const at = (frames * 10) / 1000;
        if (values.json) console.log(JSON.stringify({ seconds: at, rmsDbfs, peakDbfs }));
        else
          console.log(
            `${at.toFixed(1).padStart(6)} s  ${bar(rmsDbfs)}  ${rmsDbfs.toFixed(1)} / ${peakDbfs.toFixed(1)}`,
          );
        if (++printed >= lines) resolve();
      });
    });
  } finally {
    process.off('SIGINT', onInterrupt);
    await capture.aclose();
    await dispose();
  }
}
