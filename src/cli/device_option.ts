/** A `--device` style option: an index when it is a whole number, otherwise an id or a part of a name. */
export function parseDevice(value: string | undefined): string | number | undefined {
  if (value === undefined) return undefined;
  return /^\d+$/.test(value) ? Number(value) : value;
}
