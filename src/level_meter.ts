/** Level reported for digital silence, or when no audio came in (dBFS); JSON cannot carry -Infinity. */
export const SILENCE_DBFS = -150;

/** RMS and peak level of some audio, in dBFS (a full-scale sine's peak is 0 dBFS, its RMS -3.01 dBFS). */
export interface AudioLevels {
  /** Root-mean-square level (dBFS). */
  rmsDbfs: number;
  /** Largest sample magnitude (dBFS). */
  peakDbfs: number;
}

const toDbfs = (value: number): number =>
  value > 0 ? Math.max(SILENCE_DBFS, 20 * Math.log10(value / 32768)) : SILENCE_DBFS;

/** Accumulates int16 samples and reports their level since the last report. */
export class LevelMeter {
  private sumOfSquares = 0;
  private count = 0;
  private peak = 0;

  /** Adds samples (interleaved int16; all channels count alike). */
  add(samples: Int16Array): void {
    let sum = 0;
    let peak = this.peak;
    for (const v of samples) {
      sum += v * v;
      const magnitude = v < 0 ? -v : v;
      if (magnitude > peak) peak = magnitude;
    }
    this.sumOfSquares += sum;
    this.count += samples.length;
    this.peak = peak;
  }

  /** The level of everything added since the last call ({@link SILENCE_DBFS} if nothing was), then starts over. */
  take(): AudioLevels {
    const rms = this.count > 0 ? Math.sqrt(this.sumOfSquares / this.count) : 0;
    const levels = { rmsDbfs: toDbfs(rms), peakDbfs: toDbfs(this.peak) };
    this.sumOfSquares = 0;
    this.count = 0;
    this.peak = 0;
    return levels;
  }
}
