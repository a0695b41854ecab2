// Digital silence reads this (dBFS) rather than -Infinity, which JSON cannot carry.
const SILENCE_DBFS = -150;

/** Level of int16 samples: RMS and peak, in dBFS (a full-scale sine's peak is 0 dBFS; silence reads -150). */
export function levelsDbfs(samples: Int16Array): { rmsDbfs: number; peakDbfs: number } {
  let sum = 0;
  let peak = 0;
  for (const v of samples) {
    sum += v * v;
    peak = Math.max(peak, Math.abs(v));
  }
  const rms = Math.sqrt(sum / Math.max(1, samples.length));
  const dbfs = (v: number) => Math.max(SILENCE_DBFS, 20 * Math.log10(v / 32768));
  return { rmsDbfs: dbfs(rms), peakDbfs: dbfs(peak) };
}
