import {
  nativeBinding,
  type NativeSoundServerMonitor,
  type NativeSoundServerSnapshot,
} from './native_binding.js';

/** How long the first read of the device list waits for the sound server's first listing (ms). */
const FIRST_LISTING_TIMEOUT_MS = 1500;

/**
 * @internal
 * The sound server's devices as one long-lived libpulse connection on its own thread keeps them: reads copy its
 * latest snapshot and never wait on the server (except the very first, for up to 1.5 s, while it connects).
 * Changes reach subscribers on the JavaScript thread, each in its own `setImmediate`, so one that throws is an
 * uncaught exception as in any Node callback and does not keep the others from hearing of it. The connection never
 * keeps the process alive, and closes when the process (or worker) exits, `process.exit()` included.
 */
export class SoundServer {
  private readonly monitor: NativeSoundServerMonitor;
  private readonly subscribers = new Set<() => void>();

  private constructor() {
    this.monitor = new (nativeBinding().SoundServerMonitor)(() => {
      for (const subscriber of this.subscribers) setImmediate(subscriber);
    });
    this.monitor.waitForListing(FIRST_LISTING_TIMEOUT_MS);
    // process.exit() skips the addon's environment clean-up: stop libpulse's thread before the exit handlers run.
    process.once('exit', () => this.monitor.close());
  }

  private static instance: SoundServer | undefined;

  /** The process's (or worker's) one connection, made on first use. */
  static get(): SoundServer {
    SoundServer.instance ??= new SoundServer();
    return SoundServer.instance;
  }

  /** What the server's devices, defaults and connection are now. */
  snapshot(): NativeSoundServerSnapshot {
    return this.monitor.snapshot();
  }

  /** Whether the server has stopped answering (connected, but its heartbeat unanswered): a stall, not a loss. */
  stalled(): boolean {
    return this.snapshot().state === 'stalled';
  }

  /** The latest snapshot's generation (bumped on every change), without copying the snapshot. */
  generation(): number {
    return this.monitor.generation();
  }

  /** Calls `onChange` after each change of the snapshot; returns the function that stops it. */
  subscribe(onChange: () => void): () => void {
    const subscriber = (): void => {
      if (this.subscribers.has(subscriber)) onChange();
    };
    this.subscribers.add(subscriber);
    return () => this.subscribers.delete(subscriber);
  }
}
