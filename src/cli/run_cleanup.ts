/**
 * Runs clean-up steps in order, each one even when an earlier one failed (so a player that fails to close still
 * lets the capture close and the WAV header be fixed up), then throws what failed: the error itself when one step
 * failed, an AggregateError when several did.
 * @param what what the steps do, for the AggregateError's message (e.g. "closing the devices")
 * @param describe turns each failure into what is thrown (e.g. redacts secrets from its message)
 */
export async function runCleanup(
  steps: readonly (() => unknown)[],
  what: string,
  describe: (error: unknown) => unknown = (error) => error,
): Promise<void> {
  const failures: unknown[] = [];
  for (const step of steps) {
    try {
      await step();
    } catch (error) {
      failures.push(describe(error));
    }
  }
  if (failures.length === 1) throw failures[0];
  if (failures.length > 1) throw new AggregateError(failures, `${what} failed`);
}
