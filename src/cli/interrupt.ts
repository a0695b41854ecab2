/**
 * Runs until Ctrl-C (SIGINT) or until `start` ends it: resolves on the first SIGINT (which then no longer kills
 * the process, so the caller can close devices and keep what it has), or when `start` calls `done`; rejects when
 * `start` calls `fail`. The SIGINT handler is removed when it settles.
 * @param start sets up the work; may call `done` or `fail` later
 */
export async function waitForInterrupt(
  start: (done: () => void, fail: (error: Error) => void) => void = () => {},
): Promise<void> {
  let onInterrupt = (): void => {};
  try {
    await new Promise<void>((resolve, reject) => {
      onInterrupt = () => resolve();
      process.once('SIGINT', onInterrupt);
      start(resolve, reject);
    });
  } finally {
    process.off('SIGINT', onInterrupt);
  }
}
