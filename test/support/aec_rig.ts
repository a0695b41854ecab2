/**
 * Helpers for the end-to-end echo cancellation test (test/echo_cancellation.test.ts): speech from espeak-ng, a
 * far end as an AsyncIterable of frames, sample-exact alignment of two recordings, and per-block levels.
 * No devices here: the rig side is in ./rig.js.
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { AudioFrame } from '@livekit/rtc-node';
import { readWav } from '../../src/wav.js';
import { erleFromEnergies, rmsDbfs } from './signal.js';

/**
 * Speech from espeak-ng (22.05 kHz), resampled by sox to `rate` mono, as int16 samples.
 * @param dir a scratch directory for the WAV files
 */
export async function speech(
  dir: string,
  name: string,
  text: string,
  voice: string,
  rate = 48000,
): Promise<Int16Array> {
  const raw = join(dir, `${name}-raw.wav`);
  const wav = join(dir, `${name}.wav`);
  execFileSync('espeak-ng', ['-v', voice, '-w', raw, text]);
  execFileSync('sox', [raw, '-r', String(rate), '-b', '16', wav]);
  const audio = await readWav(wav);
  if (audio.sampleRate !== rate || audio.channels !== 1) {
    throw new Error(
      `${wav}: expected ${rate} Hz mono, got ${audio.sampleRate} Hz ${audio.channels} ch`,
    );
  }
  return audio.samples;
}

/**
 * Mono samples as a pulled stream of 10 ms AudioFrames (the last one zero-padded), each on its own buffer
 * (rtc-node's AudioFrame ignores a view's byteOffset).
 */
export async function* framesOf(samples: Int16Array, rate: number): AsyncGenerator<AudioFrame> {
  const size = rate / 100;
  for (let at = 0; at < samples.length; at += size) {
    const data = new Int16Array(size);
    data.set(samples.subarray(at, Math.min(at + size, samples.length)));
    yield new AudioFrame(data, rate, 1, size);
  }
}

/** A linear chirp (mono int16) from `f0` to `f1` Hz with a Hann envelope: an easy, unambiguous alignment mark. */
export function chirpInt16(
  rate: number,
  durationMs: number,
  f0: number,
  f1: number,
  peakDbfs: number,
): Int16Array {
  const n = Math.round((rate * durationMs) / 1000);
  const amplitude = 32767 * 10 ** (peakDbfs / 20);
  const out = new Int16Array(n);
  for (let i = 0; i < n; i++) {
    const t = i / rate;
    const phase = 2 * Math.PI * (f0 * t + ((f1 - f0) * t * t) / (2 * (n / rate)));
    const env = 0.5 - 0.5 * Math.cos((2 * Math.PI * i) / (n - 1));
    out[i] = Math.round(amplitude * env * Math.sin(phase));
  }
  return out;
}

/**
 * The lag (samples) at which `reference` best matches `signal`: the `lag` in [lo, hi] maximising the normalised
 * cross-correlation of reference[i] with signal[i + lag]. Searches every `step`-th lag first, then refines around
 * the best one sample by sample.
 * @returns the lag and its normalised correlation (1 for an exact, scaled copy)
 */
export function bestLag(
  reference: Int16Array,
  signal: Int16Array,
  lo: number,
  hi: number,
  step = 4,
): { lag: number; correlation: number } {
  let refEnergy = 0;
  for (const v of reference) refEnergy += v * v;
  const score = (lag: number): number => {
    let dot = 0;
    let energy = 0;
    for (let i = 0; i < reference.length; i++) {
      const s = signal[i + lag] ?? 0;
      dot += reference[i]! * s;
      energy += s * s;
    }
    return energy > 0 && refEnergy > 0 ? dot / Math.sqrt(refEnergy * energy) : 0;
  };
  let best = lo;
  let bestScore = -Infinity;
  for (let lag = lo; lag <= hi; lag += step) {
    const s = score(lag);
    if (s > bestScore) [best, bestScore] = [lag, s];
  }
  const coarse = best;
  for (let lag = Math.max(lo, coarse - step); lag <= Math.min(hi, coarse + step); lag++) {
    const s = score(lag);
    if (s > bestScore) [best, bestScore] = [lag, s];
  }
  return { lag: best, correlation: bestScore };
}

/** `samples` moved by `shift` samples into an array of `length` (out[i] = samples[i - shift]; zeros outside). */
export function shifted(samples: Int16Array, shift: number, length: number): Int16Array {
  const out = new Int16Array(length);
  for (let i = Math.max(0, shift); i < length && i - shift < samples.length; i++) {
    out[i] = samples[i - shift]!;
  }
  return out;
}

/** Sample-wise a - b, as float (no clipping). */
export function difference(a: Int16Array, b: Int16Array): Float64Array {
  const out = new Float64Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i]! - (b[i] ?? 0);
  return out;
}

/** RMS level (dBFS) of each whole block of `block` samples in [start, end). */
export function blockLevels(
  samples: Int16Array | Float64Array,
  start: number,
  end: number,
  block: number,
): number[] {
  const out: number[] = [];
  for (let b = start; b + block <= end; b += block) {
    if (samples instanceof Int16Array) {
      out.push(rmsDbfs(samples, b, b + block));
    } else {
      let sum = 0;
      for (let i = b; i < b + block; i++) sum += samples[i]! * samples[i]!;
      out.push(10 * Math.log10(sum / block / (32768 * 32768)));
    }
  }
  return out;
}

/** Median of numbers (NaN for none). */
export function median(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  const s = [...values].sort((x, y) => x - y);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Index of the first sample at or after `from` whose magnitude reaches `threshold`, or -1. */
export function firstAbove(
  samples: Int16Array | Float64Array,
  threshold: number,
  from = 0,
): number {
  for (let i = Math.max(0, from); i < samples.length; i++) {
    if (Math.abs(samples[i]!) >= threshold) return i;
  }
  return -1;
}

/** Index just after the last sample whose magnitude reaches `threshold`, or 0. */
export function endAbove(samples: Int16Array | Float64Array, threshold: number): number {
  for (let i = samples.length - 1; i >= 0; i--)
    if (Math.abs(samples[i]!) >= threshold) return i + 1;
  return 0;
}

/**
 * Echo return loss enhancement (dB) like signal.ts `erleDb`, over the blocks of [start, end) whose microphone
 * level reaches `minDbfs` and whose processed samples are all `present` (a frame the capture dropped is no
 * measurement). Also returns how many blocks counted and how many echo-bearing blocks were left out as missing.
 * Throws, like `erleDb`, when no block counts or the output over the counted blocks is near-silent.
 */
export function maskedErleDb(
  mic: Int16Array,
  out: Int16Array,
  present: Uint8Array,
  start: number,
  end: number,
  block: number,
  minDbfs: number,
): { erleDb: number; blocks: number; missing: number } {
  let micEnergy = 0;
  let outEnergy = 0;
  let blocks = 0;
  let missing = 0;
  for (let b = Math.max(0, start); b + block <= Math.min(end, mic.length); b += block) {
    if (rmsDbfs(mic, b, b + block) < minDbfs) continue;
    if (!allPresent(present, b, b + block)) {
      missing++;
      continue;
    }
    blocks++;
    for (let i = b; i < b + block; i++) {
      micEnergy += mic[i]! * mic[i]!;
      outEnergy += out[i]! * out[i]!;
    }
  }
  return {
    erleDb: erleFromEnergies(micEnergy, outEnergy, blocks * block, 'maskedErleDb'),
    blocks,
    missing,
  };
}

/** Whether every sample of [start, end) is marked present. */
export function allPresent(present: Uint8Array, start: number, end: number): boolean {
  for (let i = start; i < end; i++) if (!present[i]) return false;
  return true;
}

/** `shifted` for a presence mask. */
export function shiftedMask(mask: Uint8Array, shift: number, length: number): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = Math.max(0, shift); i < length && i - shift < mask.length; i++)
    out[i] = mask[i - shift]!;
  return out;
}
