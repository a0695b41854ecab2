/**
 * Continuity of recorded audio, window by window, and how long the event loop was starved meanwhile: a player or a
 * capture with periodic dropouts shows silent windows that a loaded machine alone does not explain.
 * No devices here.
 */
import { performance } from 'node:perf_hooks';
import { firstSampleAbove, sineRmsDbfs, toneLevelDbfs } from './signal.js';

/**
 * Milliseconds of 1 ms blocks in [from, to) whose every sample stays below `threshold` (int16 units): the gaps in
 * a tone. Choose the threshold well below the tone's peak (a quarter of it, say): a 1 ms block of any tone above
 * 250 Hz always holds samples above that.
 */
export function silentMs(
  samples: Int16Array,
  rate: number,
  threshold: number,
  from = 0,
  to = samples.length,
): number {
  const block = Math.round(rate / 1000);
  let silent = 0;
  for (let b = from; b + block <= to; b += block) {
    let loud = false;
    for (let i = b; i < b + block && !loud; i++) loud = Math.abs(samples[i]!) >= threshold;
    if (!loud) silent++;
  }
  return silent;
}

/** First and last sample (index) whose magnitude reaches `threshold` in [from, to), or undefined if none does. */
export function audibleSpan(
  samples: Int16Array,
  threshold: number,
  from = 0,
  to = samples.length,
): { first: number; last: number } | undefined {
  const first = firstSampleAbove(samples.subarray(0, to), threshold, from);
  if (first < 0) return undefined;
  let last = to - 1;
  while (Math.abs(samples[last]!) < threshold) last--;
  return { first, last };
}

/** What {@link heardTone} found. */
export interface HeardTone {
  /** First and last sample (index) at a quarter of the tone's peak or above. */
  first: number;
  last: number;
  /** How long the tone sounded (ms): the 1 ms blocks from first to last, less the silent ones. */
  soundingMs: number;
  /** Its longest stretch without a gap (see {@link longestGapless}): where its pitch can be measured. */
  gapless: { from: number; to: number };
  /** Its 20 ms windows from first to last, less `edgeMs` at each end (fades). */
  windows: ToneWindows;
}

/**
 * A tone of `hz` and peak `peakDbfs` played once, as recorded: where it is, how long it sounded and its level
 * window by window (see {@link toneWindows}). A gap in the middle (the player starved, then went on where it
 * was) does not count towards the sounding time, so a tone of the right length sounds for that length even when
 * it was interrupted. Undefined when nothing reaches a quarter of the peak.
 */
export function heardTone(
  samples: Int16Array,
  rate: number,
  hz: number,
  peakDbfs: number,
  edgeMs = 100,
): HeardTone | undefined {
  const threshold = (32768 * 10 ** (peakDbfs / 20)) / 4;
  const span = audibleSpan(samples, threshold);
  if (!span) return undefined;
  const { first, last } = span;
  const edge = Math.round((rate * edgeMs) / 1000);
  const blockMs = Math.floor((last + 1 - first) / Math.round(rate / 1000));
  return {
    first,
    last,
    soundingMs: blockMs - silentMs(samples, rate, threshold, first, last + 1),
    gapless: longestGapless(samples, rate, threshold, first, last + 1),
    windows: toneWindows(samples, rate, hz, sineRmsDbfs(peakDbfs), threshold, {
      from: first + edge,
      to: last + 1 - edge,
    }),
  };
}

/**
 * The longest stretch of [from, to) without a silent 1 ms block (see {@link silentMs}), as sample indices: where a
 * tone's pitch can be measured, since a gap shifts the phase of all that follows it.
 */
export function longestGapless(
  samples: Int16Array,
  rate: number,
  threshold: number,
  from = 0,
  to = samples.length,
): { from: number; to: number } {
  const block = Math.round(rate / 1000);
  let best = { from, to: from };
  let start = from;
  for (let b = from; b + block <= to; b += block) {
    if (silentMs(samples, rate, threshold, b, b + block) > 0) start = b + block;
    else if (b + block - start > best.to - best.from) best = { from: start, to: b + block };
  }
  return best;
}

/** What {@link toneWindows} found. */
export interface ToneWindows {
  /** Whole windows in the span. */
  windows: number;
  /** Windows with a silent 1 ms block (a gap): left out of the level check. */
  gapped: number;
  /** Silent 1 ms blocks in the span (ms). */
  silentMs: number;
  /** Largest |level - expected| (dB) over the windows without a gap (0 when there are none). */
  worstDeviationDb: number;
  /** Level of each window without a gap (dBFS), in order. */
  levelsDbfs: number[];
}

/**
 * A steady tone checked window by window over [from, to): each `windowMs` window's level of `hz` (Goertzel, so
 * other tones in the mix do not count) against `expectedDbfs` (its RMS), and the silent 1 ms blocks (all samples
 * below `threshold`). A dropout shows as silence; a level error in any window shows in `worstDeviationDb`.
 */
export function toneWindows(
  samples: Int16Array,
  rate: number,
  hz: number,
  expectedDbfs: number,
  threshold: number,
  {
    from = 0,
    to = samples.length,
    windowMs = 20,
  }: { from?: number; to?: number; windowMs?: number } = {},
): ToneWindows {
  const size = Math.round((rate * windowMs) / 1000);
  const result: ToneWindows = {
    windows: 0,
    gapped: 0,
    silentMs: silentMs(samples, rate, threshold, from, to),
    worstDeviationDb: 0,
    levelsDbfs: [],
  };
  for (let at = from; at + size <= to; at += size) {
    result.windows++;
    if (silentMs(samples, rate, threshold, at, at + size) > 0) {
      result.gapped++;
      continue;
    }
    const level = toneLevelDbfs(samples.subarray(at, at + size), rate, hz);
    result.levelsDbfs.push(level);
    result.worstDeviationDb = Math.max(result.worstDeviationDb, Math.abs(level - expectedDbfs));
  }
  return result;
}

/** Starvation of this thread's event loop, as a running {@link starvationProbe} saw it. */
export interface Starvation {
  /** The 1 ms timer's gaps beyond 10 ms, summed (ms). */
  starvedMs: number;
  /** The longest gap between two ticks (ms). */
  maxGapMs: number;
  /** Each gap beyond 10 ms, less those 10 ms (ms), in order: what {@link starvedMs} sums. */
  episodesMs: number[];
}

/**
 * How many `windowMs` windows of a recording the starvation can have disturbed: one stall of e ms silences at most
 * e ms in one run, which touches at most ceil(e / windowMs) + 1 windows (it may straddle the edges of two).
 */
export function windowsDisturbedBy(starvation: Starvation, windowMs: number): number {
  return starvation.episodesMs.reduce((sum, e) => sum + Math.ceil(e / windowMs) + 1, 0);
}

/**
 * Measures how long this thread's event loop was unavailable from now on: a 1 ms interval timer's gaps beyond
 * 10 ms, summed, and the longest gap. `read()` gives the figures so far, `stop()` the final ones.
 */
export function starvationProbe(): { read(): Starvation; stop(): Starvation } {
  let last = performance.now();
  let starvedMs = 0;
  let maxGapMs = 0;
  const episodesMs: number[] = [];
  const tick = (): void => {
    const now = performance.now();
    const gap = now - last;
    last = now;
    maxGapMs = Math.max(maxGapMs, gap);
    if (gap > 10) {
      starvedMs += gap - 10;
      episodesMs.push(gap - 10);
    }
  };
  const timer = setInterval(tick, 1);
  const figures = (): Starvation => ({ starvedMs, maxGapMs, episodesMs: [...episodesMs] });
  return {
    read() {
      tick();
      return figures();
    },
    stop() {
      tick();
      clearInterval(timer);
      return figures();
    },
  };
}
