import { parseArgs } from 'node:util';
import { dispose, type AudioFrame } from '@livekit/rtc-node';
import { MediaDevices } from '../media_devices.js';
import { writeWav } from '../wav.js';
import { CliUsageError } from './cli_usage_error.js';
import { parseDevice } from './device_option.js';

/**
 * `lk-audio record <out.wav> [--seconds 5] [--device <mic>] [--rate 48000] [--ns] [--hpf] [--agc]`: records the
 * microphone as the capture publishes it (10 ms frames, the processing asked for; none by default).
 */
export async function runRecord(args: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      device: { type: 'string' },
      seconds: { type: 'string', default: '5' },
      rate: { type: 'string', default: '48000' },
      ns: { type: 'boolean', default: false },
      hpf: { type: 'boolean', default: false },
      agc: { type: 'boolean', default: false },
    },
  });
  if (positionals.length !== 1) throw new CliUsageError('record takes one output WAV file');
  const seconds = Number(values.seconds);
  if (!(seconds > 0 && seconds <= 3600))
    throw new CliUsageError(`--seconds must be from 0 to 3600, not ${values.seconds}`);
  const rate = Number(values.rate);
  const devices = new MediaDevices({ inputSampleRate: rate });
  const capture = devices.openInput({
    inputDevice: parseDevice(values.device),
    enableAec: false,
    noiseSuppression: values.ns,
    highPassFilter: values.hpf,
    autoGainControl: values.agc,
  });
  const wanted = Math.round(seconds * rate);
  const frames: Int16Array[] = [];
  let got = 0;
  try {
    await new Promise<void>((resolve, reject) => {
      capture.once('error', reject);
      capture.on('frame', (frame: AudioFrame) => {
        if (got >= wanted) return;
        const take = Math.min(frame.samplesPerChannel, wanted - got);
        frames.push(frame.data.slice(0, take * frame.channels));
        got += take;
        if (got >= wanted) resolve();
      });
    });
  } finally {
    await capture.aclose();
    await dispose();
  }
  const samples = new Int16Array(got);
  let at = 0;
  for (const f of frames) {
    samples.set(f, at);
    at += f.length;
  }
  await writeWav(positionals[0]!, { sampleRate: rate, channels: 1, samples });
  const { framesDropped, deviceDroppedFrames } = capture.stats;
  console.log(
    `recorded ${(got / rate).toFixed(2)} s from ${capture.device.name} [${capture.device.id}] to ${positionals[0]}` +
      ` (${framesDropped} frames dropped, ${deviceDroppedFrames} samples lost)`,
  );
}
