import { constants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Command } from '@commander-js/extra-typings';
import { dispose, type AudioFrame } from '@livekit/rtc-node';
import { MediaDevices } from '../media_devices.js';
import type { OutputPlayer } from '../output_player.js';
import { writeWav } from '../wav.js';
import { wavFrames } from '../wav_frames.js';
import { CliUsageError } from './cli_usage_error.js';
import { runCleanup } from './run_cleanup.js';
import { deviceOptionHelp, resolveDevice } from './device_option.js';
import { levelsDbfs, round1 } from './levels.js';
import { numberInRange } from './number_option.js';

const RATE = 48000;
const FRAME = RATE / 100;
// The canceller converges within this (ms of far end); the measure starts after it.
const SETTLE_MS = 2000;
/** An echo return below this (dB of the far end) is no echo: the microphone did not pick the speaker up. */
const NO_ECHO_BELOW_DB = -60;

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
  /** Everything the microphone gave while the far end played (as the capture published it). */
  mic: Int16Array;
  /** Stream delay the canceller was given for the last frame, and its parts (ms). */
  streamDelayMs: number;
  renderDelayMs: number;
  captureDelayMs: number;
}

/** Plays the far end on the speaker while capturing the microphone, with or without echo cancellation. */
async function run(
  far: Int16Array,
  aec: boolean,
  input: string,
  output: string,
): Promise<RunResult> {
  const devices = new MediaDevices({ inputSampleRate: RATE, outputSampleRate: RATE });
  const capture = devices.openInput({
    inputDevice: input,
    enableAec: aec,
    noiseSuppression: false,
    highPassFilter: false,
    autoGainControl: false,
  });
  let player: OutputPlayer;
  try {
    player = devices.openOutput({ outputDevice: output });
  } catch (error) {
    await capture.aclose();
    throw error;
  }
  const heard: Int16Array[] = [];
  let started = false;
  capture.on('frame', (frame: AudioFrame) => {
    if (started) heard.push(frame.data.slice());
  });
  try {
    await player.start();
    const ended = new Promise<void>((resolve, reject) => {
      player.once('streamEnded', () => resolve());
      player.once('error', reject);
      capture.once('error', reject);
    });
    player.addStream(wavFrames({ sampleRate: RATE, channels: 1, samples: far }));
    started = true;
    await ended;
  } finally {
    await runCleanup([() => player.aclose(), () => capture.aclose()], 'closing the devices');
  }
  const mic = new Int16Array(heard.length * FRAME);
  heard.forEach((m, i) => mic.set(m, i * FRAME));
  return {
    micDbfs: levelsDbfs(mic.subarray((SETTLE_MS / 10) * FRAME)).rmsDbfs,
    mic,
    streamDelayMs: capture.stats.streamDelayMs,
    renderDelayMs: capture.delayEstimator.renderDelayMs,
    captureDelayMs: capture.delayEstimator.captureDelayMs,
  };
}

/**
 * `lk-audio echo-test [--input <mic>] [--output <speaker>] [--seconds 6] [--json] [--out-dir DIR]`: plays a test
 * signal on the speaker twice, capturing the microphone without and then with echo cancellation, and reports how
 * loud the echo comes back and how much of it the canceller removes (ERLE, from 2 s in), or that no echo came back.
 */
export function echoTestCommand() {
  return new Command('echo-test')
    .description(
      'play noise bursts on a speaker and measure the echo on a microphone, without and with AEC',
    )
    .option('--input <mic>', deviceOptionHelp('audioinput'))
    .option('--output <speaker>', deviceOptionHelp('audiooutput'))
    .option(
      '--seconds <s>',
      'length of each of the two runs, 3 to 600 s',
      numberInRange(3, 600, 's'),
      6,
    )
    .option('--json', 'print the result as JSON (dB and ms to 0.1; null when no echo came back)')
    .option(
      '--out-dir <dir>',
      'write far.wav, mic-aec-off.wav (raw) and mic-aec-on.wav (processed) there',
    )
    .action(async (options) => {
      const devices = new MediaDevices();
      const input = resolveDevice(devices, 'audioinput', options.input, '--input');
      const output = resolveDevice(devices, 'audiooutput', options.output, '--output');
      if (options.outDir !== undefined) await checkDirectory(options.outDir);
      const seconds = options.seconds;
      const far = farEndSignal(seconds);
      const farDbfs = levelsDbfs(far.subarray(Math.round((SETTLE_MS / 1000) * RATE))).rmsDbfs;
      console.error(
        `echo-test: playing ${seconds} s of noise bursts at ${farDbfs.toFixed(0)} dBFS on ${output.name} twice ` +
          `(AEC off, then on), listening on ${input.name}; mind the volume`,
      );
      try {
        const off = await run(far, false, input.id, output.id);
        const on = await run(far, true, input.id, output.id);
        if (options.outDir !== undefined) {
          const file = (name: string) => join(options.outDir!, name);
          await writeWav(file('far.wav'), { sampleRate: RATE, channels: 1, samples: far });
          await writeWav(file('mic-aec-off.wav'), {
            sampleRate: RATE,
            channels: 1,
            samples: off.mic,
          });
          await writeWav(file('mic-aec-on.wav'), {
            sampleRate: RATE,
            channels: 1,
            samples: on.mic,
          });
        }
        const echoReturnDb = off.micDbfs - farDbfs;
        const heard = echoReturnDb >= NO_ECHO_BELOW_DB;
        const result = {
          echoHeard: heard,
          echoReturnDb: heard ? round1(echoReturnDb) : null,
          erleDb: heard ? round1(off.micDbfs - on.micDbfs) : null,
          streamDelayMs: on.streamDelayMs,
          renderDelayMs: round1(on.renderDelayMs),
          captureDelayMs: round1(on.captureDelayMs),
        };
        if (options.json) {
          console.log(JSON.stringify(result));
          return;
        }
        if (result.echoReturnDb === null || result.erleDb === null) {
          console.log(
            `no echo heard: the microphone stayed more than ${-NO_ECHO_BELOW_DB} dB below the far end ` +
              '(nothing to cancel; ERLE not measured)',
          );
        } else {
          console.log(
            `echo comes back at ${result.echoReturnDb.toFixed(1)} dB of the far end (AEC off)\n` +
              `echo cancellation removes ${result.erleDb.toFixed(1)} dB of it (ERLE, from 2 s in)\n` +
              'ERLE (echo return loss enhancement): how much quieter the echo is with AEC on; 20 dB or more is good',
          );
        }
        console.log(
          `stream delay given to the canceller: ${result.streamDelayMs} ms ` +
            `(render ${result.renderDelayMs.toFixed(1)} + capture ${result.captureDelayMs.toFixed(1)})`,
        );
        if (options.outDir !== undefined)
          console.log(`wrote far.wav, mic-aec-off.wav, mic-aec-on.wav to ${options.outDir}`);
      } finally {
        await dispose();
      }
    });
}

/** Fails before the test (not after 2 runs) when `--out-dir` is not a writable directory. */
async function checkDirectory(dir: string): Promise<void> {
  try {
    if (!(await stat(dir)).isDirectory())
      throw new CliUsageError(`--out-dir ${dir} is not a directory`);
    await access(dir, constants.W_OK);
  } catch (error) {
    if (error instanceof CliUsageError) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT')
      throw new CliUsageError(`--out-dir ${dir}: no such directory`, 'create it first');
    if (code === 'EACCES') throw new CliUsageError(`--out-dir ${dir}: permission denied`);
    throw error;
  }
}
