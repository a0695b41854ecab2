import { DeviceCatalog } from './backend/device_catalog.js';
import type { NativeSoundServerSnapshot } from './backend/native_binding.js';
import { SoundServer } from './backend/sound_server.js';

/** Payload of the MediaDevices `warning` event: a fault of the device watch, which goes on. */
export interface MediaDevicesWarning {
  /**
   * `sound-server-stalled`: the server stopped answering; `sound-server-unavailable`: the connection to it failed or
   * was lost (it is retried every second); `device-list-failed`: reading the device list threw. Meanwhile the
   * device lists stay as they were last read.
   */
  code: 'sound-server-stalled' | 'sound-server-unavailable' | 'device-list-failed';
  /** Human-readable description, with the reason the server or libpulse gave. */
  message: string;
  /** The underlying error, if any. */
  cause?: unknown;
}

/** What identifies a device list for change detection: ids, directions and which devices are the defaults. */
function signature(catalog: DeviceCatalog): string {
  return catalog.entries
    .map(
      ({ device: d }) =>
        `${d.id}|${d.maxInputChannels}|${d.maxOutputChannels}|${d.isDefault ? 'default' : ''}`,
    )
    .join('\n');
}

function warningOf(server: NativeSoundServerSnapshot): MediaDevicesWarning | undefined {
  if (server.state === 'stalled') {
    return { code: 'sound-server-stalled', message: `sound server stalled: ${server.reason}` };
  }
  if (server.state === 'disconnected') {
    return {
      code: 'sound-server-unavailable',
      message: `sound server unavailable: ${server.reason}`,
    };
  }
  return undefined;
}

/**
 * @internal
 * Notices devices coming, going or becoming the default, without polling: the sound server's connection (see
 * backend/sound_server.ts) says when its snapshot changed, and the list is compared then (PortAudio's own list is
 * its snapshot from start-up and does not change). A stalled or lost server is a warning, once per episode; its
 * devices stay as last seen, so it causes no `devicechange` by itself. Never keeps the process alive.
 */
export class DeviceChangeWatcher {
  private unsubscribe: (() => void) | undefined;
  private last = '';
  private lastWarning: MediaDevicesWarning['code'] | undefined;

  constructor(
    private readonly onChange: () => void,
    private readonly onWarning: (warning: MediaDevicesWarning) => void,
  ) {}

  /** Starts watching from the current list. Starting twice does nothing. */
  start(): void {
    if (this.unsubscribe) return;
    const catalog = DeviceCatalog.read();
    this.last = signature(catalog);
    this.lastWarning = undefined;
    if (catalog.soundServer) {
      this.unsubscribe = SoundServer.get().subscribe(() => this.check());
      this.warnIfUnwell(catalog.soundServer);
    } else {
      this.unsubscribe = () => {};
    }
  }

  /** Stops watching. */
  stop(): void {
    this.unsubscribe?.();
    this.unsubscribe = undefined;
  }

  private check(): void {
    let catalog: DeviceCatalog;
    try {
      catalog = DeviceCatalog.read();
    } catch (error) {
      this.onWarning({
        code: 'device-list-failed',
        message: `reading the device list failed: ${String(error)}`,
        cause: error,
      });
      return;
    }
    if (catalog.soundServer) this.warnIfUnwell(catalog.soundServer);
    const now = signature(catalog);
    if (now === this.last) return;
    this.last = now;
    this.onChange();
  }

  private warnIfUnwell(server: NativeSoundServerSnapshot): void {
    // Once per episode: a lost server's reason changes as reconnection attempts fail ("refused", ...).
    const warning = warningOf(server);
    if (warning?.code !== this.lastWarning) {
      this.lastWarning = warning?.code;
      if (warning) this.onWarning(warning);
    }
  }
}
