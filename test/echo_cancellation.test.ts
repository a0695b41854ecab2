/**
 * Echo cancellation end to end through real devices (issue 4).
 *
 * The room is the rig's virtual room (scripts/audio-rig.sh): OutputPlayer -> lk_room_speaker -> the sound server's
 * own echo (a direct echo exactly 50 ms later at -9 dB, then a reverberant tail over 150 ms) -> lk_room_mic ->
 * InputCapture; whatever is played into lk_room_mic_feed is the near end. Being sound-server modules only, the
 * echo path never changes, so its delay is asserted to the sample's width. The far end is espeak-ng speech played
 * with `player.addStream`. The raw microphone is recorded at the same time from outside the package (parec on
 * lk_room_mic), the processed microphone from the capture's `frame` events.
 *
 * Alignment: every run first plays a short chirp straight into the microphone feed, before any far end. It
 * reaches the raw recording and the processed frames alike (no far end yet: the echo canceller passes it), so
 * cross-correlating the chirp in both gives their offset to the sample, including the processing module's own
 * delay. The near-end talker is played in the same pacat stream as the chirp, at a known offset after it, so its
 * exact position in the raw recording is known too (and checked by correlation).
 *
 * ERLE: energy of the raw microphone over energy of the processed microphone, summed over the 20 ms blocks of
 * the span [far-end echo onset + 3 s, end of echo) whose raw level reaches -50 dBFS (the echo-bearing blocks).
 * AEC on: at least 20 dB, input opened first and output opened first. AEC off (all processing off): within 1 dB
 * of 0 (the path is bit-exact here, so anything more means the measurement or the capture is wrong).
 *
 * ERLE alone would pass for a canceller that mutes everything (and the helpers refuse a near-silent output), so
 * every AEC-on run also has a near-end talker, and the test checks what happens to it. Near-end loss: per 20 ms
 * block where the near end is active and dominant, its level minus the processed level.
 * - Double talk (a second voice played into the feed while the far end's echo goes on): median below 8 dB, and
 *   the share of blocks cut by more than 10 dB bounded.
 * - The runs without a talker: the alignment chirp is near-end sound too (played into the microphone before the
 *   far end starts); its level in the processed output is within 3 dB of the raw one, so a canceller that mutes
 *   or halves the microphone fails, and the ERLE helpers refuse an output that is near-silent over the echo.
 *   (A talker after the far end, in the same feed stream as the chirp, was tried: ERLE collapsed in 4 runs of 4,
 *   and in none of 3 without it, in the same hour at load averages 4-15. Not pinned down; suspected: the feed
 *   stream open through the far end beside the echo path's stream on the same sink.)
 *
 * Processing other than AEC is off: noise suppression and gain control would change the levels both measures
 * compare, and the high-pass filter has nothing to remove here (espeak-ng speech has no rumble).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dispose, type AudioFrame } from '@livekit/rtc-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MediaDevices, type InputCapture, type OutputPlayer } from '../src/index.js';
import {
  allPresent,
  bestLag,
  blockLevels,
  chirpInt16,
  difference,
  endAbove,
  firstAbove,
  framesOf,
  maskedErleDb,
  median,
  shifted,
  shiftedMask,
  speech,
} from './support/aec_rig.js';
import { sleep } from './support/device_io.js';
import {
  measureEchoPath,
  playIntoSink,
  rigRoom,
  ROOM_ECHO_DELAY_MS,
  startRecording,
  type EchoPathMeasurement,
} from './support/rig.js';
import { rmsDbfs, scaleToRmsDbfs } from './support/signal.js';

const RATE = 48000;
const BLOCK = RATE / 50; // 20 ms
const sec = (s: number): number => Math.round(s * RATE);

const room = rigRoom();
/** Far end and near end levels (RMS over the whole utterance, pauses included). */
const FAR_DBFS = -20;
const NEAR_DBFS = -20;
/** Feed track: chirp at 0.1 s; near-end talker (when there is one) at NEAR_AT s after the track starts. */
const MARKER_AT = 0.1;
const NEAR_AT = 6;
const MARKER = chirpInt16(RATE, 150, 300, 3000, -12);
/** Blocks at or above this raw level carry echo. */
const ECHO_BLOCK_DBFS = -50;

const AEC_ONLY = {
  enableAec: true,
  noiseSuppression: false,
  highPassFilter: false,
  autoGainControl: false,
} as const;
const NO_PROCESSING = { ...AEC_ONLY, enableAec: false } as const;

let dir: string;
let far: Int16Array;
let near: Int16Array;
let pathMeasured: EchoPathMeasurement;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'aec-e2e-'));
  far = scaleToRmsDbfs(
    await speech(
      dir,
      'far',
      'Good morning everyone, and thank you for joining the weekly planning call. Today we will review ' +
        'the release schedule, talk about the open bugs in the audio pipeline, and decide who takes the ' +
        'remaining tasks.',
      'en',
    ),
    FAR_DBFS,
  );
  near = scaleToRmsDbfs(
    await speech(
      dir,
      'near',
      'I think the echo canceller should run before the noise suppressor. Can we measure that this afternoon?',
      'en+f3',
    ),
    NEAR_DBFS,
  );
  expect(far.length).toBeGreaterThan(sec(10));
  expect(far.length).toBeLessThan(sec(16));
  pathMeasured = await measureEchoPath({ from: `${room.speaker}.monitor`, mic: room.mic });
  console.log(
    `echo path: delay ${pathMeasured.delaysMs.map((d) => d.toFixed(1)).join(', ')} ms ` +
      `(median ${pathMeasured.medianDelayMs.toFixed(1)}), direct gain ${pathMeasured.medianGainDb.toFixed(1)} dB`,
  );
}, 60_000);

afterAll(async () => {
  if (dir) rmSync(dir, { recursive: true, force: true });
  await dispose();
});

interface CallOptions {
  processing: typeof AEC_ONLY | typeof NO_PROCESSING;
  order: 'input-first' | 'output-first';
  nearTalker: boolean;
  /** Block the event loop this long (ms), STALL_AT s into the far end; default no stall. */
  stallMs?: number;
}

/** Where the event-loop stall of a `stallMs` call falls: seconds after the far end starts. */
const STALL_AT = 5;

interface Call {
  /** Raw microphone (parec on lk_mic_a). */
  raw: Int16Array;
  /** Processed microphone, moved onto the raw recording's timeline. */
  out: Int16Array;
  /** Which samples of `out` the capture delivered (a frame dropped from its full queue is missing). */
  present: Uint8Array;
  /** Near-end talker on the raw timeline (zeros when there is none). */
  nearRef: Int16Array;
  /** Far-end echo onset and end of echo in the raw recording (samples). */
  echoStart: number;
  echoEnd: number;
  /** Near-end talk span in the raw recording (samples). */
  nearStart: number;
  nearEnd: number;
  /** The chirp's level in the raw microphone minus its level in the processed output (dB). */
  markerLossDb: number;
  /** Stream delay figures (ms), medians over the run. */
  delays: { stream: number; render: number; capture: number };
}

/** Resolves once `condition()` holds (polled every 10 ms); throws `what` after `timeoutMs`. */
async function waitFor(condition: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await sleep(10);
  }
}

/** One call: opens input and output in the given order, plays the far end (and near end), records both sides. */
async function runCall({ processing, order, nearTalker, stallMs }: CallOptions): Promise<Call> {
  const md = new MediaDevices();
  let capture: InputCapture | undefined;
  let player: OutputPlayer | undefined;
  // Each processed frame with its index in the capture's frame sequence. Frames dropped from the capture's full
  // queue are always its oldest, i.e. the ones right after the last frame handed out, so a frame's index is the
  // frames handed out before it plus the frames dropped so far.
  const processed: { index: number; data: Int16Array }[] = [];
  const streamDelays: number[] = [];
  const renderDelays: number[] = [];
  const captureDelays: number[] = [];
  const warnings: string[] = [];
  let raw: Int16Array;
  try {
    const openInput = (): InputCapture =>
      md.openInput({ ...processing, inputDevice: room.mic, queueCapacity: 100 });
    const openOutput = (): OutputPlayer => md.openOutput({ outputDevice: room.speaker });
    if (order === 'input-first') {
      capture = openInput();
      player = openOutput();
    } else {
      player = openOutput();
      capture = openInput();
    }
    const cap = capture;
    cap.on('warning', (w) => warnings.push(`capture ${w.code}: ${w.message} (${String(w.cause)})`));
    player.on('warning', (w) =>
      warnings.push(`player ${w.code}: ${w.message} (${String(w.cause)})`),
    );
    cap.on('frame', (frame: AudioFrame) => {
      processed.push({
        index: processed.length + cap.stats.framesDropped,
        data: frame.data.slice(),
      });
      if (cap.apm) {
        streamDelays.push(cap.stats.streamDelayMs);
        renderDelays.push(cap.delayEstimator.renderDelayMs);
        captureDelays.push(cap.delayEstimator.captureDelayMs);
      }
    });
    await player.start();
    // Let the capture settle (its first frames can pile up while everything starts) before the chirp.
    await waitFor(
      () => processed.length >= 30 && cap.stats.queueLength <= 2,
      'the capture delivering steadily',
    );
    const recording = await startRecording(room.mic);
    try {
      const track = new Int16Array(
        nearTalker ? sec(NEAR_AT) + near.length : sec(MARKER_AT) + MARKER.length,
      );
      track.set(MARKER, sec(MARKER_AT));
      if (nearTalker) track.set(near, sec(NEAR_AT));
      // A deep server-side buffer: an underrun of this stream would shift the near end against the chirp.
      const feeding = playIntoSink(room.feed, track, { latencyMs: 250 });
      await sleep(500);
      const ended = new Promise<void>((resolve) => player!.once('streamEnded', () => resolve()));
      player.addStream(framesOf(far, RATE));
      if (stallMs !== undefined) {
        await sleep(STALL_AT * 1000);
        const until = performance.now() + stallMs;
        while (performance.now() < until) {
          // A synchronous hog: nothing else in this process runs meanwhile.
        }
      }
      await ended;
      await feeding;
      // The echo's delay and reverberation tail.
      await sleep(600);
    } finally {
      raw = await recording.stop();
    }
    // Under CPU starvation the capture's queue can overflow; dropped frames are left out of the measurements.
    const { framesDropped } = capture.stats;
    if (framesDropped > 0) {
      console.log(`${order}: the capture dropped ${framesDropped} frames from its full queue`);
    }
    expect(warnings.join('\n')).toBe('');
    expect(capture.stats.deviceDroppedFrames).toBe(0);
    if (capture.apm) {
      // The far end reached the echo canceller: what the speaker played, frame by frame.
      expect(player.stats.reverseFrames).toBeGreaterThan(far.length / (RATE / 100));
    }
  } finally {
    await player?.aclose();
    await capture?.aclose();
  }

  const frameSize = RATE / 100;
  const frames = processed.length === 0 ? 0 : processed[processed.length - 1]!.index + 1;
  const outRaw = new Int16Array(frames * frameSize);
  const outPresent = new Uint8Array(outRaw.length);
  for (const { index, data } of processed) {
    outRaw.set(data, index * frameSize);
    outPresent.fill(1, index * frameSize, (index + 1) * frameSize);
  }
  // The chirp in each recording (first loud sample, refined by cross-correlation over one chirp length).
  const locate = (x: Int16Array): number => {
    const rough = firstAbove(x, 1000);
    expect(rough, 'alignment chirp not found').toBeGreaterThanOrEqual(0);
    const { lag, correlation } = bestLag(MARKER, x, rough - MARKER.length, rough, 2);
    expect(correlation, 'alignment chirp correlation').toBeGreaterThan(0.9);
    return lag;
  };
  const rawMarker = locate(raw);
  const outMarker = locate(outRaw);
  const out = shifted(outRaw, rawMarker - outMarker, raw.length);
  const present = shiftedMask(outPresent, rawMarker - outMarker, raw.length);
  expect(allPresent(present, rawMarker, rawMarker + MARKER.length), 'chirp frames delivered').toBe(
    true,
  );
  const markerLossDb =
    rmsDbfs(raw, rawMarker, rawMarker + MARKER.length) -
    rmsDbfs(out, rawMarker, rawMarker + MARKER.length);

  let nearRef: Int16Array = new Int16Array(raw.length);
  let nearStart = 0;
  let nearEnd = 0;
  if (nearTalker) {
    // Same pacat stream as the chirp: the near end starts NEAR_AT - MARKER_AT after it. Check (and refine) that
    // by correlation over a second of talk, in case the stream slipped.
    const expected = rawMarker + sec(NEAR_AT - MARKER_AT);
    const excerptStart = firstAbove(near, 3000);
    const excerpt = near.subarray(excerptStart, excerptStart + sec(1));
    const { lag, correlation } = bestLag(
      excerpt,
      raw,
      expected + excerptStart - sec(0.1),
      expected + excerptStart + sec(0.1),
      4,
    );
    expect(correlation, 'near-end correlation in the raw microphone').toBeGreaterThan(0.5);
    nearStart = lag - excerptStart;
    nearRef = shifted(near, nearStart, raw.length);
    nearEnd = nearStart + near.length;
  }
  const echo = difference(raw, nearRef);
  const echoStart = firstAbove(echo, 300, rawMarker + MARKER.length + sec(0.05));
  const echoEnd = endAbove(echo, 300);
  expect(echoStart, 'far-end echo not found in the microphone').toBeGreaterThan(0);
  expect(echoEnd - echoStart).toBeGreaterThan(far.length - sec(1));
  return {
    raw,
    out,
    present,
    nearRef,
    echoStart,
    echoEnd,
    nearStart,
    nearEnd,
    markerLossDb,
    delays: {
      stream: median(streamDelays),
      render: median(renderDelays),
      capture: median(captureDelays),
    },
  };
}

/**
 * ERLE (dB) over the echo-bearing 20 ms blocks of [from, to) (default: 3 s after the echo's onset to its end).
 * Fails when more than a tenth of those blocks are missing from the processed output (frames the capture
 * dropped): then there is too little to measure.
 */
function erle(call: Call, from = call.echoStart + sec(3), to = call.echoEnd): number {
  const m = maskedErleDb(call.raw, call.out, call.present, from, to, BLOCK, ECHO_BLOCK_DBFS);
  expect(m.blocks).toBeGreaterThan(0);
  expect(
    m.missing / (m.blocks + m.missing),
    'share of echo blocks the capture dropped',
  ).toBeLessThan(0.1);
  return m.erleDb;
}

/** ERLE (dB) of each second from the echo's onset, for the log: shows when and how the canceller converged. */
function erleProfile(call: Call): string {
  const out: string[] = [];
  for (let at = call.echoStart; at + sec(1) <= call.echoEnd; at += sec(1)) {
    // A second with no echo-bearing block, or whose output is near-silent, has no figure of its own.
    let figure = '-';
    try {
      figure = maskedErleDb(
        call.raw,
        call.out,
        call.present,
        at,
        at + sec(1),
        BLOCK,
        ECHO_BLOCK_DBFS,
      ).erleDb.toFixed(0);
    } catch {
      // left as '-'
    }
    out.push(figure);
  }
  return out.join(' ');
}

/** What echo cancellation did to the near-end talker; see {@link nearEndLoss}. */
interface NearEndLoss {
  /** Loss (dB) of each counted block: the near end's level minus the processed level. */
  losses: number[];
  /** Median of `losses` (dB). */
  median: number;
  /** Share of the counted blocks cut by more than 10 dB. */
  cut: number;
  /** Blocks left out because the capture dropped them. */
  missing: number;
}

/**
 * Near-end loss, per 20 ms block of the near-end talk where the near end is active (its own level at least
 * -45 dBFS) and dominant (at least 6 dB above the echo in the raw microphone): the near end's level minus the
 * processed level. The echo is the raw microphone minus the near end (the feed sink sums the two streams exactly),
 * the near end's position is known to the sample (see runCall).
 */
function nearEndLoss(call: Call): NearEndLoss {
  const echo = difference(call.raw, call.nearRef);
  const nearLv = blockLevels(call.nearRef, call.nearStart, call.nearEnd, BLOCK);
  const echoLv = blockLevels(echo, call.nearStart, call.nearEnd, BLOCK);
  const outLv = blockLevels(call.out, call.nearStart, call.nearEnd, BLOCK);
  const losses: number[] = [];
  let missing = 0;
  for (let b = 0; b < nearLv.length; b++) {
    if (nearLv[b]! < -45 || nearLv[b]! - echoLv[b]! < 6) continue;
    const at = call.nearStart + b * BLOCK;
    if (allPresent(call.present, at, at + BLOCK)) losses.push(nearLv[b]! - outLv[b]!);
    else missing++;
  }
  return {
    losses,
    median: median(losses),
    cut: losses.filter((l) => l > 10).length / losses.length,
    missing,
  };
}

function describeNearEnd(n: NearEndLoss): string {
  return (
    `near-end median loss ${n.median.toFixed(2)} dB over ${n.losses.length} blocks ` +
    `(${(100 * n.cut).toFixed(0)}% cut by > 10 dB)`
  );
}

/**
 * The near-end check of a run without a talker (see the file's comment): the chirp, near-end sound played before
 * the far end, comes through the processing within 3 dB. Measured: see the log lines.
 */
function expectChirpPasses(call: Call): void {
  expect(Math.abs(call.markerLossDb), 'chirp level lost in processing (dB)').toBeLessThan(3);
}
/**
 * Bounds of the double-talk test. Measured in the rig's room (`npx vitest run test/echo_cancellation.test.ts`,
 * load average 1-3, 2026-12-04), four runs whose ERLE before the near end was 50-66 dB: median loss 5.77, 3.86,
 * 5.27 and 3.64 dB, with 34 %, 29 %, 39 % and 30 % of blocks cut by more than 10 dB. (On the earlier echo path of
 * sox, whose echo was some 4 dB quieter against the near end: medians 2.2-2.5 dB, 18-22 % cut.) AEC3's suppressor
 * cuts part of the near end while both talk. Bounds: a median loss under 8 dB, so that a canceller that halves or
 * mutes the near end fails, and 75 % of blocks, so that one that suppresses it through most of the double talk
 * fails.
 */
const DOUBLE_TALK_MAX_MEDIAN_LOSS_DB = 8;
const DOUBLE_TALK_MAX_CUT = 0.75;

function describeDelays(call: Call): string {
  const d = call.delays;
  return (
    `stream delay ${d.stream} ms (render ${d.render.toFixed(1)} + capture ${d.capture.toFixed(1)}), ` +
    `echo path ${pathMeasured.medianDelayMs.toFixed(1)} ms`
  );
}

describe('echo cancellation through real devices', () => {
  it('the room is what the rig builds: every click echoed 50 ms later (to 1 ms), at -6..-12 dB', () => {
    for (const delay of pathMeasured.delaysMs)
      expect(Math.abs(delay - ROOM_ECHO_DELAY_MS)).toBeLessThanOrEqual(1);
    // The overall echo gain (direct sound and reverberation) is checked on speech in the AEC-off test.
    expect(pathMeasured.medianGainDb).toBeLessThanOrEqual(-6);
    expect(pathMeasured.medianGainDb).toBeGreaterThanOrEqual(-12);
  });

  it('leaves the echo alone with all processing off (ERLE within 1 dB of 0)', async () => {
    const call = await runCall({
      processing: NO_PROCESSING,
      order: 'input-first',
      nearTalker: false,
    });
    const erleOff = erle(call);
    // The echo as the microphone hears it, against the far end as played: the room's overall gain.
    const echoGain = rmsDbfs(call.raw, call.echoStart, call.echoEnd) - rmsDbfs(far);
    console.log(
      `AEC off: ERLE ${erleOff.toFixed(2)} dB after 3 s; echo gain of the room ${echoGain.toFixed(1)} dB`,
    );
    // The room's direct echo is at -9 dB, and its tail's 15 further taps add up to more than that: measured -4.7 dB.
    expect(echoGain).toBeGreaterThanOrEqual(-6.5);
    expect(echoGain).toBeLessThanOrEqual(-3);
    expect(Math.abs(erleOff)).toBeLessThan(1);
  });

  for (const order of ['input-first', 'output-first'] as const) {
    it(`removes >= 20 dB of echo after the first 3 s with AEC on, and passes near-end sound (${order})`, async () => {
      const call = await runCall({ processing: AEC_ONLY, order, nearTalker: false });
      const erleOn = erle(call);
      const early = erle(call, call.echoStart, call.echoStart + sec(3));
      console.log(
        `AEC on (${order}): ERLE ${erleOn.toFixed(1)} dB after 3 s (${early.toFixed(1)} dB in the first 3 s); ` +
          `per second: ${erleProfile(call)}; chirp ${call.markerLossDb.toFixed(2)} dB lost; ` +
          describeDelays(call),
      );
      expect(erleOn).toBeGreaterThanOrEqual(20);
      expectChirpPasses(call);
    });
  }

  it('keeps cancelling after a 300 ms event-loop stall, and passes near-end sound (input opened first)', async () => {
    const call = await runCall({
      processing: AEC_ONLY,
      order: 'input-first',
      nearTalker: false,
      stallMs: 300,
    });
    // The stall falls STALL_AT s after the far end was handed over, i.e. about that far after the echo's onset.
    const afterStall = call.echoStart + sec(STALL_AT + 1);
    const erleAfter = erle(call, afterStall);
    console.log(
      `AEC on, 300 ms stall: ERLE ${erleAfter.toFixed(1)} dB from 1 s after the stall; per second: ` +
        `${erleProfile(call)}; chirp ${call.markerLossDb.toFixed(2)} dB lost; ${describeDelays(call)}`,
    );
    expect(erleAfter).toBeGreaterThanOrEqual(20);
    expectChirpPasses(call);
  });

  it('passes near-end speech during double talk with a bounded median loss and bounded cuts', async () => {
    const call = await runCall({
      processing: AEC_ONLY,
      order: 'input-first',
      nearTalker: true,
    });
    const n = nearEndLoss(call);
    const overlap = Math.min(call.nearEnd, call.echoEnd) - Math.max(call.nearStart, call.echoStart);
    const before = erle(call, call.echoStart + sec(3), call.nearStart);
    console.log(
      `double talk: ${describeNearEnd(n)}, overlap with the far end ${(overlap / RATE).toFixed(1)} s; ` +
        `ERLE before the near end ${before.toFixed(1)} dB; ${describeDelays(call)}`,
    );
    // Double talk for real: the near end overlaps the far end's echo by seconds.
    expect(overlap).toBeGreaterThan(sec(3));
    expect(n.losses.length).toBeGreaterThan(50);
    expect(n.missing / (n.losses.length + n.missing)).toBeLessThan(0.1);
    expect(before).toBeGreaterThanOrEqual(20);
    expect(n.median, 'near-end median loss (dB), double talk').toBeLessThan(
      DOUBLE_TALK_MAX_MEDIAN_LOSS_DB,
    );
    expectChirpPasses(call);
    // AEC3 cuts part of the near end while both talk (its own double-talk behaviour; the README's demo: about a
    // third of the blocks). Bound: see DOUBLE_TALK_MAX_CUT.
    expect(n.cut, 'share of near-end blocks cut by > 10 dB, double talk').toBeLessThan(
      DOUBLE_TALK_MAX_CUT,
    );
  });
});
