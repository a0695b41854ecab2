import type { AudioDevice, AudioDeviceKind, DeviceSelector } from '../audio_device.js';
import { AmbiguousDeviceError, DeviceNotFoundError } from '../errors.js';
import { nativeBinding, type NativeDeviceInfo, type NativeServerDevice } from './native_binding.js';
import { warnIfNoSoundServerLibrary } from './sound_server_warning.js';

/** @internal Where a device is opened: a PortAudio device, plus environment that picks a sound-server device. */
export interface OpenTarget {
  portAudioIndex: number;
  env: Record<string, string>;
}

/** @internal A device with what it takes to open it. */
export interface CatalogEntry {
  device: AudioDevice;
  target: OpenTarget;
}

const SOUND_SERVER_HOST_API = 'PulseAudio';
// The ALSA PCM through which ALSA clients reach a PulseAudio-compatible server.
const SOUND_SERVER_PCM = 'pulse';
const SERVER_TIMEOUT_MS = 1500;

const ms = (seconds: number): number => seconds * 1000;

function fromPortAudio(d: NativeDeviceInfo, isDefault: boolean): AudioDevice {
  return {
    index: d.index,
    id: `${d.hostApi}:${d.name}`,
    name: d.name,
    hostApi: d.hostApi,
    maxInputChannels: d.maxInputChannels,
    maxOutputChannels: d.maxOutputChannels,
    defaultSampleRate: d.defaultSampleRate,
    defaultLowInputLatencyMs: ms(d.defaultLowInputLatency),
    defaultHighInputLatencyMs: ms(d.defaultHighInputLatency),
    defaultLowOutputLatencyMs: ms(d.defaultLowOutputLatency),
    defaultHighOutputLatencyMs: ms(d.defaultHighOutputLatency),
    isDefault,
  };
}

function fromSoundServer(
  d: NativeServerDevice,
  kind: AudioDeviceKind,
  index: number,
  isDefault: boolean,
  pcm: NativeDeviceInfo,
): CatalogEntry {
  const input = kind === 'audioinput';
  const device: AudioDevice = {
    index,
    id: d.name,
    name: d.description,
    hostApi: SOUND_SERVER_HOST_API,
    maxInputChannels: input ? d.channels : 0,
    maxOutputChannels: input ? 0 : d.channels,
    defaultSampleRate: d.sampleRate,
    // Streams to the server go through its ALSA PCM, whose latencies are the ones that apply.
    defaultLowInputLatencyMs: input ? ms(pcm.defaultLowInputLatency) : 0,
    defaultHighInputLatencyMs: input ? ms(pcm.defaultHighInputLatency) : 0,
    defaultLowOutputLatencyMs: input ? 0 : ms(pcm.defaultLowOutputLatency),
    defaultHighOutputLatencyMs: input ? 0 : ms(pcm.defaultHighOutputLatency),
    isDefault,
    ...(d.monitorOf ? { monitorOf: d.monitorOf } : {}),
  };
  const env: Record<string, string> = input ? { PULSE_SOURCE: d.name } : { PULSE_SINK: d.name };
  return { device, target: { portAudioIndex: pcm.index, env } };
}

/**
 * @internal
 * A snapshot of every device: PortAudio's devices first (index = PortAudio's index), then, on a system with a
 * PulseAudio-compatible server reachable through ALSA's `pulse` PCM, the server's sinks and sources.
 */
export class DeviceCatalog {
  readonly entries: readonly CatalogEntry[];

  private constructor(entries: CatalogEntry[]) {
    this.entries = entries;
  }

  /** Reads the devices now: PortAudio's list and, where there is one, the sound server's. */
  static read(): DeviceCatalog {
    const native = nativeBinding();
    warnIfNoSoundServerLibrary(native);
    const portAudio = native.listDevices();
    const defaults = native.defaultDevices();
    const pcm = portAudio.find((d) => d.name === SOUND_SERVER_PCM && d.hostApi === 'ALSA');
    const server = pcm ? native.listSoundServerDevices(SERVER_TIMEOUT_MS) : null;

    const entries: CatalogEntry[] = portAudio.map((d) => ({
      device: fromPortAudio(
        d,
        // With a sound server, its own default devices carry the flag instead.
        !server && (d.index === defaults.input || d.index === defaults.output),
      ),
      target: { portAudioIndex: d.index, env: {} },
    }));
    if (server && pcm) {
      for (const sink of server.sinks) {
        entries.push(
          fromSoundServer(
            sink,
            'audiooutput',
            entries.length,
            sink.name === server.defaultSink,
            pcm,
          ),
        );
      }
      for (const source of server.sources) {
        entries.push(
          fromSoundServer(
            source,
            'audioinput',
            entries.length,
            source.name === server.defaultSource,
            pcm,
          ),
        );
      }
    }
    return new DeviceCatalog(entries);
  }

  /** Devices of one direction, in index order. */
  list(kind: AudioDeviceKind): CatalogEntry[] {
    return this.entries.filter((e) =>
      kind === 'audioinput' ? e.device.maxInputChannels > 0 : e.device.maxOutputChannels > 0,
    );
  }

  /** The default device of one direction, if the system has one. */
  defaultEntry(kind: AudioDeviceKind): CatalogEntry | undefined {
    return this.list(kind).find((e) => e.device.isDefault);
  }

  /**
   * Chooses a device of one direction by index, exact id, exact name, or a case-insensitive substring of name or id
   * that matches one device (or one device that is not a monitor of a sink).
   * @throws DeviceNotFoundError when nothing matches; AmbiguousDeviceError when a substring matches several.
   */
  resolve(selector: DeviceSelector, kind: AudioDeviceKind): CatalogEntry {
    const candidates = this.list(kind);
    const describe = (list: CatalogEntry[]): string[] =>
      list.map((e) => `${e.device.index}: ${e.device.id} (${e.device.name})`);
    const words = kind === 'audioinput' ? 'input' : 'output';
    if (typeof selector === 'number') {
      const hit = candidates.find((e) => e.device.index === selector);
      if (!hit) throw new DeviceNotFoundError(selector, describe(candidates), words);
      return hit;
    }
    const exact =
      candidates.find((e) => e.device.id === selector) ??
      candidates.find((e) => e.device.name === selector);
    if (exact) return exact;
    const needle = selector.toLowerCase();
    const matches = candidates.filter(
      (e) =>
        e.device.name.toLowerCase().includes(needle) || e.device.id.toLowerCase().includes(needle),
    );
    if (matches.length === 1) return matches[0]!;
    // "microphone" should not be ambiguous because the server also offers the monitor of a sink of that name.
    const real = matches.filter((e) => e.device.monitorOf === undefined);
    if (real.length === 1) return real[0]!;
    if (matches.length > 1) throw new AmbiguousDeviceError(selector, describe(matches), words);
    throw new DeviceNotFoundError(selector, describe(candidates), words);
  }
}
