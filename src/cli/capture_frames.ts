import type { AudioFrame } from '@livekit/rtc-node';
import type { InputCapture } from '../input_capture.js';

/** Frames held for a reader that does not keep up (10 ms each); older ones are dropped. */
const MAX_QUEUED = 50;

/**
 * A capture's frames (processed, as it publishes them) as a live stream for `OutputPlayer.addStream(frames,
 * { live: true })`: it yields each frame as it comes and ends when {@link CaptureFrames.end} is called.
 */
export class CaptureFrames implements AsyncIterable<AudioFrame> {
  private readonly queue: AudioFrame[] = [];
  private wake: (() => void) | undefined;
  private ended = false;
  private readonly onFrame = (frame: AudioFrame): void => {
    this.queue.push(frame);
    if (this.queue.length > MAX_QUEUED) this.queue.shift();
    this.wake?.();
  };

  constructor(private readonly capture: InputCapture) {
    capture.on('frame', this.onFrame);
  }

  /** Stops listening; the stream ends after the frames already queued. */
  end(): void {
    this.ended = true;
    this.capture.off('frame', this.onFrame);
    this.wake?.();
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<AudioFrame> {
    for (;;) {
      const frame = this.queue.shift();
      if (frame) {
        yield frame;
        continue;
      }
      if (this.ended) return;
      await new Promise<void>((resolve) => (this.wake = resolve));
      this.wake = undefined;
    }
  }
}
