import { NO_SOUND_SERVER_LIBRARY_WARNING } from '../backend/sound_server_warning.js';

const PACKAGE_PREFIX = 'livekit-media-devices: ';

/**
 * Prints the package's own process warnings (such as {@link NO_SOUND_SERVER_LIBRARY_WARNING}) as one line,
 * `lk-audio: warning: ...`, instead of Node.js's `(node:PID) [CODE] Warning: ...` and its `--trace-warnings` hint.
 * Every other warning still goes to the listeners Node.js (or the program) had installed.
 */
export function printPackageWarnings(): void {
  const previous = process.listeners('warning');
  process.removeAllListeners('warning');
  process.on('warning', (warning: Error & { code?: string }) => {
    if (warning.code === NO_SOUND_SERVER_LIBRARY_WARNING) {
      const text = warning.message.startsWith(PACKAGE_PREFIX)
        ? warning.message.slice(PACKAGE_PREFIX.length)
        : warning.message;
      console.error(`lk-audio: warning: ${text}`);
      return;
    }
    for (const listener of previous) listener.call(process, warning);
  });
}
