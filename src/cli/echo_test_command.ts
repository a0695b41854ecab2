import { parseArgs } from 'node:util';
import { dispose, type AudioFrame } from '@livekit/rtc-node';
import { MediaDevices } from '../media_devices.js';
import { wavFrames } from '../wav_frames.js';
import { CliUsageError } from './cli_usage_error.js';
import { parseDevice } from './device_option.js';
import { levelsDbfs } from './levels.js';

const RATE = 48000;
const FRAME = RATE / 100;
// The canceller converges within this (ms of far end); the measure starts after it.
const SETTLE_MS = 2000;

/**
 * Far-end test signal: white noise at -20 dBFS RMS in 400 ms bursts with 200 ms gaps, like speech turning on and
 * off (the canceller must hold through the gaps). Deterministic, so two runs play the same audio.
 */
function farEndSignal(seconds: number): Int16Array {
  const out = new Int16Array(Math.round(seconds * RATE));
  let seed = 12345;
  const sigma = 32768 * 10 ** (-20 / 20);
  for (let i = 0; i < out.length; i++) {
    if (i % (0.6 * RATE) >= 0.4 * RATE) continue;
    // Sum of four uniforms: near-Gaussian, with unit variance after scaling.
    let sum = 0;
    for (let k = 0; k < 4; k++) {
      seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
      sum += seed / 2 ** 32 - 0.5;
    }
    out[i] = Math.max(-32768, Math.min(32767, Math.round(sigma * sum * Math.sqrt(3))));
  }
  return out;
}

interface RunResult {
  /** RMS of the microphone from SETTLE_MS after the far end started to its end (dBFS). */
  micDbfs: number;
  /** Stream delay the canceller was given for the last frame, and its parts (ms). */
  streamDelayMs: number;
  renderDelayMs: number;
  captureDelayMs: number;
}

/** Plays the far end on the speaker while capturing the microphone, with or without echo cancellation. */
async function run(
  far: Int16Array,
  aec: boolean,
  inputDevice: string | number | undefined,
  outputDevice: string | number | undefined,
): Promise<RunResult> {
  const devices = new MediaDevices({ inputSampleRate: RATE, outputSampleRate: RATE });
  const capture = devices.openInput({
    inputDevice,
    enableAec: aec,
    noiseSuppression: false,
    highPassFilter: false,
    autoGainControl: false,
  });
  const player = devices.openOutput({ outputDevice });
  const measured: Int16Array[] = [];
  let framesSinceStart = -1;
  capture.on('frame', (frame: AudioFrame) => {
    if (framesSinceStart < 0) return;
    if (++framesSinceStart * 10 > SETTLE_MS) measured.push(frame.data.slice());
  });
  try {
    await player.start();
    const ended = new Promise<void>((resolve, reject) => {
      player.once('streamEnded', () => resolve());
      player.once('error', reject);
      capture.once('error', reject);
    });
    player.addStream(wavFrames({ sampleRate: RATE, channels: 1, samples: far }));
    framesSinceStart = 0;
    await ended;
  } finally {
    await player.aclose();
    await capture.aclose();
  }
  const samples = new Int16Array(measured.length * FRAME);
  measured.forEach((m, i) => samples.set(m, i * FRAME));
  return {
    micDbfs: levelsDbfs(samples).rmsDbfs,
    streamDelayMs: capture.stats.streamDelayMs,
    renderDelayMs: capture.delayEstimator.renderDelayMs,
    captureDelayMs: capture.delayEstimator.captureDelayMs,
  };
}

/**
 * `lk-audio echo-test [--input <mic>] [--output <speaker>] [--seconds 6] [--json]`: plays a test signal on the
 * speaker twice, capturing the microphone without and then with echo cancellation, and reports how loud the echo
 * comes back and how much of it the canceller removes (ERLE, from 2 s in).
 */
export async function runEchoTest(args: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      input: { type: 'string' },
      output: { type: 'string' },
      seconds: { type: 'string', default: '6' },
      json: { type: 'boolean', default: false },
    },
  });
  if (positionals.length > 0) throw new CliUsageError('echo-test takes no file');
  const seconds = Number(values.seconds);
  if (!(seconds >= 3 && seconds <= 600))
    throw new CliUsageError(`--seconds must be from 3 to 600, not ${values.seconds}`);
  const far = farEndSignal(seconds);
  const farDbfs = levelsDbfs(far.subarray(Math.round((SETTLE_MS / 1000) * RATE))).rmsDbfs;
  const input = parseDevice(values.input);
  const output = parseDevice(values.output);
  try {
    const off = await run(far, false, input, output);
    const on = await run(far, true, input, output);
    const result = {
      echoReturnDb: off.micDbfs - farDbfs,
      erleDb: off.micDbfs - on.micDbfs,
      streamDelayMs: on.streamDelayMs,
      renderDelayMs: on.renderDelayMs,
      captureDelayMs: on.captureDelayMs,
    };
    if (values.json) {
      console.log(JSON.stringify(result));
      return;
    }
    console.log(
      `echo comes back at ${result.echoReturnDb.toFixed(1)} dB of the far end (AEC off)\n` +
        `echo cancellation removes ${result.erleDb.toFixed(1)} dB of it (ERLE, from 2 s in)\n` +
        `stream delay given to the canceller: ${result.streamDelayMs} ms ` +
        `(render ${result.renderDelayMs.toFixed(1)} + capture ${result.captureDelayMs.toFixed(1)})`,
    );
  } finally {
    await dispose();
  }
}
