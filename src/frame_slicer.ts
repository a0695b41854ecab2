/**
 * Cuts a stream of interleaved int16 audio, arriving in chunks of any size, into frames of exactly
 * `samplesPerFrame` samples per channel, keeping every sample, and stamps each frame with the time of its first
 * sample. The chunk sizes of a device (256 samples, 1024, varying) never show in the frames.
 */
export class FrameSlicer {
  private readonly pending: Int16Array;
  private pendingSamples = 0;
  private pendingStartTime = 0;

  /**
   * @param samplesPerFrame samples per channel in each frame (480 for 10 ms at 48 kHz)
   * @param channels interleaved channels
   * @param sampleRate sample rate (Hz), to stamp frames cut from the middle of a chunk
   */
  constructor(
    readonly samplesPerFrame: number,
    readonly channels: number,
    readonly sampleRate: number,
  ) {
    this.pending = new Int16Array(samplesPerFrame * channels);
  }

  /** Samples per channel held back until the next chunk completes a frame. */
  get pendingFrames(): number {
    return this.pendingSamples / this.channels;
  }

  /**
   * Adds a chunk and hands every frame it completes to `onFrame`, in order. Each frame's data is a new array
   * that the receiver owns.
   * @param samples interleaved samples; a whole number of samples per channel
   * @param startTime time of the chunk's first sample (s, any clock); frames are stamped on that clock
   * @param onFrame receives each frame and the time of its first sample (s)
   */
  push(
    samples: Int16Array,
    startTime: number,
    onFrame: (data: Int16Array, time: number) => void,
  ): void {
    const frameLength = this.pending.length;
    let at = 0;
    if (this.pendingSamples === 0) this.pendingStartTime = startTime;
    if (this.pendingSamples > 0) {
      const take = Math.min(frameLength - this.pendingSamples, samples.length);
      this.pending.set(samples.subarray(0, take), this.pendingSamples);
      this.pendingSamples += take;
      at = take;
      if (this.pendingSamples < frameLength) return;
      onFrame(this.pending.slice(), this.pendingStartTime);
      this.pendingSamples = 0;
    }
    for (; at + frameLength <= samples.length; at += frameLength) {
      onFrame(
        samples.slice(at, at + frameLength),
        startTime + at / this.channels / this.sampleRate,
      );
    }
    if (at < samples.length) {
      this.pending.set(samples.subarray(at));
      this.pendingSamples = samples.length - at;
      this.pendingStartTime = startTime + at / this.channels / this.sampleRate;
    }
  }

  /** Forgets the held-back samples (after a discontinuity). */
  reset(): void {
    this.pendingSamples = 0;
  }
}
