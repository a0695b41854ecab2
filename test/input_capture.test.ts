/**
 * MediaDevices.openInput against the rig: audio played into a virtual microphone's feed arrives through
 * InputCapture -> AudioSource -> LocalAudioTrack -> AudioStream, in 10 ms frames, at the right level and frequency.
 */
import { once } from 'node:events';
import { dispose } from '@livekit/rtc-node';
import { afterAll, describe, expect, it } from 'vitest';
import {
  DeviceCapabilityError,
  InvalidOptionError,
  MediaDevices,
  MediaDevicesError,
  type InputCapture,
  type InputOverflow,
} from '../src/index.js';
import { sleep } from './support/device_io.js';
import { SourceListener } from './support/livekit_loopback.js';
import { playIntoSink, rigEnv } from './support/rig.js';
import {
  channelOf,
  dominantFrequencyHz,
  firstSampleAbove,
  rmsDbfs,
  sineInt16,
  sineRmsDbfs,
  toneLevelDbfs,
} from './support/signal.js';

const rig = rigEnv();
const NO_PROCESSING = {
  enableAec: false,
  noiseSuppression: false,
  highPassFilter: false,
  autoGainControl: false,
} as const;

afterAll(async () => {
  await dispose();
});

/** Opens a capture, plays `samples` (48 kHz) into `feed`, and returns what the AudioSource published. */
async function captureWhilePlaying(
  capture: InputCapture,
  feed: string,
  samples: Int16Array,
  channels = 1,
): Promise<{ received: Int16Array; frameSizes: Set<number> }> {
  const listener = new SourceListener(capture.source, capture.sampleRate, capture.numChannels);
  try {
    await sleep(100);
    await playIntoSink(feed, samples, { rate: 48000, channels });
    await sleep(200);
  } finally {
    await capture.aclose();
  }
  return { received: listener.stop(), frameSizes: listener.frameSizes };
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
      const { received, frameSizes } = await captureWhilePlaying(
        capture,
        rig.micAFeed,
        sineInt16(1000, 48000, 48000, peak),
      );
      expect([...frameSizes]).toEqual([rate / 100]);
      const start = firstSampleAbove(received, 1000);
      expect(start).toBeGreaterThanOrEqual(0);
      const steady = received.subarray(start + rate / 10, start + (rate * 9) / 10);
      expect(Math.abs(rmsDbfs(steady) - sineRmsDbfs(peak))).toBeLessThan(1);
      expect(Math.abs(dominantFrequencyHz(steady, rate) - 1000)).toBeLessThan(2);
      expect(capture.stats.framesCaptured).toBeGreaterThan(100);
      expect(capture.stats.framesDropped).toBe(0);
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
    const { received, frameSizes } = await captureWhilePlaying(
      capture,
      rig.micAFeed,
      sineInt16(440, 48000, 48000, -12),
    );
    expect([...frameSizes]).toEqual([160]);
    const start = firstSampleAbove(received, 500);
    const steady = received.subarray(start + 1600, start + 14400);
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
    const { received } = await captureWhilePlaying(capture, rig.micStereoFeed, twoTones(), 2);
    const l = channelOf(received, 2, 0);
    const r = channelOf(received, 2, 1);
    const start = firstSampleAbove(l, 500);
    expect(toneLevelDbfs(l.subarray(start + 4800, start + 43200), 48000, 440)).toBeGreaterThan(-14);
    expect(toneLevelDbfs(r.subarray(start + 4800, start + 43200), 48000, 1000)).toBeGreaterThan(
      -14,
    );
    expect(toneLevelDbfs(l.subarray(start + 4800, start + 43200), 48000, 1000)).toBeLessThan(-60);
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
