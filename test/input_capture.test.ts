/**
 * MediaDevices.openInput against the rig: audio played into a virtual microphone's feed arrives through
 * InputCapture -> AudioSource -> LocalAudioTrack -> AudioStream, in 10 ms frames, at the right level and frequency.
 */
import { once } from 'node:events';
import { performance } from 'node:perf_hooks';
import { dispose } from '@livekit/rtc-node';
import { afterAll, describe, expect, it } from 'vitest';
import {
  DeviceCapabilityError,
  InvalidOptionError,
  MediaDevices,
  MediaDevicesError,
  type InputCapture,
  type InputCaptureWarning,
  type InputOverflow,
} from '../src/index.js';
import { endAbove } from './support/aec_rig.js';
import { silentMs, toneWindows } from './support/continuity.js';
import { concatSamples, sleep } from './support/device_io.js';
import { SourceListener } from './support/livekit_loopback.js';
import { playIntoSink, rigEnv, startRecording } from './support/rig.js';
import {
  channelOf,
  dominantFrequencyHz,
  firstSampleAbove,
  rmsDbfs,
  sineInt16,
  sineRmsDbfs,
  toneLevelDbfs,
} from './support/signal.js';
import { NO_PROCESSING } from './support/processing_options.js';

const rig = rigEnv();

afterAll(async () => {
  await dispose();
});

/**
 * Opens a capture, plays `samples` (48 kHz) into `feed`, and returns what the AudioSource published and what the
 * rig's own recording of the same microphone (parec, outside the package) heard meanwhile.
 */
async function captureWhilePlaying(
  capture: InputCapture,
  feed: string,
  samples: Int16Array,
  channels = 1,
): Promise<{ received: Int16Array; frameSizes: Set<number>; rigView: Int16Array }> {
  const listener = new SourceListener(capture.source, capture.sampleRate, capture.numChannels);
  const rigRecording = await startRecording(capture.device.id, { channels });
  let rigView: Int16Array;
  try {
    await firstFrames(capture);
    await playIntoSink(feed, samples, { rate: 48000, channels });
    await sleep(200);
    // What the capture handed out reaches the listener through rtc-node, later on a loaded machine: wait for it
    // (a while: an AudioStream that lost frames never catches up, and the checks below then say what is missing).
    const deadline = performance.now() + 10_000;
    while (listener.frames < capture.stats.framesCaptured && performance.now() < deadline)
      await sleep(20);
  } finally {
    rigView = await rigRecording.stop();
    await capture.aclose();
  }
  return { received: listener.stop(), frameSizes: listener.frameSizes, rigView };
}

/**
 * Asserts that a tone of `seconds`, peak `peakDbfs`, came through whole: from its first to its last audible sample
 * as long as played (to 10 ms), less gaps and less the frames the capture dropped and said so (`droppedFrames`: a
 * loaded machine that starves the event loop past the queue's 500 ms makes it drop its oldest frames, counted and
 * announced; a silent loss is still caught); each 20 ms window of its steady part within `toleranceDb` of its
 * level; and no more silence in it than the microphone itself had (the rig's own recording of the device, which
 * shows what a loaded sound server or a late feed left out), plus 5 ms for the edges. A capture that drops or
 * repeats frames unannounced, or zeroes some, fails here even when its average level is right.
 */
function expectWholeTone(
  received: Int16Array,
  rate: number,
  hz: number,
  peakDbfs: number,
  seconds: number,
  rigView: Int16Array,
  toleranceDb = 0.5,
  droppedFrames = 0,
): void {
  const threshold = (32768 * 10 ** (peakDbfs / 20)) / 4;
  const first = firstSampleAbove(received, threshold);
  expect(first).toBeGreaterThanOrEqual(0);
  const end = endAbove(received, threshold);
  const gapsMs = silentMs(received, rate, threshold, first, end);
  const heardMs = ((end - first) / rate) * 1000 - gapsMs;
  const rigFirst = firstSampleAbove(rigView, threshold);
  const rigGapsMs =
    rigFirst < 0 ? 0 : silentMs(rigView, 48000, threshold, rigFirst, endAbove(rigView, threshold));
  const found = toneWindows(received, rate, hz, sineRmsDbfs(peakDbfs), threshold, {
    from: first + rate / 10,
    to: end - rate / 10,
  });
  const what =
    `${hz} Hz at ${rate} Hz: heard ${heardMs.toFixed(1)} ms of ${seconds * 1000}, ${gapsMs} ms silent ` +
    `(the microphone itself: ${rigGapsMs} ms); ${found.windows} windows, worst ` +
    `${found.worstDeviationDb.toFixed(2)} dB off`;
  if (gapsMs > 0 || rigGapsMs > 0 || droppedFrames > 0)
    console.log(`${what}; ${droppedFrames} frames dropped`);
  expect(heardMs - seconds * 1000, what).toBeLessThan(10);
  expect(heardMs - seconds * 1000, what).toBeGreaterThan(-10 - 10 * droppedFrames);
  expect(gapsMs, what).toBeLessThanOrEqual(rigGapsMs + 5);
  expect(found.gapped, what).toBeLessThan(found.windows);
  expect(found.worstDeviationDb, what).toBeLessThan(toleranceDb);
}

/**
 * Where a ramp through every int16 value (sample i is (i % 65536) - 32768) jumps: each jump is the number of ramp
 * samples left out there. Runs of zeros are left out first: they are the feed running late (the sound server plays
 * silence into the microphone, and the ramp resumes where it was), and the silence before and after the ramp.
 */
function rampJumps(samples: Int16Array): {
  jumps: number[];
  rampSamples: number;
  /** Samples in runs of zeros between the ramp's first and last sample (the feed running late). */
  zerosWithin: number;
} {
  const kept: number[] = [];
  let zeros = 0;
  let zerosWithin = 0;
  for (let i = 0; i < samples.length; i++) {
    const zeroRun = samples[i] === 0 && (samples[i - 1] === 0 || samples[i + 1] === 0);
    if (zeroRun) {
      zeros++;
    } else {
      if (kept.length > 0) zerosWithin += zeros;
      zeros = 0;
      kept.push(samples[i]!);
    }
  }
  const jumps: number[] = [];
  for (let i = 1; i < kept.length; i++) {
    const step = (kept[i]! - kept[i - 1]! + 65536) % 65536;
    if (step !== 1) jumps.push(step - 1);
  }
  return { jumps, rampSamples: kept.length, zerosWithin };
}

/**
 * Resolves once the capture has handed out its first frames: on a loaded machine the sound server can take
 * hundreds of ms to start a stream, and what is played before that is never captured.
 */
async function firstFrames(capture: InputCapture, frames = 5): Promise<void> {
  while (capture.stats.framesCaptured < frames) await sleep(10);
}

/** One second of stereo at 48 kHz: 440 Hz on the left, 1000 Hz on the right, both at -10 dBFS peak. */
function twoTones(): Int16Array {
  const left = sineInt16(440, 48000, 48000, -10);
  const right = sineInt16(1000, 48000, 48000, -10);
  const stereo = new Int16Array(96000);
  for (let i = 0; i < 48000; i++) {
    stereo[2 * i] = left[i]!;
    stereo[2 * i + 1] = right[i]!;
  }
  return stereo;
}

describe('InputCapture', () => {
  for (const rate of [48000, 44100, 32000, 16000]) {
    it(`publishes a tone played into microphone A in 10 ms frames at ${rate} Hz`, async () => {
      const md = new MediaDevices({ inputSampleRate: rate });
      const capture = md.openInput({ ...NO_PROCESSING, inputDevice: rig.micA });
      expect(capture.apm).toBeUndefined();
      const peak = -6;
      const { received, frameSizes, rigView } = await captureWhilePlaying(
        capture,
        rig.micAFeed,
        sineInt16(1000, 48000, 48000, peak),
      );
      expect([...frameSizes]).toEqual([rate / 100]);
      const start = firstSampleAbove(received, 1000);
      expect(start).toBeGreaterThanOrEqual(0);
      // The tone as heard (frames the capture dropped under load, and said so, make it shorter: see below).
      const steady = received.subarray(start + rate / 10, endAbove(received, 1000) - rate / 10);
      expect(Math.abs(rmsDbfs(steady) - sineRmsDbfs(peak))).toBeLessThan(1);
      expect(Math.abs(dominantFrequencyHz(steady, rate) - 1000)).toBeLessThan(2);
      // Resampled rates: the resampler's passband ripple is a fraction of a dB.
      expectWholeTone(
        received,
        rate,
        1000,
        peak,
        1,
        rigView,
        rate === 48000 ? 0.5 : 1,
        capture.stats.framesDropped,
      );
      expect(capture.stats.framesCaptured).toBeGreaterThan(100);
    });
  }

  it('loses no sample with a device blocksize of 256 samples', async () => {
    const md = new MediaDevices({ blocksize: 256 });
    const capture = md.openInput({ ...NO_PROCESSING, inputDevice: rig.micA });
    // A ramp: every sample differs from its neighbours, so a lost or repeated sample breaks the sequence.
    const length = 48000;
    const ramp = new Int16Array(length);
    for (let i = 0; i < length; i++) ramp[i] = 1000 + (i % 20000);
    const { received } = await captureWhilePlaying(capture, rig.micAFeed, ramp);
    const start = received.indexOf(1000);
    expect(start).toBeGreaterThanOrEqual(0);
    const played = received.subarray(start, start + length);
    expect(played.length).toBe(length);
    let mismatches = 0;
    for (let i = 0; i < length; i++) if (played[i] !== ramp[i]) mismatches++;
    expect(mismatches).toBe(0);
    expect(capture.stats.deviceDroppedFrames).toBe(0);
  });

  it('resamples when the device runs at another rate', async () => {
    const md = new MediaDevices({ inputSampleRate: 16000 });
    const capture = md.openInput({
      ...NO_PROCESSING,
      inputDevice: rig.micA,
      deviceSampleRate: 48000,
    });
    const { received, frameSizes, rigView } = await captureWhilePlaying(
      capture,
      rig.micAFeed,
      sineInt16(440, 48000, 48000, -12),
    );
    expect([...frameSizes]).toEqual([160]);
    expectWholeTone(received, 16000, 440, -12, 1, rigView, 1, capture.stats.framesDropped);
    const start = firstSampleAbove(received, 500);
    const steady = received.subarray(start + 1600, endAbove(received, 500) - 1600);
    expect(Math.abs(rmsDbfs(steady) - sineRmsDbfs(-12))).toBeLessThan(1);
    expect(Math.abs(dominantFrequencyHz(steady, 16000) - 440)).toBeLessThan(2);
    // Every sample kept: the tone (1 s at 48 kHz, whole cycles, so it starts and ends at a zero crossing) lasts 16000
    // samples at 16 kHz, edges found to a fraction of a millisecond. A resampler that loses one sample per block
    // falls tens of samples short (and shifts the frequency by less than the bound above).
    let end = received.length - 1;
    while (Math.abs(received[end]!) < 500) end--;
    expect(capture.stats.deviceDroppedFrames).toBe(0);
    expect(capture.stats.framesDropped).toBe(0);
    console.log(`resampled capture: ${end + 1 - start - 16000} samples more than played`);
    expect(Math.abs(end + 1 - start - 16000)).toBeLessThanOrEqual(8);
  });

  for (const channel of [0, 1]) {
    it(`inputChannelIndex ${channel} takes that channel of a stereo microphone`, async () => {
      const md = new MediaDevices();
      const capture = md.openInput({
        ...NO_PROCESSING,
        inputDevice: rig.micStereo,
        inputChannelIndex: channel,
      });
      const { received } = await captureWhilePlaying(capture, rig.micStereoFeed, twoTones(), 2);
      const start = firstSampleAbove(received, 500);
      const steady = received.subarray(start + 4800, start + 43200);
      const [wanted, other] = channel === 0 ? [440, 1000] : [1000, 440];
      expect(Math.abs(toneLevelDbfs(steady, 48000, wanted) - sineRmsDbfs(-10))).toBeLessThan(1);
      expect(toneLevelDbfs(steady, 48000, other)).toBeLessThan(-60);
    });
  }

  it('without inputChannelIndex mixes a stereo microphone down to mono', async () => {
    const md = new MediaDevices();
    const capture = md.openInput({ ...NO_PROCESSING, inputDevice: rig.micStereo });
    const left = sineInt16(440, 48000, 48000, -10);
    const stereo = new Int16Array(96000);
    for (let i = 0; i < 48000; i++) stereo[2 * i] = left[i]!; // right channel silent
    const { received } = await captureWhilePlaying(capture, rig.micStereoFeed, stereo, 2);
    const start = firstSampleAbove(received, 300);
    const steady = received.subarray(start + 4800, start + 43200);
    // The average of a tone and silence: 6 dB below the tone.
    expect(Math.abs(toneLevelDbfs(steady, 48000, 440) - (sineRmsDbfs(-10) - 6.02))).toBeLessThan(1);
  });

  it('with two channels asked of a stereo microphone, keeps both', async () => {
    const md = new MediaDevices({ numChannels: 2 });
    const capture = md.openInput({ ...NO_PROCESSING, inputDevice: rig.micStereo });
    const { received, rigView } = await captureWhilePlaying(
      capture,
      rig.micStereoFeed,
      twoTones(),
      2,
    );
    const l = channelOf(received, 2, 0);
    const r = channelOf(received, 2, 1);
    // Each channel carries its own tone, whole and at its level (not louder, not quieter), and nothing of the
    // other's: a capture that swaps, sums or duplicates the channels fails.
    const dropped = capture.stats.framesDropped;
    expectWholeTone(l, 48000, 440, -10, 1, channelOf(rigView, 2, 0), 0.5, dropped);
    expectWholeTone(r, 48000, 1000, -10, 1, channelOf(rigView, 2, 1), 0.5, dropped);
    const start = firstSampleAbove(l, 500);
    const steadyL = l.subarray(start + 4800, start + 43200);
    const steadyR = r.subarray(start + 4800, start + 43200);
    expect(Math.abs(toneLevelDbfs(steadyL, 48000, 440) - sineRmsDbfs(-10))).toBeLessThan(0.5);
    expect(Math.abs(toneLevelDbfs(steadyR, 48000, 1000) - sineRmsDbfs(-10))).toBeLessThan(0.5);
    expect(toneLevelDbfs(steadyL, 48000, 1000)).toBeLessThan(-60);
    expect(toneLevelDbfs(steadyR, 48000, 440)).toBeLessThan(-60);
  });

  it('drops the oldest frames when its queue overflows, and says so', async () => {
    const md = new MediaDevices();
    const capture = md.openInput({ ...NO_PROCESSING, inputDevice: rig.micA, queueCapacity: 5 });
    const overflows: InputOverflow[] = [];
    capture.on('overflow', (o) => overflows.push(o));
    await sleep(200);
    // Stall the event loop for 400 ms: 40 frames wait in the device ring and arrive at once.
    const until = Date.now() + 400;
    while (Date.now() < until);
    await sleep(200);
    const stats = capture.stats;
    await capture.aclose();
    expect(overflows.length).toBeGreaterThan(0);
    expect(stats.framesDropped).toBe(overflows.reduce((n, o) => n + o.dropped, 0));
    expect(stats.framesDropped).toBeGreaterThanOrEqual(30);
    expect(stats.queueLength).toBeLessThanOrEqual(5);
    expect(stats.deviceDroppedFrames).toBe(0); // the device ring itself held the 400 ms
  });

  it('ends with an error and closes when its AudioSource refuses a frame', async () => {
    const md = new MediaDevices();
    const capture = md.openInput({ ...NO_PROCESSING, inputDevice: rig.micA });
    const failed = once(capture, 'error', { signal: AbortSignal.timeout(5000) });
    await sleep(100);
    // Closed behind the capture's back: its next captureFrame rejects.
    await capture.source.close();
    const [error] = (await failed) as [Error];
    expect(error).toBeInstanceOf(MediaDevicesError);
    expect(error.message).toMatch(/refused a frame/);
    expect(String(error.cause)).toMatch(/AudioSource is closed/);
    expect(capture.closed).toBe(true);
  });

  it('says frames-lost when the event loop stalls past the device ring, and the audio shows that gap and no other', async () => {
    const md = new MediaDevices();
    // A queue of 10 s: the backlog after the stall is published, not dropped, so the only loss is the ring's
    // (with 3 s, a run at load average 12 still dropped from the queue).
    const capture = md.openInput({ ...NO_PROCESSING, inputDevice: rig.micA, queueCapacity: 1000 });
    const warnings: InputCaptureWarning[] = [];
    capture.on('warning', (w) => warnings.push(w));
    // A ramp through every int16 value (a period of 65536 samples, 1.37 s): each sample says where in the ramp it
    // is, so a lost stretch shows as a jump of exactly its length.
    const length = 48000 * 4;
    const ramp = new Int16Array(length);
    for (let i = 0; i < length; i++) ramp[i] = (i % 65536) - 32768;
    const published: Int16Array[] = [];
    let rampFrames = 0;
    let stalledMs = 0;
    capture.on('frame', (frame) => {
      published.push(frame.data.slice());
      if (frame.data.some((v) => v !== 0)) rampFrames++;
      if (rampFrames === 30 && stalledMs === 0) {
        // 300 ms into the ramp, a listener blocks the loop for 1.6 s; the device ring holds 1 s of audio.
        const from = performance.now();
        while (performance.now() - from < 1600);
        stalledMs = performance.now() - from;
      }
    });
    // The rig's own recording of the microphone: a loaded sound server can lose some of the feed itself.
    const rigRecording = await startRecording(rig.micA);
    let rigView: Int16Array;
    try {
      await firstFrames(capture);
      await playIntoSink(rig.micAFeed, ramp, { rate: 48000, channels: 1 });
      await sleep(300);
    } finally {
      rigView = await rigRecording.stop();
      await capture.aclose();
    }
    const stats = capture.stats;
    const captured = rampJumps(concatSamples(published));
    const inRig = rampJumps(rigView);
    // The capture's jumps that the microphone itself did not have.
    const losses = [...captured.jumps];
    for (const jump of inRig.jumps) {
      const k = losses.indexOf(jump);
      if (k >= 0) losses.splice(k, 1);
    }
    console.log(
      `frames-lost: stalled ${stalledMs.toFixed(0)} ms, lost ${losses.join(', ')} samples in the audio ` +
        `(the microphone itself: ${inRig.jumps.length} jumps, ${inRig.zerosWithin} samples of silence), counted ${stats.deviceDroppedFrames}; ` +
        `${warnings.length} warnings`,
    );
    expect(captured.rampSamples).toBeGreaterThan(length / 2);
    expect(losses).toHaveLength(1);
    // What the ring could not hold (1.6 s - 1 s, less what the host buffers), counted as the audio shows it: the
    // frame being assembled when the gap came is dropped too (up to one 10 ms frame more). Silence the feed let
    // into the microphone (a loaded server, seen as runs of zeros in the rig's recording) counts as lost when it
    // falls in the gap but is no ramp sample: up to that much less shows in the ramp (equal on a quiet machine;
    // 28392 shown of 31200 counted at load average 9).
    expect(stats.deviceDroppedFrames).toBeGreaterThanOrEqual(48000 * 0.4);
    expect(losses[0]!).toBeGreaterThanOrEqual(stats.deviceDroppedFrames - inRig.zerosWithin);
    expect(losses[0]!).toBeLessThanOrEqual(stats.deviceDroppedFrames + 480);
    expect(warnings.map((w) => w.code)).toContain('frames-lost');
    expect(warnings.filter((w) => w.code === 'frames-lost')[0]!.message).toMatch(
      /samples per channel were lost/,
    );
    expect(stats.framesDropped).toBe(0);
  });

  it('await using: the capture closes at the end of its scope, and another may open', async () => {
    const md = new MediaDevices();
    let outer: InputCapture;
    let frames = 0;
    {
      await using capture = md.openInput({ inputDevice: rig.micA });
      outer = capture;
      capture.on('frame', () => frames++);
      await sleep(300);
      expect(frames).toBeGreaterThan(0);
    }
    expect(outer.closed).toBe(true);
    expect(outer.apm!.closed).toBe(true);
    const atClose = frames;
    await sleep(200);
    expect(frames).toBe(atClose);
    // One processing capture per MediaDevices: the first is gone, so this one opens.
    const second = md.openInput({ inputDevice: rig.micB });
    await second.aclose();
  });

  it('rejects bad options with typed errors, and one processing capture at a time', async () => {
    const md = new MediaDevices();
    expect(() => md.openInput({ inputDevice: rig.micA, inputChannelIndex: 1 })).toThrow(
      DeviceCapabilityError,
    );
    expect(() => md.openInput({ inputDevice: rig.micA, inputChannelIndex: -1 })).toThrow(
      InvalidOptionError,
    );
    expect(() => md.openInput({ inputDevice: rig.micA, queueCapacity: 0 })).toThrow(
      InvalidOptionError,
    );
    const first = md.openInput({ inputDevice: rig.micA });
    expect(first.apm).toBeDefined();
    expect(() => md.openInput({ inputDevice: rig.micB })).toThrow(/already has an input capture/);
    await first.aclose();
    await first.aclose(); // twice is harmless
    expect(first.apm!.closed).toBe(true);
    const second = md.openInput({ inputDevice: rig.micB });
    await second.aclose();
  });
});
