/** Which way audio flows through a device, in the browser's words. */
export type AudioDeviceKind = 'audioinput' | 'audiooutput';

/**
 * An audio device: a PortAudio device, or on Linux a sink (output) or source (input) of the PulseAudio-compatible
 * sound server. A device that can do both directions (a PortAudio duplex device) has channels in both.
 */
export interface AudioDevice {
  /** Position in this process's device list; valid until the sound server's devices change. Prefer `id`. */
  readonly index: number;
  /**
   * Stable identifier across runs: the sound server's own device name (e.g. `alsa_output.pci-0000_00_1f.3.analog-stereo`)
   * for sound-server devices, `<hostApi>:<name>` for PortAudio devices.
   */
  readonly id: string;
  /** Human-readable label (the sound server's description, or PortAudio's device name). */
  readonly name: string;
  /** The host API or sound server the device belongs to, e.g. `ALSA`, `Core Audio`, `PulseAudio`. */
  readonly hostApi: string;
  /** Input channels the device offers (0 for an output-only device). */
  readonly maxInputChannels: number;
  /** Output channels the device offers (0 for an input-only device). */
  readonly maxOutputChannels: number;
  /** The device's own sample rate (Hz). */
  readonly defaultSampleRate: number;
  /** Input latency for interactive use (ms), as the host API suggests it. */
  readonly defaultLowInputLatencyMs: number;
  /** Input latency for robust non-interactive use (ms). */
  readonly defaultHighInputLatencyMs: number;
  /** Output latency for interactive use (ms). */
  readonly defaultLowOutputLatencyMs: number;
  /** Output latency for robust non-interactive use (ms). */
  readonly defaultHighOutputLatencyMs: number;
  /** Whether this is the system's default device for its direction (the sound server's default, if any). */
  readonly isDefault: boolean;
  /** For a sound-server source that records what a sink plays (a "monitor"): that sink's id. */
  readonly monitorOf?: string;
}

/**
 * How a device is chosen: its `index`, its exact `id` or `name`, or a case-insensitive substring of its name or id
 * that matches exactly one device (monitor sources count only when nothing else matches).
 */
export type DeviceSelector = number | string;
