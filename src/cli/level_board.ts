import type { AudioLevels } from '../level_meter.js';
import { formatDbfs, levelBar } from './levels.js';

/** One line of the board: who, and how loud over the last interval. */
export interface LevelRow extends AudioLevels {
  /** The participant's identity. */
  identity: string;
  /** Whether this is the local participant (the microphone). */
  local: boolean;
}

const BAR_WIDTH = 30; // one character per 2 dB, from -60 dBFS
const NAME_WIDTH = 24;

/** An identity as it may be shown on a terminal: control characters (escape sequences) become `?`. */
function printable(identity: string): string {
  // eslint-disable-next-line no-control-regex
  return identity.replace(/[\u0000-\u001f\u007f-\u009f]/g, '?');
}

/** A row as text: name (`(you)` for the local participant), level bar, RMS / peak dBFS (or `silence`). */
export function formatLevelRow(row: LevelRow): string {
  const name = `${printable(row.identity)}${row.local ? ' (you)' : ''}`.padEnd(NAME_WIDTH);
  const level =
    formatDbfs(row.rmsDbfs) === 'silence'
      ? 'silence'
      : `${formatDbfs(row.rmsDbfs).padStart(6)} / ${formatDbfs(row.peakDbfs)} dBFS`;
  return `${name} ${levelBar(row.rmsDbfs, BAR_WIDTH)} ${level}`;
}

/**
 * Level lines on a text stream: on a terminal the board is redrawn in place (the cursor goes back up over the
 * previous board), elsewhere each board is written after the last.
 */
export class LevelBoard {
  private drawnLines = 0;

  /** @param out where to write: `process.stdout`, or any text sink that says whether it is a terminal. */
  constructor(private readonly out: { readonly isTTY?: boolean; write(text: string): unknown }) {}

  /** Writes the rows, replacing the previous board on a terminal. */
  draw(rows: readonly LevelRow[]): void {
    const lines = rows.map(formatLevelRow);
    if (!this.out.isTTY) {
      this.out.write(`${lines.join('\n')}\n`);
      return;
    }
    // Back to the start of the previous board, each line cleared before it is written, and whatever the previous
    // board had below cleared too.
    const up = this.drawnLines > 0 ? `\u001b[${this.drawnLines}F` : '';
    this.out.write(`${up}${lines.map((l) => `\u001b[2K${l}\n`).join('')}\u001b[J`);
    this.drawnLines = lines.length;
  }
}
