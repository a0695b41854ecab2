/** Summaries of measured values for benchmark reports. */

/** Rounds to `digits` decimals. */
export const round = (value: number, digits = 2): number =>
  Math.round(value * 10 ** digits) / 10 ** digits;

/** Largest and mean of a series of values, kept without storing them. */
export class MaxMean {
  private sum = 0;
  private count = 0;
  private largest = -Infinity;

  add(value: number): void {
    this.sum += value;
    this.count++;
    if (value > this.largest) this.largest = value;
  }

  /** `{ max, mean, n }`, rounded; max and mean are null when nothing was added. */
  summary(): { max: number | null; mean: number | null; n: number } {
    return this.count === 0
      ? { max: null, mean: null, n: 0 }
      : { max: round(this.largest), mean: round(this.sum / this.count), n: this.count };
  }
}

/** Quantiles of stored values: p50, p99 and max, null when there are none. */
export function quantiles(values: readonly number[]): {
  p50: number | null;
  p99: number | null;
  max: number | null;
  n: number;
} {
  if (values.length === 0) return { p50: null, p99: null, max: null, n: 0 };
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number) =>
    round(sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!);
  return { p50: at(0.5), p99: at(0.99), max: round(sorted[sorted.length - 1]!), n: values.length };
}
