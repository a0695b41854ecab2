import type { EventEmitter } from 'node:events';

/**
 * @internal
 * Hands an exception that user code threw (a listener, an async listener's rejection) to Node the way Node reports
 * an exception it cannot give back to anyone: thrown on the next tick, it becomes an `uncaughtException`. With a
 * handler the process goes on; without one it ends as any Node program with an uncaught exception (status 1).
 */
export function reportUncaught(error: unknown): void {
  process.nextTick(() => {
    throw error;
  });
}

/**
 * @internal
 * Emits an event to each listener in turn, each one isolated: a listener that throws (or an async one whose promise
 * rejects) is reported with {@link reportUncaught}, and the listeners after it and the code that emitted (a device
 * wake-up, the capture pump, the mix) go on. An `error` event without a listener is reported the same way, where
 * EventEmitter would throw it into the emitting code.
 * @returns whether the event had listeners.
 */
export function emitIsolated<T extends Record<keyof T, unknown[]>, K extends keyof T & string>(
  emitter: EventEmitter<T>,
  event: K,
  ...args: T[K]
): boolean {
  const plain = emitter as unknown as EventEmitter;
  // Raw listeners: a `once` wrapper removes itself when called, as with emit().
  const listeners = plain.rawListeners(event) as ((...a: unknown[]) => unknown)[];
  if (listeners.length === 0) {
    if (event === 'error') reportUncaught(args[0]);
    return false;
  }
  for (const listener of listeners) {
    try {
      const result = listener.apply(emitter, args);
      if (result instanceof Promise) result.catch(reportUncaught);
    } catch (error) {
      reportUncaught(error);
    }
  }
  return true;
}
