import { AudioFrame, AudioResampler, AudioResamplerQuality } from '@livekit/rtc-node';
import { mapChannels } from './channel_mapping.js';

/** Counters of one playback source. */
export interface PlaybackSourceStats {
  /** Samples per channel received from the source. */
  receivedFrames: number;
  /** Samples per channel dropped to keep a live source under its latency cap. */
  droppedFrames: number;
  /** Samples per channel of silence mixed in because the source had nothing ready when the device needed it. */
  starvedFrames: number;
}

/**
 * @internal
 * One input of the {@link OutputPlayer}'s mix: reads an AsyncIterable of frames into a buffer at the player's
 * format, which the mixer drains at the device's pace.
 * - A pull source (a file, text-to-speech) is read only while its buffer holds less than `prefetchFrames`, so it
 *   plays in real time and nothing is dropped.
 * - A live source (a remote track) is read as fast as it delivers, and when its backlog passes `latencyCapFrames`
 *   (clock drift, an event-loop stall) its oldest audio is dropped, counted.
 */
export class PlaybackSource {
  readonly stats: PlaybackSourceStats = { receivedFrames: 0, droppedFrames: 0, starvedFrames: 0 };
  private readonly chunks: Int16Array[] = [];
  private headOffset = 0;
  private bufferedSamples = 0;
  private ended = false;
  private cancelled = false;
  private wakeReader: (() => void) | undefined;
  private resampler: AudioResampler | undefined;
  private readonly iterator: AsyncIterator<AudioFrame>;
  /** Resolves when the source has ended or failed (never rejects). */
  readonly done: Promise<void>;

  /**
   * @param frames the audio, in any sample rate and channel count
   * @param live whether the source pushes in real time (dropped beyond the cap) or is pulled (never dropped)
   * @param onError receives a failure of the source's iterator; the source then ends
   * @param onDrop receives how many samples per channel a live source just dropped to stay under the cap
   */
  constructor(
    frames: AsyncIterable<AudioFrame>,
    readonly live: boolean,
    private readonly sampleRate: number,
    private readonly channels: number,
    private readonly prefetchFrames: number,
    private readonly latencyCapFrames: number,
    onError: (error: unknown) => void,
    private readonly onDrop: (frames: number) => void,
  ) {
    this.iterator = frames[Symbol.asyncIterator]();
    this.done = this.read()
      .catch(onError)
      .finally(() => {
        this.ended = true;
        this.resampler?.close();
      });
  }

  /** Samples per channel ready to play. */
  get bufferedFrames(): number {
    return this.bufferedSamples / this.channels;
  }

  /** Whether the source has ended and everything it delivered has been played. */
  get finished(): boolean {
    return this.ended && this.bufferedSamples === 0;
  }

  private async read(): Promise<void> {
    while (!this.cancelled) {
      if (!this.live && this.bufferedFrames >= this.prefetchFrames) {
        await new Promise<void>((resolve) => (this.wakeReader = resolve));
        this.wakeReader = undefined;
        continue;
      }
      const next = await this.iterator.next();
      if (next.done || this.cancelled) return;
      this.append(next.value);
    }
  }

  private append(frame: AudioFrame): void {
    let { data, sampleRate } = frame;
    // A view on a larger buffer must not leak its neighbours: copy exactly the frame's samples.
    data = mapChannels(
      data.subarray(0, frame.samplesPerChannel * frame.channels),
      frame.channels,
      this.channels,
    );
    if (sampleRate !== this.sampleRate) {
      if (this.resampler === undefined) {
        this.resampler = new AudioResampler(
          sampleRate,
          this.sampleRate,
          this.channels,
          AudioResamplerQuality.HIGH,
        );
      }
      const input = new AudioFrame(
        data.slice(),
        sampleRate,
        this.channels,
        data.length / this.channels,
      );
      for (const out of this.resampler.push(input)) this.push(out.data);
      sampleRate = this.sampleRate;
      return;
    }
    this.push(data === frame.data ? data.slice() : data);
  }

  private push(samples: Int16Array): void {
    if (samples.length === 0) return;
    this.chunks.push(samples);
    this.bufferedSamples += samples.length;
    this.stats.receivedFrames += samples.length / this.channels;
    if (this.live && this.bufferedFrames > this.latencyCapFrames) {
      const excess = this.bufferedSamples - this.latencyCapFrames * this.channels;
      this.discard(excess);
      this.onDrop(excess / this.channels);
    }
  }

  private discard(samples: number): void {
    this.stats.droppedFrames += samples / this.channels;
    let left = samples;
    while (left > 0) {
      const head = this.chunks[0]!;
      const available = head.length - this.headOffset;
      const take = Math.min(available, left);
      this.headOffset += take;
      left -= take;
      if (this.headOffset === head.length) {
        this.chunks.shift();
        this.headOffset = 0;
      }
    }
    this.bufferedSamples -= samples;
  }

  /**
   * Adds up to `frames` samples per channel into `mix` (a 32-bit accumulator at the player's format) and consumes
   * them; a shortfall counts as starvation unless the source has ended.
   */
  mixInto(mix: Int32Array, frames: number): void {
    const wanted = frames * this.channels;
    let at = 0;
    while (at < wanted && this.chunks.length > 0) {
      const head = this.chunks[0]!;
      const take = Math.min(head.length - this.headOffset, wanted - at);
      for (let i = 0; i < take; i++) mix[at + i]! += head[this.headOffset + i]!;
      at += take;
      this.headOffset += take;
      if (this.headOffset === head.length) {
        this.chunks.shift();
        this.headOffset = 0;
      }
    }
    this.bufferedSamples -= at;
    if (at < wanted && !this.ended) this.stats.starvedFrames += (wanted - at) / this.channels;
    this.wakeReader?.();
  }

  /** Stops reading (the iterator's `return` is called, which closes an AudioStream) and forgets buffered audio. */
  async cancel(): Promise<void> {
    this.cancelled = true;
    this.chunks.length = 0;
    this.bufferedSamples = 0;
    this.wakeReader?.();
    await this.iterator.return?.();
    await this.done;
  }
}
