import { AudioProcessingModule, type ApmFrame, type AudioProcessingOptions } from './apm.js';
import { DelayEstimator } from './delay_estimator.js';
import { MediaDevicesError } from './errors.js';

/**
 * @internal
 * The two sides of one echo canceller, shared by the input and the output of a {@link MediaDevices}: the output
 * player hands in what the speakers really played, the input capture processes the microphone. Whichever is opened
 * first, they meet here, so echo cancellation is wired the same way in both orders.
 */
export class SharedAudioProcessing {
  /** Combines render (DAC) and capture (ADC) timestamps into the stream delay. */
  readonly delayEstimator = new DelayEstimator();
  private module: AudioProcessingModule | undefined;
  private readonly renderFlushes = new Set<() => void>();

  /** The module, while an input capture with processing is open. */
  get apm(): AudioProcessingModule | undefined {
    return this.module;
  }

  /**
   * Creates the module for an input capture.
   * @throws MediaDevicesError when another input capture of the same MediaDevices already processes audio: one
   *   echo canceller serves one microphone.
   */
  acquire(options: AudioProcessingOptions): AudioProcessingModule {
    if (this.module) {
      throw new MediaDevicesError(
        'this MediaDevices already has an input capture with audio processing open; close it first ' +
          '(one echo canceller serves one microphone)',
      );
    }
    this.module = new AudioProcessingModule(options);
    return this.module;
  }

  /** Closes the module; the output player then stops feeding a reverse stream. */
  release(module: AudioProcessingModule): void {
    if (this.module !== module) return;
    this.module = undefined;
    module.close();
  }

  /**
   * Registers an output player's way to hand over, at once, what its device has played so far. Every open player
   * feeds the reverse stream.
   */
  attachRenderer(flush: () => void): void {
    this.renderFlushes.add(flush);
  }

  /** Forgets a player's flush (when it closes). */
  detachRenderer(flush: () => void): void {
    this.renderFlushes.delete(flush);
  }

  /**
   * Brings the reverse stream up to now before near-end audio is processed. After an event-loop stall both devices
   * have a backlog, and microphone audio processed ahead of the far end it echoes is audio the canceller cannot
   * cancel (it also throws its delay estimate off for seconds).
   */
  catchUpRender(): void {
    if (!this.module) return;
    for (const flush of this.renderFlushes) flush();
  }

  /**
   * Far end: a 10 ms frame the speakers played, with the DAC time of its first sample (s, device clock).
   * Does nothing while no input capture processes audio.
   */
  render(frame: ApmFrame, dacTime: number, now: number): void {
    if (!this.module) return;
    this.module.processReverseStream(frame);
    this.delayEstimator.noteRender(dacTime, now);
  }

  /**
   * Near end: processes a 10 ms microphone frame in place, after setting the stream delay for it.
   * @param adcTime ADC time of the frame's first sample (s, device clock)
   * @param now the device clock now (s)
   */
  capture(module: AudioProcessingModule, frame: ApmFrame, adcTime: number, now: number): void {
    module.setStreamDelayMs(this.delayEstimator.streamDelayMs(adcTime, now));
    module.processStream(frame);
  }
}
