/**
 * A command line the tool cannot run: a wrong or missing option, an unknown or ambiguous device, a file that is
 * missing or not WAV. lk-audio prints its message and hint (one line each) and exits with status 2.
 */
export class CliUsageError extends Error {
  constructor(
    message: string,
    /** What to do about it, e.g. `run "lk-audio devices" to list them`; by default the command's `--help`. */
    readonly hint?: string,
  ) {
    super(message);
    this.name = 'CliUsageError';
  }
}
