/**
 * One pass of the demo's voice loop, as a LiveKit application runs it, with a room's network replaced by rtc-node's
 * local loopback (AudioSource -> LocalAudioTrack -> AudioStream, which needs no server):
 * - the far end: speech captured into an AudioSource, published as a LocalAudioTrack, added to an OutputPlayer with
 *   addTrack (the player receives it through an AudioStream, as it would a remote participant's track);
 * - the near end: the microphone through openInput (echo cancellation on or off) into its AudioSource, published
 *   as a LocalAudioTrack and received through an AudioStream: what the room would carry;
 * - a measuring tap: the same microphone through a second, unprocessed capture, to compare against.
 */
import { AudioFrame, AudioSource, AudioStream, LocalAudioTrack } from '@livekit/rtc-node';
import { setTimeout as sleep } from 'node:timers/promises';
import { MediaDevices, type InputCaptureStats, type OutputPlayerStats } from '../src/index.js';
import { runCleanup } from '../src/cli/run_cleanup.js';
import { concatSamples } from '../test/support/device_io.js';

/** The demo's rate: 48 kHz mono throughout. */
export const RATE = 48000;
const FRAME = RATE / 100;
// Devices and streams settle before the far end starts; the echo's tail dies out after it ends.
const SETTLE_MS = 500;
const TAIL_MS = 700;
const ALL_OFF = {
  enableAec: false,
  noiseSuppression: false,
  highPassFilter: false,
  autoGainControl: false,
} as const;

/** What one pass recorded, on the unprocessed microphone's sample count as its timeline. */
export interface PassRecording {
  /** Whether echo cancellation was on. */
  readonly aec: boolean;
  /** The microphone before any processing (mono, 48 kHz). */
  readonly raw: Int16Array;
  /** What the published microphone track carried (mono, 48 kHz), from its first frame on. */
  readonly published: Int16Array;
  /** Raw samples recorded when the far end's first frame was handed to its AudioSource. */
  readonly farStartIndex: number;
  /** Raw samples recorded when the near-end talker was started (or the user was asked to talk). */
  readonly nearStartIndex: number;
  /** Raw samples recorded when the published track's first frame arrived. */
  readonly publishedStartIndex: number;
  /** Per captured frame: its first sample's ADC time to its hand-over to the AudioSource (ms). */
  readonly captureLatenciesMs: readonly number[];
  /** Stream delay the echo canceller was last given (ms): the echo path as the devices' clocks see it. */
  readonly streamDelayMs: number;
  /** Render delay the capture measured: the player's audio handed to the device -> its DAC time (ms). */
  readonly renderDelayMs: number;
  /** Audio the player had mixed ahead of the device, on average (ms). */
  readonly mixedAheadMs: number;
  /** The capture's and the player's counters at the end. */
  readonly captureStats: InputCaptureStats;
  readonly playerStats: OutputPlayerStats;
}

/** What a pass plays and where. */
export interface PassPlan {
  /** Echo cancellation on or off (noise suppression, high-pass filter and gain control stay off: see README). */
  aec: boolean;
  /** Far-end speech (mono, 48 kHz). */
  far: Int16Array;
  /** When the near-end talker starts, after the far end (ms). */
  nearStartMs: number;
  /** Starts the near-end talker and resolves when it is done. */
  nearEnd: () => Promise<void>;
  speaker: string | undefined;
  microphone: string | undefined;
}

/** Hands mono samples to an AudioSource in 10 ms frames; the source paces them in real time. */
async function publish(source: AudioSource, samples: Int16Array): Promise<void> {
  for (let at = 0; at < samples.length; at += FRAME) {
    // Each frame on its own buffer: rtc-node's AudioFrame ignores a view's byteOffset.
    const data = new Int16Array(FRAME);
    data.set(samples.subarray(at, Math.min(at + FRAME, samples.length)));
    await source.captureFrame(new AudioFrame(data, RATE, 1, FRAME));
  }
  await source.waitForPlayout();
}

/** Runs one pass and returns what it recorded. Everything it opens is closed before it returns. */
export async function runPass(plan: PassPlan): Promise<PassRecording> {
  const devices = new MediaDevices({
    inputSampleRate: RATE,
    outputSampleRate: RATE,
    numChannels: 1,
  });
  const tapDevices = new MediaDevices({ inputSampleRate: RATE, numChannels: 1 });
  const rawChunks: Int16Array[] = [];
  let rawSamples = 0;
  const publishedChunks: Int16Array[] = [];
  let publishedStartIndex = -1;
  const captureLatenciesMs: number[] = [];
  const mixedAhead: number[] = [];
  let reading = true;

  // Any failure during the pass (a device lost, a source that throws) ends it through this promise, raced
  // against each step; it is observed from the start, so one that comes while closing is not unhandled.
  let fail: (error: unknown) => void = () => {};
  const failed = new Promise<never>((_, reject) => (fail = reject));
  failed.catch(() => {});

  const tap = tapDevices.openInput({ ...ALL_OFF, inputDevice: plan.microphone });
  tap.once('error', fail);
  const closers: (() => Promise<void>)[] = [() => tap.aclose()];
  try {
    tap.on('frame', (frame: AudioFrame) => {
      rawChunks.push(frame.data.slice());
      rawSamples += frame.samplesPerChannel;
    });
    const capture = devices.openInput({
      ...ALL_OFF,
      enableAec: plan.aec,
      inputDevice: plan.microphone,
    });
    capture.once('error', fail);
    closers.push(() => capture.aclose());
    capture.on('frame', (_frame, timing) =>
      captureLatenciesMs.push((timing.capturedAt - timing.adcTime) * 1000),
    );
    const micTrack = LocalAudioTrack.createAudioTrack('microphone', capture.source);
    // The capture owns its AudioSource and closes it.
    closers.push(() => micTrack.close(false));
    const micStream = new AudioStream(micTrack, { sampleRate: RATE, numChannels: 1 });
    // Not awaited at the end: an AudioStream whose source has closed yields nothing more.
    (async () => {
      for await (const frame of micStream) {
        if (!reading) break;
        if (publishedStartIndex < 0) publishedStartIndex = rawSamples;
        publishedChunks.push(frame.data.slice());
      }
    })().catch(fail);

    const farSource = new AudioSource(RATE, 1);
    const farTrack = LocalAudioTrack.createAudioTrack('far-end', farSource);
    // Closes its source too.
    closers.push(() => farTrack.close());
    const player = devices.openOutput({ outputDevice: plan.speaker });
    player.once('error', fail);
    closers.push(() => player.aclose());
    await player.addTrack(farTrack);
    await player.start();
    const sampler = setInterval(() => mixedAhead.push((player.bufferedFrames / RATE) * 1000), 50);
    closers.push(async () => clearInterval(sampler));

    await Promise.race([sleep(SETTLE_MS), failed]);
    const farStartIndex = rawSamples;
    const farDone = publish(farSource, plan.far);
    farDone.catch(fail);
    await Promise.race([sleep(plan.nearStartMs), failed]);
    const nearStartIndex = rawSamples;
    const nearDone = plan.nearEnd();
    nearDone.catch(fail);
    await Promise.race([Promise.all([farDone, nearDone]), failed]);
    await Promise.race([sleep(TAIL_MS), failed]);
    reading = false;

    return {
      aec: plan.aec,
      raw: concatSamples(rawChunks),
      published: concatSamples(publishedChunks),
      farStartIndex,
      nearStartIndex,
      publishedStartIndex,
      captureLatenciesMs,
      streamDelayMs: capture.stats.streamDelayMs,
      renderDelayMs: capture.delayEstimator.renderDelayMs,
      mixedAheadMs: mixedAhead.reduce((a, b) => a + b, 0) / Math.max(1, mixedAhead.length),
      captureStats: { ...capture.stats },
      playerStats: { ...player.stats },
    };
  } finally {
    reading = false;
    // Last opened, first closed: the player before the capture it feeds, the tap last; each even when one fails.
    await runCleanup(closers.reverse(), 'closing the pass');
  }
}
