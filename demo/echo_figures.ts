/**
 * The demo's figures, computed from what a pass recorded (demo/voice_loop_pass.ts), never from what the package
 * reports about itself: the recordings are aligned to the sample by cross-correlation, the microphone is split into
 * its echo and its near-end talker (the talker reaches the virtual microphone unchanged, so echo = microphone -
 * talker), and levels are compared per 20 ms block.
 */
import { bestLag, median, shifted } from '../test/support/aec_rig.js';
import type { PassRecording } from './voice_loop_pass.js';

const RATE = 48000;
const BLOCK = RATE / 50;
/** Level floor (dBFS): digital silence and anything quieter count as this. */
export const FLOOR_DBFS = -100;
/** The canceller adapts over the far end's first seconds; ERLE is measured from then on. */
export const ERLE_FROM_S = 2;
// A block is echo-only when the talker is this far under the echo (dB), near-end-only when the echo is this far
// under the talker; in between is double talk.
const DOMINANCE_DB = 20;
const ECHO_MIN_DBFS = -60;
const NEAR_MIN_DBFS = -50;
// A near-end block more than this quieter in what is published than the talker was is "badly cut".
const BADLY_CUT_DB = 10;
// Alignment snippets and search windows.
const SNIPPET = RATE / 2;
const PUBLISHED_SEARCH = { earliest: -0.4 * RATE, latest: 0.05 * RATE };
const TALKER_SEARCH = 0.8 * RATE;
const FAR_SEARCH = 1.0 * RATE;
/** Below this correlation at the best lag, two recordings are taken as not aligned (their comparison is NaN). */
export const MIN_ALIGNMENT = 0.5;

/** Levels over time for the plot, on one time axis (s from the far end's start). */
export interface LevelTimeline {
  /** Seconds between points. */
  stepS: number;
  /** Time of the first point (s, negative: before the far end started). */
  startS: number;
  far: number[];
  microphone: number[];
  published: number[];
  /** The near-end talker as it reached the microphone (only with a virtual talker). */
  nearEnd: number[] | undefined;
}

/** How well the near-end talker came through (only with a virtual talker). */
export interface NearEndFigures {
  /** Median level lost per 20 ms block where the talker speaks alone (dB; 0: intact). */
  aloneLossDb: number;
  /** The same while the far end's echo is present too (double talk). */
  doubleTalkLossDb: number;
  /** Share of the talker's blocks published more than 10 dB under the talker's own level (0-1). */
  badlyCutShare: number;
  /** Blocks counted, alone and in double talk. */
  aloneBlocks: number;
  doubleTalkBlocks: number;
  /** When the talker spoke (s from the far end's start). */
  startS: number;
  endS: number;
}

/** The figures of one pass. */
export interface PassFigures {
  aec: boolean;
  /**
   * Echo return loss enhancement (dB): echo power in the microphone over echo power left in what was published,
   * over the echo-only blocks from {@link ERLE_FROM_S} s in. 0 means nothing removed.
   */
  erleDb: number;
  erleBlocks: number;
  /** How loud the echo came back: its level relative to the far end's (dB), and absolute (dBFS). */
  echoReturnDb: number;
  echoDbfs: number;
  /** The echo's delay after the far end was handed to its AudioSource, through the whole chain (ms). */
  farToEchoMs: number;
  nearEnd: NearEndFigures | undefined;
  /** How well the recordings correlated at their alignment (1: exact copies). */
  alignment: { published: number; nearEnd: number | undefined; far: number };
  /** Capture latency, the frame's first sample at the ADC -> the AudioSource (ms): median, p99. */
  captureLatencyMs: { median: number; p99: number };
  /** Playout latency estimate: mixed ahead by the player + handed to the device -> DAC (ms). */
  playoutLatencyMs: number;
  /** Stream delay the echo canceller was given (ms). */
  streamDelayMs: number;
  timeline: LevelTimeline;
}

/** Power of x[from, to) (sum of squares); indices outside read as 0. */
function power(x: ArrayLike<number>, from: number, to: number): number {
  let sum = 0;
  for (let i = Math.max(0, from); i < Math.min(to, x.length); i++) sum += x[i]! * x[i]!;
  return sum;
}

function dbfs(powerSum: number, n: number): number {
  if (powerSum <= 0) return FLOOR_DBFS;
  return Math.max(FLOOR_DBFS, 10 * Math.log10(powerSum / n / (32768 * 32768)));
}

/** Index of the start of the loudest `n`-sample window of x, on a 10 ms grid. */
function loudestWindow(x: Int16Array, n: number, from = 0, to = x.length): number {
  let best = from;
  let bestPower = -1;
  for (let at = from; at + n <= to; at += RATE / 100) {
    const p = power(x, at, at + n);
    if (p > bestPower) [best, bestPower] = [at, p];
  }
  return best;
}

function percentile(values: readonly number[], p: number): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
}

/**
 * Where `x[0]` lies in `signal` (an index into it), searching offsets [lo, hi], by the best-correlating snippet of
 * x's loudest second. Returns the offset and the correlation there.
 */
function locate(
  x: Int16Array,
  signal: Int16Array,
  lo: number,
  hi: number,
): { offset: number; correlation: number } {
  const n = Math.min(SNIPPET, x.length);
  const at = loudestWindow(x, n);
  const { lag, correlation } = bestLag(
    x.subarray(at, at + n),
    signal,
    Math.round(lo + at),
    Math.round(hi + at),
  );
  return { offset: lag - at, correlation };
}

/**
 * Aligns and measures one pass.
 * @param far the far end's samples
 * @param nearEnd the virtual talker's samples, when there was one
 */
export function passFigures(
  pass: PassRecording,
  far: Int16Array,
  nearEnd: Int16Array | undefined,
): PassFigures {
  const { raw } = pass;
  const length = raw.length;

  // The talker in the microphone: it started a little after it was launched (the sound server's buffering).
  let near: Int16Array | undefined;
  let nearCorrelation: number | undefined;
  // Exact (no int16 wrap-around where the server clipped echo + talker); the search takes a clipped copy.
  const echo = Float64Array.from(raw);
  if (nearEnd) {
    const found = locate(nearEnd, raw, pass.nearStartIndex, pass.nearStartIndex + TALKER_SEARCH);
    near = shifted(nearEnd, found.offset, length);
    nearCorrelation = found.correlation;
    for (let i = 0; i < length; i++) echo[i] = raw[i]! - near[i]!;
  }

  // The far end in the microphone's echo: after the track, the player, the device and the room.
  const farFound = locate(
    far,
    Int16Array.from(echo, (v) => Math.max(-32768, Math.min(32767, v))),
    pass.farStartIndex,
    pass.farStartIndex + FAR_SEARCH,
  );
  const farAligned = shifted(far, farFound.offset, length);

  // What was published, moved onto the microphone's timeline, from a snippet where the talker (the virtual one,
  // or on real devices the user, asked to talk from nearStartIndex on) is loudest: the canceller leaves the
  // talker in place, so it correlates in both passes. Where it does not (a user who kept quiet), the figures that
  // compare the two are not given.
  const snippetAt = loudestWindow(near ?? raw, SNIPPET, pass.nearStartIndex);
  const { lag, correlation: publishedCorrelation } = bestLag(
    raw.subarray(snippetAt, snippetAt + SNIPPET),
    pass.published,
    Math.round(snippetAt - pass.publishedStartIndex - PUBLISHED_SEARCH.latest),
    Math.round(snippetAt - pass.publishedStartIndex - PUBLISHED_SEARCH.earliest),
  );
  const published = shifted(pass.published, snippetAt - lag, length);
  const publishedFrom = snippetAt - lag;
  const publishedTo = publishedFrom + pass.published.length;

  // Per 20 ms block, from where the far end's echo starts.
  const erleFrom = farFound.offset + ERLE_FROM_S * RATE;
  const farEnd = farFound.offset + far.length;
  let micEchoPower = 0;
  let publishedEchoPower = 0;
  let erleBlocks = 0;
  let echoPower = 0;
  let farPower = 0;
  let echoBlocks = 0;
  const aloneLoss: number[] = [];
  const doubleTalkLoss: number[] = [];
  let badlyCut = 0;
  for (let b = Math.max(0, farFound.offset); b + BLOCK <= length; b += BLOCK) {
    const e = b + BLOCK;
    const level = (x: ArrayLike<number>): number => dbfs(power(x, b, e), BLOCK);
    const echoDb = level(echo);
    const nearDb = near ? level(near) : FLOOR_DBFS;
    const inPublished = b >= publishedFrom && e <= publishedTo;
    if (b < farEnd && level(farAligned) > -50) {
      echoPower += power(echo, b, e);
      farPower += power(farAligned, b, e);
      echoBlocks++;
    }
    // Without a virtual talker, the user talks from the near-end start on: measure before it.
    const beforeUser = nearEnd !== undefined || b < pass.nearStartIndex;
    if (
      inPublished &&
      beforeUser &&
      b >= erleFrom &&
      echoDb >= ECHO_MIN_DBFS &&
      nearDb <= echoDb - DOMINANCE_DB
    ) {
      micEchoPower += power(raw, b, e);
      publishedEchoPower += power(published, b, e);
      erleBlocks++;
    }
    if (near && inPublished && nearDb >= NEAR_MIN_DBFS) {
      const loss = nearDb - level(published);
      if (echoDb <= nearDb - DOMINANCE_DB) aloneLoss.push(loss);
      else doubleTalkLoss.push(loss);
      if (loss > BADLY_CUT_DB) badlyCut++;
    }
  }

  const nearBlocks = aloneLoss.length + doubleTalkLoss.length;
  const startIndex = Math.max(0, pass.farStartIndex - RATE / 2);
  const seconds = (index: number): number => (index - pass.farStartIndex) / RATE;
  const aligned = publishedCorrelation >= MIN_ALIGNMENT;
  const ifAligned = (value: number): number => (aligned ? value : NaN);
  return {
    aec: pass.aec,
    erleDb: ifAligned(10 * Math.log10(micEchoPower / Math.max(1, publishedEchoPower))),
    erleBlocks,
    echoReturnDb: 10 * Math.log10(echoPower / Math.max(1, farPower)),
    echoDbfs: dbfs(echoPower, echoBlocks * BLOCK),
    farToEchoMs: ((farFound.offset - pass.farStartIndex) / RATE) * 1000,
    nearEnd:
      near && nearEnd
        ? {
            aloneLossDb: ifAligned(median(aloneLoss)),
            doubleTalkLossDb: ifAligned(median(doubleTalkLoss)),
            badlyCutShare: ifAligned(badlyCut / Math.max(1, nearBlocks)),
            aloneBlocks: aloneLoss.length,
            doubleTalkBlocks: doubleTalkLoss.length,
            startS: seconds(pass.nearStartIndex),
            endS: seconds(pass.nearStartIndex + nearEnd.length),
          }
        : undefined,
    alignment: {
      published: publishedCorrelation,
      nearEnd: nearCorrelation,
      far: farFound.correlation,
    },
    captureLatencyMs: {
      median: median(pass.captureLatenciesMs),
      p99: percentile(pass.captureLatenciesMs, 99),
    },
    playoutLatencyMs: pass.mixedAheadMs + pass.renderDelayMs,
    streamDelayMs: pass.streamDelayMs,
    timeline: levelTimeline(startIndex, seconds(startIndex), {
      far: farAligned,
      microphone: raw,
      published,
      nearEnd: near,
    }),
  };
}

/** 50 ms levels (dBFS) of each signal from `startIndex` on. */
function levelTimeline(
  startIndex: number,
  startS: number,
  signals: { far: Int16Array; microphone: Int16Array; published: Int16Array; nearEnd?: Int16Array },
): LevelTimeline {
  const step = RATE / 20;
  const levels = (x: Int16Array): number[] => {
    const out: number[] = [];
    for (let b = startIndex; b + step <= x.length; b += step)
      out.push(dbfs(power(x, b, b + step), step));
    return out;
  };
  return {
    stepS: step / RATE,
    startS,
    far: levels(signals.far),
    microphone: levels(signals.microphone),
    published: levels(signals.published),
    nearEnd: signals.nearEnd ? levels(signals.nearEnd) : undefined,
  };
}
