import { formatDbfs, levelBar } from './levels.js';

/**
 * The progress line of long work (record, play, tone), under 80 columns:
 * `recording   1.2 s / 5.0 s  ######..............  -23.4 dBFS`.
 * @param verb what is going on, e.g. `recording`
 * @param elapsedS seconds done
 * @param totalS seconds in all, or undefined when open-ended (until Ctrl-C)
 * @param dbfs level of the latest audio (dBFS)
 */
export function progressText(
  verb: string,
  elapsedS: number,
  totalS: number | undefined,
  dbfs: number,
): string {
  const of = totalS === undefined ? ' (Ctrl-C ends)' : ` / ${totalS.toFixed(1)} s`;
  const level = `${formatDbfs(dbfs)}${dbfs < -100 ? '' : ' dBFS'}`;
  return `${verb} ${elapsedS.toFixed(1).padStart(6)} s${of}  ${levelBar(dbfs, 20)}  ${level}`;
}
