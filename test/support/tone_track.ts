/**
 * A stand-in for a remote participant's audio track, with no server: a LocalAudioTrack on an AudioSource, fed a
 * tone in real time (10 ms frames from a drift-free timer). Anything that plays a track (an AudioStream on it)
 * receives the tone, as it would a remote track.
 */
import { performance } from 'node:perf_hooks';
import { AudioFrame, AudioSource, LocalAudioTrack } from '@livekit/rtc-node';
import { sleep } from './device_io.js';
import { sineInt16 } from './signal.js';

const RATE = 48000;
const FRAME = RATE / 100;

export class ToneTrack {
  /** The track to hand to a player (or to emit as subscribed). */
  readonly track: LocalAudioTrack;
  private readonly source = new AudioSource(RATE, 1, 100);
  private running = true;
  private readonly feeding: Promise<void>;

  /**
   * @param hz tone frequency (Hz), a whole number: one second of it is looped, seamlessly
   * @param peakDbfs peak level of the tone (dBFS)
   */
  constructor(name: string, hz: number, peakDbfs: number) {
    this.track = LocalAudioTrack.createAudioTrack(name, this.source);
    // One second of tone, looped frame by frame; each frame on its own buffer (rtc-node ignores a view's offset).
    const tone = sineInt16(hz, RATE, RATE, peakDbfs);
    const frames = Array.from(
      { length: 100 },
      (_, n) => new AudioFrame(tone.slice(n * FRAME, (n + 1) * FRAME), RATE, 1, FRAME),
    );
    this.feeding = this.feed(frames);
  }

  private async feed(frames: AudioFrame[]): Promise<void> {
    let due = performance.now();
    for (let n = 0; this.running; n++) {
      due += 10;
      const wait = due - performance.now();
      if (wait > 0) await sleep(wait);
      await this.source.captureFrame(frames[n % frames.length]!);
    }
  }

  /** Stops feeding and closes the track and its source. */
  async close(): Promise<void> {
    this.running = false;
    await this.feeding;
    await this.track.close();
  }
}
