import { SoundServer } from './backend/sound_server.js';
import type { DeviceStream } from './device_stream.js';

const CHECK_INTERVAL_MS = 500;
// How long a running device may stay without callbacks before it counts as lost.
const SILENCE_LIMIT_MS = 2000;

/**
 * @internal
 * Notices a device that stopped (unplugged, its sound-server device removed, a host error): the stream is no
 * longer active, or its callbacks stopped coming. A sound server that stalls (a suspended or overloaded process,
 * which stops every stream's callbacks while its devices stay) is waited for, not taken for a lost device: the
 * server's own connection tells a stall from a server that is gone. Checks only while `watching()` says so; never
 * keeps the process alive.
 */
export class DeviceWatchdog {
  private readonly timer: NodeJS.Timeout;
  private lastCallbacks = 0;
  private lastCallbackSeen = Date.now();

  constructor(
    private readonly stream: DeviceStream,
    private readonly watching: () => boolean,
    onLost: () => void,
  ) {
    this.timer = setInterval(() => {
      if (this.watching() && this.lost()) onLost();
    }, CHECK_INTERVAL_MS);
    this.timer.unref();
  }

  private lost(): boolean {
    const callbacks = this.stream.stats.callbacks;
    const now = Date.now();
    if (callbacks !== this.lastCallbacks) {
      this.lastCallbacks = callbacks;
      this.lastCallbackSeen = now;
    }
    if (!this.stream.active) return true;
    if (now - this.lastCallbackSeen <= SILENCE_LIMIT_MS) return false;
    return !(this.stream.viaSoundServer && SoundServer.get().stalled());
  }

  /** Stops checking. */
  stop(): void {
    clearInterval(this.timer);
  }
}
