import {
  apmFrameSamples,
  AudioProcessingModule,
  type AudioProcessingOptions,
  type AudioProcessingStats,
} from './apm.js';
import { AudioFormatMismatchError } from './errors.js';
import { readWav, writeWav, type WavAudio } from './wav.js';

/** Options of {@link cancelEcho}. Echo cancellation is always on; the other stages default to off. */
export interface OfflineAecOptions extends Omit<AudioProcessingOptions, 'echoCancellation'> {
  /**
   * Stream delay hint (ms): how long after a far-end sample its echo appears in the near end, both files starting
   * at the same instant. 0 (the default) lets the echo canceller find delays up to a few hundred ms itself.
   * Values outside 0..500 ms are clamped and counted in `stats.delayClamps`.
   */
  delayMs?: number;
}

/** Result of {@link cancelEcho}. */
export interface OfflineAecResult {
  /** The near end with the echo removed: same rate, channels and length as the near-end input. */
  audio: WavAudio;
  /** Counters of the audio processing module that did the work. */
  stats: AudioProcessingStats;
}

/**
 * Removes the echo of a far-end recording (what the speaker played) from a near-end recording (what the
 * microphone heard), 10 ms frame by 10 ms frame, as a live call would. Both start at the same instant; a far end
 * shorter than the near end is continued with silence, and a final partial frame is padded with silence and cut
 * off again. The output lags the input by the processing delay (about 9 ms with echo cancellation alone).
 * @param near near-end audio; its sample rate must be one the module accepts (see `APM_SAMPLE_RATES`)
 * @param far far-end audio at the same sample rate; its channel count may differ
 * @throws {AudioFormatMismatchError} if the sample rates differ
 * @throws {InvalidAudioFrameError} if the module does not accept the sample rate or channel count
 */
export function cancelEcho(
  near: WavAudio,
  far: WavAudio,
  options: OfflineAecOptions = {},
): OfflineAecResult {
  if (far.sampleRate !== near.sampleRate) {
    throw new AudioFormatMismatchError(
      'sampleRate',
      near.sampleRate,
      far.sampleRate,
      'far-end audio must have the sample rate of the near-end audio',
    );
  }
  const frame = apmFrameSamples(near.sampleRate);
  const nearFrames = Math.ceil(near.samples.length / near.channels / frame);
  // Whole frames of both, zero-padded; each frame is then a subarray processed in place.
  const out = new Int16Array(nearFrames * frame * near.channels);
  out.set(near.samples);
  const farStep = frame * far.channels;
  const farPadded = new Int16Array(nearFrames * farStep);
  farPadded.set(far.samples.subarray(0, farPadded.length));

  const { delayMs = 0, ...stages } = options;
  using apm = new AudioProcessingModule({ ...stages, echoCancellation: true });
  const nearStep = frame * near.channels;
  for (let i = 0; i < nearFrames; i++) {
    apm.processReverseStream({
      data: farPadded.subarray(i * farStep, (i + 1) * farStep),
      sampleRate: far.sampleRate,
      channels: far.channels,
      samplesPerChannel: frame,
    });
    apm.setStreamDelayMs(delayMs);
    apm.processStream({
      data: out.subarray(i * nearStep, (i + 1) * nearStep),
      sampleRate: near.sampleRate,
      channels: near.channels,
      samplesPerChannel: frame,
    });
  }
  return {
    audio: {
      sampleRate: near.sampleRate,
      channels: near.channels,
      samples: out.slice(0, near.samples.length),
    },
    stats: apm.stats,
  };
}

/**
 * {@link cancelEcho} from WAV files to a WAV file: reads `nearPath` (microphone) and `farPath`
 * (speaker), writes the echo-cancelled near end to `outPath`.
 * @returns the module's counters, e.g. to report a clamped delay
 * @throws {WavFormatError} for an input that is not a WAV file {@link readWav} reads
 * @throws {AudioFormatMismatchError} if the sample rates differ
 */
export async function cancelEchoFiles(
  nearPath: string,
  farPath: string,
  outPath: string,
  options: OfflineAecOptions = {},
): Promise<AudioProcessingStats> {
  const [near, far] = await Promise.all([readWav(nearPath), readWav(farPath)]);
  const { audio, stats } = cancelEcho(near, far, options);
  await writeWav(outPath, audio);
  return stats;
}
