import { AudioFrame, AudioResampler, AudioResamplerQuality } from '@livekit/rtc-node';
import { mapChannels } from './channel_mapping.js';

/** Mixes over which a live source must hold spare backlog throughout before it is dropped (1 s of 10 ms blocks). */
const LATENCY_WINDOW_BLOCKS = 100;
/** Windows in a row whose backlog never dipped into a live source's jitter margin before the margin is halved. */
const MARGIN_HOLD_WINDOWS = 30;

/** Counters of one playback source. */
export interface PlaybackSourceStats {
  /** Samples per channel received from the source. */
  receivedFrames: number;
  /** Samples per channel dropped to keep a live source under its latency cap. */
  droppedFrames: number;
  /** Samples per channel of spare backlog a live source dropped to bring its latency back down (see take). */
  correctedFrames: number;
  /** Samples per channel of silence mixed in because the source had nothing ready when the device needed it. */
  starvedFrames: number;
}

/** @internal Counters all at zero. */
export function emptyPlaybackSourceStats(): PlaybackSourceStats {
  return { receivedFrames: 0, droppedFrames: 0, correctedFrames: 0, starvedFrames: 0 };
}

/** @internal How a {@link PlaybackSource} reads and trims. Frame counts are samples per channel at the player's rate. */
export interface PlaybackSourceOptions {
  /** Whether the source pushes in real time (trimmed beyond the cap) or is pulled (never dropped). */
  live: boolean;
  /** The player's sample rate (Hz). */
  sampleRate: number;
  /** The player's channels. */
  channels: number;
  /** How far ahead a pull source is read. */
  prefetchFrames: number;
  /** Backlog beyond which a live source's oldest audio is dropped. */
  latencyCapFrames: number;
  /** Backlog a live source is trimmed down to when it passes the cap: its steady level, so latency returns to normal. */
  trimToFrames: number;
  /** Receives a failure of the source's iterator (then the source ends), or of its `return` when it is removed. */
  onError: (error: unknown) => void;
  /** Receives how many samples per channel a live source just dropped. */
  onDrop: (frames: number) => void;
  /** Called when audio arrived, so that it can go on to the mixer at once. */
  onAudio: () => void;
}

/**
 * @internal
 * One input of the {@link OutputPlayer}'s mix: reads an AsyncIterable of frames into a buffer at the player's
 * format, from which the player keeps the source's ring in the device's mixer filled (see {@link take}).
 * - A pull source (a file, text-to-speech) is read only while its buffer holds less than `prefetchFrames`, so it
 *   plays in real time and nothing is dropped.
 * - A live source (a remote track) is read as fast as it delivers, and when its backlog passes `latencyCapFrames`
 *   (clock drift, an event-loop stall) its oldest audio is dropped down to `trimToFrames`, counted. Trimming only to
 *   the cap would leave the source playing a cap's worth late from then on. While nothing mixes, a backlog of four
 *   times the cap is cut to twice the cap, so memory stays bounded. Below the cap, backlog the source held spare
 *   for a whole second is dropped too (latency correction), so a stall's leftover lateness does not stay; what
 *   it keeps is a jitter margin, grown by what each starve lacked, so a source that is late now and then keeps the
 *   cushion it needs.
 */
export class PlaybackSource {
  readonly stats = emptyPlaybackSourceStats();
  private readonly chunks: Int16Array[] = [];
  private headOffset = 0;
  private bufferedSamples = 0;
  private ended = false;
  private cancelled = false;
  private wakeReader: (() => void) | undefined;
  // Latency correction of a live source (see correctLatency): the current window's mixes, its smallest backlog at a
  // mix and whether a mix starved; the jitter margin kept from correction, and the windows in a row that left it
  // untouched.
  private readonly correction = {
    blocks: 0,
    minFrames: Infinity,
    starved: false,
    marginFrames: 0,
    untouchedWindows: 0,
    // Mixes since the source's first audio: starves before it has played a window are its start, not jitter.
    mixesPlayed: 0,
    // Spare backlog a correction found that its ring held: dropped from the audio that arrives next.
    owedFrames: 0,
  };
  private resampler: AudioResampler | undefined;
  private readonly iterator: AsyncIterator<AudioFrame>;
  /** Resolves when the source has ended or failed (never rejects). */
  readonly done: Promise<void>;

  /** Whether the source pushes in real time rather than being pulled. */
  readonly live: boolean;
  private readonly sampleRate: number;
  private readonly channels: number;
  private readonly prefetchFrames: number;
  private readonly latencyCapFrames: number;
  private readonly trimToFrames: number;
  private readonly onDrop: (frames: number) => void;
  private readonly onError: (error: unknown) => void;
  private readonly onAudio: () => void;

  /** @param frames the audio, in any sample rate and channel count */
  constructor(frames: AsyncIterable<AudioFrame>, options: PlaybackSourceOptions) {
    this.live = options.live;
    this.sampleRate = options.sampleRate;
    this.channels = options.channels;
    this.prefetchFrames = options.prefetchFrames;
    this.latencyCapFrames = options.latencyCapFrames;
    this.trimToFrames = Math.min(options.trimToFrames, options.latencyCapFrames);
    this.onDrop = options.onDrop;
    this.onError = options.onError;
    this.onAudio = options.onAudio;
    this.iterator = frames[Symbol.asyncIterator]();
    this.done = this.read()
      .catch(this.onError)
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
      if (this.cancelled) return;
      if (next.done) {
        // The resampler holds back its filter's last few ms: without this, every resampled stream ends short.
        if (this.resampler) for (const out of this.resampler.flush()) this.push(out.data);
        return;
      }
      this.append(next.value);
    }
  }

  private append(frame: AudioFrame): void {
    const { sampleRate } = frame;
    // Only the frame's own samples (its data may be a view on a larger buffer), mapped to the player's channels.
    const own = frame.data.subarray(0, frame.samplesPerChannel * frame.channels);
    const mapped = mapChannels(own, frame.channels, this.channels);
    // The producer may reuse its buffer once the frame is handed over: keep a copy, never a view.
    const data = mapped === own ? own.slice() : mapped;
    if (sampleRate === this.sampleRate) {
      this.push(data);
      return;
    }
    this.resampler ??= new AudioResampler(
      sampleRate,
      this.sampleRate,
      this.channels,
      AudioResamplerQuality.HIGH,
    );
    const input = new AudioFrame(data, sampleRate, this.channels, data.length / this.channels);
    for (const out of this.resampler.push(input)) this.push(out.data);
  }

  private push(samples: Int16Array): void {
    if (samples.length === 0) return;
    this.chunks.push(samples);
    this.bufferedSamples += samples.length;
    this.stats.receivedFrames += samples.length / this.channels;
    // The cap is enforced when taken (see take); this only bounds memory while nothing mixes (the player not
    // started yet, a stalled device), cutting to twice the cap so that the next mix still cuts to the steady backlog.
    if (this.live && this.bufferedFrames > 4 * this.latencyCapFrames) {
      this.trimTo(2 * this.latencyCapFrames);
    }
    this.onAudio();
  }

  /** Drops the oldest audio so that `frames` samples per channel are left, and reports it. */
  private trimTo(frames: number): void {
    const excess = this.bufferedSamples - frames * this.channels;
    this.consume(excess);
    this.stats.droppedFrames += excess / this.channels;
    this.onDrop(excess / this.channels);
  }

  /** Consumes up to `samples` of the oldest audio (interleaved), copying it into `into` if given; returns how many. */
  private consume(samples: number, into?: Int16Array): number {
    let at = 0;
    while (at < samples && this.chunks.length > 0) {
      const head = this.chunks[0]!;
      const take = Math.min(head.length - this.headOffset, samples - at);
      into?.set(head.subarray(this.headOffset, this.headOffset + take), at);
      at += take;
      this.headOffset += take;
      if (this.headOffset === head.length) {
        this.chunks.shift();
        this.headOffset = 0;
      }
    }
    this.bufferedSamples -= at;
    return at;
  }

  /**
   * Takes up to `frames` samples per channel of the oldest audio into `into` (interleaved, the player's format) for
   * the source's ring in the mixer; returns the samples per channel taken. A live source is first kept under its
   * latency cap: its backlog here, beyond what its ring holds, is what the cap bounds.
   */
  take(into: Int16Array, frames: number): number {
    // Checked here rather than as audio arrives, so that a burst (frames delivered late, all at once) is cut once,
    // as a whole, down to the steady backlog; cut frame by frame, its tail would build the backlog up again.
    if (this.live && this.bufferedFrames > this.latencyCapFrames) this.trimTo(this.trimToFrames);
    if (this.correction.owedFrames > 0) this.dropSpare(this.correction.owedFrames);
    const taken = this.consume(frames * this.channels, into) / this.channels;
    this.wakeReader?.();
    return taken;
  }

  /**
   * The mixer lacked `frames` samples per channel of this source's audio when the device needed them. A live source
   * that has played for a window arrived that much later than its margin covered: the margin grows by as much (up
   * to `trimToFrames`). The lateness still to be dropped was just used up.
   */
  noteStarved(frames: number): void {
    const c = this.correction;
    this.stats.starvedFrames += frames;
    c.starved = true;
    c.owedFrames = 0;
    if (this.live && c.mixesPlayed >= LATENCY_WINDOW_BLOCKS) {
      c.marginFrames = Math.min(c.marginFrames + frames, this.trimToFrames);
    }
  }

  /**
   * The device has just mixed a block: notes a live source's backlog, what waits here and in its ring, and drops
   * what was spare (see below). Called once per device wake-up, after the source was taken from.
   * @param ringFrames what the source's ring in the mixer holds now (samples per channel at the player's rate)
   */
  noteMixed(ringFrames = 0): void {
    if (this.live) this.correctLatency(ringFrames);
  }

  /**
   * Drops a live source's spare backlog: audio that waited (here and in its ring) right after every mix of a window
   * of {@link LATENCY_WINDOW_BLOCKS}, less the source's jitter margin; what is dropped comes from here, the oldest
   * first, and what the ring held of it from the audio that arrives next, as it comes. Each starved mix or device
   * underrun leaves a live source a little later for good (it produces at the device's pace, so nothing catches
   * up); without this its latency would creep up to the cap. But a source that starved had arrived later than its
   * backlog covered, and will again: each starve adds what was missing to the margin (see noteStarved), so the
   * correction leaves that much in place, and the source's cushion follows the lateness it has shown instead of
   * being cut and starved in turn. A margin that {@link MARGIN_HOLD_WINDOWS} windows in a row never dipped into is
   * halved, so latency comes back down once the jitter has gone.
   * @param ringFrames what the source's ring holds (samples per channel)
   */
  private correctLatency(ringFrames: number): void {
    const c = this.correction;
    if (this.stats.receivedFrames > 0) c.mixesPlayed++;
    c.minFrames = Math.min(c.minFrames, this.bufferedFrames + ringFrames);
    if (++c.blocks < LATENCY_WINDOW_BLOCKS) return;
    const least = c.minFrames;
    const starved = c.starved;
    c.blocks = 0;
    c.minFrames = Infinity;
    c.starved = false;
    if (starved || least < c.marginFrames) {
      c.untouchedWindows = 0;
    } else if (++c.untouchedWindows >= MARGIN_HOLD_WINDOWS) {
      c.marginFrames = Math.floor(c.marginFrames / 2);
      c.untouchedWindows = 0;
    }
    const spare = Math.floor(least - c.marginFrames);
    if (!starved && spare >= 1) this.dropSpare(spare);
  }

  /** Drops up to `frames` of the oldest audio here as latency correction; what is not here yet is owed. */
  private dropSpare(frames: number): void {
    const dropped = Math.min(frames, this.bufferedFrames);
    this.consume(dropped * this.channels);
    this.stats.correctedFrames += dropped;
    this.correction.owedFrames = frames - dropped;
  }

  /**
   * Stops reading and forgets buffered audio; resolves once the iterator's `return` has (which closes an
   * AudioStream). A read still pending on the iterator is not waited for: it is dropped when it comes.
   */
  async cancel(): Promise<void> {
    this.cancelled = true;
    this.chunks.length = 0;
    this.bufferedSamples = 0;
    this.wakeReader?.();
    try {
      await this.iterator.return?.();
    } catch (error) {
      this.onError(error);
    }
  }
}
