/**
 * Estimates the echo-path delay that the audio processing module needs (its "stream delay"): the time from handing
 * a far-end frame to `processReverseStream` until its echo, captured by the microphone, reaches `processStream`,
 * less the acoustic path itself. It is the sum of
 * - the render delay: from the reverse-stream call to the moment the device's DAC plays that frame, read from the
 *   output callback's DAC timestamps, and
 * - the capture delay: from the moment the ADC captured a frame to the `processStream` call, read from the input
 *   callback's ADC timestamps.
 * Both timestamps come from the device clock (the stream clock of {@link DeviceStream.time}).
 */
export class DelayEstimator {
  // Render delay jitters by a callback period from frame to frame; a short average steadies the hint.
  private static readonly SMOOTHING = 0.1;
  private renderDelaySeconds: number | undefined;
  private lastCaptureDelaySeconds = 0;

  /**
   * Notes a far-end frame handed to the reverse stream.
   * @param dacTime when its first sample reaches the DAC (s, device clock)
   * @param now when it was handed over (s, device clock)
   */
  noteRender(dacTime: number, now: number): void {
    const delay = dacTime - now;
    this.renderDelaySeconds =
      this.renderDelaySeconds === undefined
        ? delay
        : this.renderDelaySeconds + DelayEstimator.SMOOTHING * (delay - this.renderDelaySeconds);
  }

  /**
   * The stream delay for a near-end frame about to be processed (ms, rounded; never negative).
   * @param adcTime when its first sample reached the ADC (s, device clock)
   * @param now when it is processed (s, device clock)
   */
  streamDelayMs(adcTime: number, now: number): number {
    this.lastCaptureDelaySeconds = now - adcTime;
    return Math.max(
      0,
      Math.round((this.lastCaptureDelaySeconds + (this.renderDelaySeconds ?? 0)) * 1000),
    );
  }

  /** The smoothed render delay (ms); 0 until a far-end frame has been noted. */
  get renderDelayMs(): number {
    return (this.renderDelaySeconds ?? 0) * 1000;
  }

  /** The capture delay of the last near-end frame (ms). */
  get captureDelayMs(): number {
    return this.lastCaptureDelaySeconds * 1000;
  }

  /** Whether any far-end audio has been noted (without it, only the capture delay is known). */
  get hasRender(): boolean {
    return this.renderDelaySeconds !== undefined;
  }
}
