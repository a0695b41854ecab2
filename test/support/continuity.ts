/**
 * Continuity of recorded audio, window by window, and how long the event loop was starved meanwhile: a player or a
 * capture with periodic dropouts shows silent windows that a loaded machine alone does not explain.
 * No devices here.
 */
import { performance } from 'node:perf_hooks';
import { toneLevelDbfs } from './signal.js';

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
}

/**
 * Measures how long this thread's event loop was unavailable from now on: a 1 ms interval timer's gaps beyond
 * 10 ms, summed, and the longest gap. `read()` gives the figures so far, `stop()` the final ones.
 */
export function starvationProbe(): { read(): Starvation; stop(): Starvation } {
  let last = performance.now();
  let starvedMs = 0;
  let maxGapMs = 0;
  const tick = (): void => {
    const now = performance.now();
    const gap = now - last;
    last = now;
    maxGapMs = Math.max(maxGapMs, gap);
    starvedMs += Math.max(0, gap - 10);
  };
  const timer = setInterval(tick, 1);
  return {
    read() {
      tick();
      return { starvedMs, maxGapMs };
    },
    stop() {
      tick();
      clearInterval(timer);
      return { starvedMs, maxGapMs };
    },
  };
}
