import { AudioBackendError, MediaDevicesError } from './errors.js';
import { reportUncaught } from './listener_isolation.js';

/** @internal Registers a part just taken and how to give it back; returns the part. */
export type Take = <T>(part: T, release: (part: T) => void) => T;

/**
 * @internal
 * Builds something out of parts (a device stream, an echo canceller slot, a resampler, an AudioSource) all or
 * nothing: when `build` throws, every part it took is released, last first, and the error is rethrown typed (an
 * error from elsewhere, such as the LiveKit FFI, becomes an {@link AudioBackendError} with it as the cause). A release
 * that fails too is reported as an `uncaughtException`, so the first error is the one thrown.
 */
export function openAllOrNothing<R>(build: (take: Take) => R): R {
  const taken: (() => void)[] = [];
  const take: Take = (part, release) => {
    taken.push(() => release(part));
    return part;
  };
  try {
    return build(take);
  } catch (error) {
    for (const release of taken.reverse()) {
      try {
        release();
      } catch (releaseError) {
        reportUncaught(releaseError);
      }
    }
    if (error instanceof MediaDevicesError) throw error;
    throw new AudioBackendError(
      `opening failed: ${(error as Error)?.message ?? String(error)}`,
      undefined,
      {
        cause: error,
      },
    );
  }
}
