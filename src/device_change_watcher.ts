import { DeviceCatalog } from './backend/device_catalog.js';

/** How often the device list is read while someone listens for changes (ms). */
const POLL_MS = 1000;

/** What identifies a device list for change detection: ids, directions and which devices are the defaults. */
function signature(catalog: DeviceCatalog): string {
  return catalog.entries
    .map(
      ({ device: d }) =>
        `${d.id}|${d.maxInputChannels}|${d.maxOutputChannels}|${d.isDefault ? 'default' : ''}`,
    )
    .join('\n');
}

/**
 * @internal
 * Notices devices coming, going or becoming the default, by reading the device list every second while it runs
 * (the sound server's devices are read live; PortAudio's own list is its snapshot from start-up). Never keeps the
 * process alive. A failed read is reported to `onError` and the watch goes on.
 */
export class DeviceChangeWatcher {
  private timer: NodeJS.Timeout | undefined;
  private last = '';

  constructor(
    private readonly onChange: () => void,
    private readonly onError: (error: unknown) => void,
  ) {}

  /** Starts watching from the current list. Starting twice does nothing. */
  start(): void {
    if (this.timer) return;
    this.last = signature(DeviceCatalog.read());
    this.timer = setInterval(() => this.check(), POLL_MS);
    this.timer.unref();
  }

  /** Stops watching. */
  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  private check(): void {
    let now: string;
    try {
      now = signature(DeviceCatalog.read());
    } catch (error) {
      this.onError(error);
      return;
    }
    if (now === this.last) return;
    this.last = now;
    this.onChange();
  }
}
