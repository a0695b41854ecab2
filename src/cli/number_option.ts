import { InvalidArgumentError } from '@commander-js/extra-typings';

/** What {@link numberInRange} accepts besides its range. */
export interface NumberRangeOptions {
  /** Whether `min` itself is refused (for "more than 0"). Default false. */
  aboveMin?: boolean;
  /** Only whole multiples of this (1 for whole numbers). Default: any number. */
  step?: number;
}

/**
 * A commander argument parser for a number option: `--seconds 2.5` becomes the number 2.5, and a value outside
 * `min..max` (in `unit`) or not a number is refused with a message that says what is accepted.
 * @param min smallest value accepted, in `unit`
 * @param max largest value accepted, in `unit`
 * @param unit unit printed after the figures, e.g. `s`, `ms`, `Hz` (empty for none)
 */
export function numberInRange(
  min: number,
  max: number,
  unit: string,
  { aboveMin = false, step }: NumberRangeOptions = {},
): (value: string) => number {
  const u = unit ? ` ${unit}` : '';
  const kind = step === 1 ? 'a whole number' : step ? `a multiple of ${step}${u}` : 'a number';
  const range = aboveMin
    ? `more than ${min}${u} and at most ${max}${u}`
    : `from ${min} to ${max}${u}`;
  const expected = `must be ${kind} ${range}`;
  return (value: string): number => {
    const n = value.trim() === '' ? NaN : Number(value);
    const inRange = aboveMin ? n > min && n <= max : n >= min && n <= max;
    const onStep = step === undefined || Number.isInteger(n / step);
    if (!inRange || !onStep) throw new InvalidArgumentError(expected);
    return n;
  };
}
