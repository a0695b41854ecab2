import { describe, expect, it } from 'vitest';
import { LevelBoard, formatLevelRow } from './level_board.js';

/** A text sink that records what is written. */
function sink(isTTY: boolean) {
  const writes: string[] = [];
  return { isTTY, writes, write: (text: string) => writes.push(text) };
}

const you = { identity: 'me', local: true, rmsDbfs: -20, peakDbfs: -17 };
const ana = { identity: 'ana', local: false, rmsDbfs: -150, peakDbfs: -150 };

describe('level board', () => {
  it('a row: name, (you) for the local participant, a bar 2 dB a character from -60 dBFS, RMS / peak', () => {
    const line = formatLevelRow(you);
    expect(line).toMatch(/^me \(you\) +#{20}\.{10} +-20\.0 \/ -17\.0 dBFS$/);
    expect(formatLevelRow(ana)).toMatch(/^ana +\.{30} silence$/);
  });

  it('shows control characters of an identity as ?, so a name cannot move the cursor', () => {
    expect(formatLevelRow({ ...ana, identity: 'x\u001b[2Jy\n' })).toMatch(/^x\?\[2Jy\? /);
  });

  it('on a terminal redraws in place: back up over the previous board, lines cleared, the rest cleared', () => {
    const out = sink(true);
    const board = new LevelBoard(out);
    board.draw([you, ana]);
    board.draw([you]);
    expect(out.writes[0]).toBe(
      `\u001b[2K${formatLevelRow(you)}\n\u001b[2K${formatLevelRow(ana)}\n\u001b[J`,
    );
    expect(out.writes[1]).toBe(`\u001b[2F\u001b[2K${formatLevelRow(you)}\n\u001b[J`);
  });

  it('elsewhere writes each board after the last, without escape sequences', () => {
    const out = sink(false);
    const board = new LevelBoard(out);
    board.draw([you, ana]);
    board.draw([you]);
    expect(out.writes).toEqual([
      `${formatLevelRow(you)}\n${formatLevelRow(ana)}\n`,
      `${formatLevelRow(you)}\n`,
    ]);
  });
});
