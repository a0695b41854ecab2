import { AudioProcessingModule, type ApmFrame, type AudioProcessingOptions } from './apm.js';
import { DelayEstimator } from './delay_estimator.js';
import { AlreadyOpenError } from './errors.js';

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
  private renderFlush: (() => void) | undefined;

  /** The module, while an input capture with processing is open. */
  get apm(): AudioProcessingModule | undefined {
    return this.module;
  }

  /**
   * @throws AlreadyOpenError when an input capture of the same MediaDevices already processes audio: one echo
   *   canceller serves one microphone.
   */
  checkCaptureFree(): void {
    if (this.module) {
      throw new AlreadyOpenError(
        'this MediaDevices already has an input capture with audio processing open; close it first ' +
          '(one echo canceller serves one microphone)',
      );
    }
  }

  /**
   * Creates the module for an input capture.
   * @throws AlreadyOpenError as {@link checkCaptureFree}.
   */
  acquire(options: AudioProcessingOptions): AudioProcessingModule {
    this.checkCaptureFree();
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
   * @throws AlreadyOpenError when an output player of the same MediaDevices is open: the echo canceller takes one
   *   far end, and two players would each feed it their own audio on their own DAC clock.
   */
  checkRendererFree(): void {
    if (this.renderFlush) {
      throw new AlreadyOpenError(
        'this MediaDevices already has an output player open; close it first, or play every source through ' +
          'it (the echo canceller takes one far end)',
      );
    }
  }

  /**
   * Registers the output player's way to hand over, at once, what its device has played so far.
   * @throws AlreadyOpenError as {@link checkRendererFree}.
   */
  attachRenderer(flush: () => void): void {
    this.checkRendererFree();
    this.renderFlush = flush;
  }

  /** Forgets the player's flush (when it closes). */
  detachRenderer(flush: () => void): void {
    if (this.renderFlush === flush) this.renderFlush = undefined;
  }

  /**
   * Brings the reverse stream up to now before near-end audio is processed. After an event-loop stall both devices
   * have a backlog, and microphone audio processed ahead of the far end it echoes is audio the canceller cannot
   * cancel (it also throws its delay estimate off for seconds).
   */
  catchUpRender(): void {
    if (!this.module) return;
    this.renderFlush?.();
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
