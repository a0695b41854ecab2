import { LevelMeter, type AudioLevels } from '../level_meter.js';

/** Levels below this (dBFS) are shown as silence: no microphone is that quiet while it picks anything up. */
export const SILENCE_BELOW_DBFS = -100;

/** Level of int16 samples: RMS and peak, in dBFS (a full-scale sine's peak is 0 dBFS; silence reads -150). */
export function levelsDbfs(samples: Int16Array): AudioLevels {
  const meter = new LevelMeter();
  meter.add(samples);
  return meter.take();
}

/** A level for people: `-23.4` (dBFS, one decimal), or `silence` below {@link SILENCE_BELOW_DBFS}. */
export function formatDbfs(dbfs: number): string {
  return dbfs < SILENCE_BELOW_DBFS ? 'silence' : dbfs.toFixed(1);
}

/** A level for JSON: dBFS rounded to 0.1 dB, or null below {@link SILENCE_BELOW_DBFS}. */
export function jsonDbfs(dbfs: number): number | null {
  return dbfs < SILENCE_BELOW_DBFS ? null : round1(dbfs);
}

/** Rounds to one decimal (0.1 dB, 0.1 ms). */
export function round1(value: number): number {
  return Math.round(value * 10) / 10;
}

/**
 * A bar of `width` characters, filled in proportion to `dbfs` between `fromDbfs` and 0 dBFS.
 * @param dbfs level (dBFS)
 * @param fromDbfs level of an empty bar (dBFS)
 */
export function levelBar(dbfs: number, width: number, fromDbfs = -60): string {
  const filled = Math.max(0, Math.min(width, Math.round(((dbfs - fromDbfs) / -fromDbfs) * width)));
  return '#'.repeat(filled) + '.'.repeat(width - filled);
}
