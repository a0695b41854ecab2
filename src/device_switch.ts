import type { AudioDevice, AudioDeviceKind, DeviceSelector } from './audio_device.js';
import { DeviceCatalog, type CatalogEntry } from './backend/device_catalog.js';
import { DeviceLostError, MediaDevicesError } from './errors.js';

/**
 * Why an {@link InputCapture} or {@link OutputPlayer} moved to another device:
 * - `requested`: `setInputDevice` / `setOutputDevice` was called;
 * - `default-changed`: it follows the system default (`followDefault`), and another device became the default;
 * - `device-lost`: it follows the system default, and the device it used went away (or stopped delivering).
 */
export type DeviceChangeReason = 'requested' | 'default-changed' | 'device-lost';

/** Payload of the `deviceChanged` event of an {@link InputCapture} or {@link OutputPlayer}. */
export interface DeviceChange {
  /** The device used until now. */
  from: AudioDevice;
  /** The device used from now on. */
  to: AudioDevice;
  /** Why it moved. */
  reason: DeviceChangeReason;
}

/** @internal Where `devicechange` comes from: the MediaDevices that opened the capture or player. */
export interface DeviceChangeSource {
  on(event: 'devicechange', listener: () => void): unknown;
  off(event: 'devicechange', listener: () => void): unknown;
}

/** @internal What a capture or player tells its {@link DeviceSwitcher}, and how it moves. */
export interface SwitchableDevice {
  /** Which direction it uses. */
  readonly kind: AudioDeviceKind;
  /** The device in use now. */
  currentDevice(): AudioDevice;
  /** Whether it has been closed (nothing moves then). */
  isClosed(): boolean;
  /** Throws its typed error when it is closed. */
  checkOpen(): void;
  /**
   * Opens `entry` of `catalog`, starts it and hands the audio over to it, then releases the old device. All or
   * nothing: when it rejects (typed), the old device still runs and nothing of the new one is left open.
   */
  moveTo(entry: CatalogEntry, catalog: DeviceCatalog): Promise<void>;
  /** It moved (emit `deviceChanged`). */
  moved(change: DeviceChange): void;
  /** Following the default, a move to the new default failed; the old device still runs. */
  followFailed(error: unknown): void;
  /** The device went away and no move was possible: it must close with this error. */
  lost(error: DeviceLostError): void;
}

/**
 * @internal
 * Decides when and where a capture or player moves to another device, one move at a time: on request
 * ({@link request}), and, when it follows the system default, whenever the MediaDevices reports a `devicechange`
 * that made another device the default or took the one in use away, and when its watchdog finds the device
 * silent ({@link deviceStopped}). Reads the device list on the JavaScript thread, as `openInput` does.
 */
export class DeviceSwitcher {
  private queue: Promise<void> = Promise.resolve();
  private following: boolean;
  private checkQueued = false;
  private recovering = false;
  private readonly onDeviceChange = (): void => this.queueCheck(undefined);

  constructor(
    private readonly target: SwitchableDevice,
    private readonly devices: DeviceChangeSource,
    followDefault: boolean,
  ) {
    this.following = followDefault;
    if (followDefault) devices.on('devicechange', this.onDeviceChange);
  }

  /** Whether the capture or player follows the system default device. */
  get followsDefault(): boolean {
    return this.following;
  }

  /**
   * Moves to the device `selector` names (after any move under way). Following the default ends once it has moved
   * (asking for the device in use only ends following).
   * @throws (rejects) DeviceNotFoundError, AmbiguousDeviceError, DeviceCapabilityError, AudioBackendError; the old
   *   device still runs. MediaDevicesError once closed.
   */
  request(selector: DeviceSelector): Promise<void> {
    return this.enqueue(async () => {
      this.target.checkOpen();
      const catalog = DeviceCatalog.read();
      const entry = catalog.resolve(selector, this.target.kind);
      const from = this.target.currentDevice();
      if (entry.device.id !== from.id) await this.target.moveTo(entry, catalog);
      this.stopFollowing();
      if (entry.device.id === from.id) return;
      this.target.moved({ from, to: entry.device, reason: 'requested' });
    });
  }

  /**
   * The watchdog found `device` (the one in use) silent or stopped. Following the default, it moves to the default
   * device (the same one again when it came back) and returns true; otherwise returns false and the caller fails.
   */
  deviceStopped(device: AudioDevice): boolean {
    if (!this.following) return false;
    if (!this.recovering) this.queueCheck(device);
    return true;
  }

  /** Stops following (on close, or once a device was chosen by request). */
  stopFollowing(): void {
    if (this.following) this.devices.off('devicechange', this.onDeviceChange);
    this.following = false;
  }

  /** Queues a look at the defaults; with the device the watchdog found stopped, if it did. */
  private queueCheck(stoppedDevice: AudioDevice | undefined): void {
    if (stoppedDevice) this.recovering = true;
    else if (this.checkQueued) return;
    else this.checkQueued = true;
    void this.enqueue(async () => {
      if (!stoppedDevice) this.checkQueued = false;
      try {
        // A move queued before may have left the stopped device already.
        await this.followDefault(stoppedDevice === this.target.currentDevice());
      } finally {
        if (stoppedDevice) this.recovering = false;
      }
    });
  }

  /** Moves to the default device when it changed or when the one in use went away (or `stopped`). */
  private async followDefault(stopped: boolean): Promise<void> {
    if (!this.following || this.target.isClosed()) return;
    const from = this.target.currentDevice();
    let catalog: DeviceCatalog;
    try {
      catalog = DeviceCatalog.read();
    } catch (error) {
      // The MediaDevices reports failed reads itself; a stopped device cannot wait for the next change.
      if (stopped) this.lose(from, error);
      return;
    }
    // No device of its host at all: the list could not be read (a sound server that stalls or went away reads as
    // none), which says nothing of the device itself. The watchdog tells whether it still runs.
    if (!stopped && !catalog.entries.some((e) => e.device.hostApi === from.hostApi)) return;
    const gone = stopped || !catalog.list(this.target.kind).some((e) => e.device.id === from.id);
    const entry = catalog.defaultEntry(this.target.kind);
    if (!gone && (!entry || entry.device.id === from.id)) return;
    if (!entry) {
      this.lose(from, new MediaDevicesError('there is no default device to move to'));
      return;
    }
    try {
      await this.target.moveTo(entry, catalog);
    } catch (error) {
      if (this.target.isClosed()) return;
      if (gone) this.lose(from, error);
      else this.target.followFailed(error);
      return;
    }
    this.target.moved({ from, to: entry.device, reason: gone ? 'device-lost' : 'default-changed' });
  }

  private lose(device: AudioDevice, cause: unknown): void {
    if (this.target.isClosed()) return;
    this.target.lost(
      new DeviceLostError(
        device.id,
        `the device ${device.id} went away and moving to the default device failed`,
        { cause },
      ),
    );
  }

  private enqueue(step: () => Promise<void>): Promise<void> {
    const run = this.queue.then(step);
    this.queue = run.catch(() => undefined);
    return run;
  }
}
