/**
 * One line of a terminal redrawn in place (progress, a level meter). On a stream that is not a terminal it
 * writes nothing: a log or a pipe gets no carriage returns.
 */
export class StatusLine {
  private shown = false;

  constructor(private readonly stream: NodeJS.WriteStream = process.stderr) {}

  /** Whether the stream is a terminal (and so lines are drawn). */
  get active(): boolean {
    return this.stream.isTTY === true;
  }

  /** Replaces the line with `text`, cut to the terminal's width. */
  update(text: string): void {
    if (!this.active) return;
    const width = Math.max(20, (this.stream.columns || 80) - 1);
    this.stream.write(`\r${text.slice(0, width)}\x1b[K`);
    this.shown = true;
  }

  /** Clears the line, so what is printed next starts at the left. */
  clear(): void {
    if (!this.shown) return;
    this.stream.write('\r\x1b[K');
    this.shown = false;
  }
}
