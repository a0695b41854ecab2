/**
 * A stand-in for a remote participant's track with no server: a LocalAudioTrack on an AudioSource, fed looped
 * samples in real time (10 ms frames from a drift-free timer). An AudioStream on the track (an OutputPlayer's
 * addTrack) receives them as it would a remote track's audio.
 */
import { AudioFrame, AudioSource, LocalAudioTrack } from '@livekit/rtc-node';
import { performance } from 'node:perf_hooks';

const RATE = 48000;
const FRAME = RATE / 100;

/** A live track playing mono 48 kHz samples in a loop until closed. */
export class LoopedTrack {
  /** The track to hand to a player. */
  readonly track: LocalAudioTrack;
  /** 10 ms frames captured into the source so far. */
  framesSent = 0;
  // 100 ms of queue: a late timer's catch-up frames are taken at once instead of blocking the feed.
  private readonly source = new AudioSource(RATE, 1, 100);
  private running = true;
  private readonly feeding: Promise<void>;

  /** @param samples mono 48 kHz audio; its whole 10 ms frames are looped (a partial last frame is left out) */
  constructor(name: string, samples: Int16Array) {
    this.track = LocalAudioTrack.createAudioTrack(name, this.source);
    // Each frame on its own buffer: rtc-node's AudioFrame ignores a view's byteOffset.
    const frames = Array.from(
      { length: Math.floor(samples.length / FRAME) },
      (_, n) => new AudioFrame(samples.slice(n * FRAME, (n + 1) * FRAME), RATE, 1, FRAME),
    );
    if (frames.length === 0) throw new RangeError('LoopedTrack needs at least 10 ms of samples');
    this.feeding = this.feed(frames);
  }

  private async feed(frames: AudioFrame[]): Promise<void> {
    let due = performance.now();
    while (this.running) {
      due += 10;
      const wait = due - performance.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      await this.source.captureFrame(frames[this.framesSent % frames.length]!);
      this.framesSent++;
    }
  }

  /**
   * Stops feeding and closes the track and its source.
   * @throws the error that stopped the feed, if captureFrame failed
   */
  async close(): Promise<void> {
    this.running = false;
    try {
      await this.feeding;
    } finally {
      await this.track.close(); // closes the source too
    }
  }
}
