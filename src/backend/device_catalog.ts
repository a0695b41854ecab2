import type { AudioDevice, AudioDeviceKind, DeviceSelector } from '../audio_device.js';
import { AmbiguousDeviceError, DeviceNotFoundError, InvalidOptionError } from '../errors.js';
import {
  nativeBinding,
  type NativeDeviceInfo,
  type NativeServerDevice,
  type NativeSoundServerSnapshot,
} from './native_binding.js';
import { SoundServer } from './sound_server.js';
import { warnIfNoSoundServerLibrary } from './sound_server_warning.js';

/**
 * @internal Where a device is opened: a PortAudio device or, for a sound-server sink or source, the ALSA PCM that
 * reaches the server plus the server's name for the device.
 */
export interface OpenTarget {
  portAudioIndex: number;
  serverDevice?: string;
}

/** @internal A device with what it takes to open it. */
export interface CatalogEntry {
  device: AudioDevice;
  target: OpenTarget;
}

const SOUND_SERVER_HOST_API = 'PulseAudio';
// The ALSA PCM through which ALSA clients reach a PulseAudio-compatible server.
const SOUND_SERVER_PCM = 'pulse';

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
  return { device, target: { portAudioIndex: pcm.index, serverDevice: d.name } };
}

/** PortAudio's devices and defaults: fixed from its initialisation on, so read once. */
let portAudioList:
  | {
      portAudio: NativeDeviceInfo[];
      defaults: { input: number; output: number };
      pcm?: NativeDeviceInfo;
    }
  | undefined;

function portAudioDevices(): NonNullable<typeof portAudioList> {
  if (!portAudioList) {
    const native = nativeBinding();
    const portAudio = native.listDevices();
    portAudioList = {
      portAudio,
      defaults: native.defaultDevices(),
      pcm: portAudio.find((d) => d.name === SOUND_SERVER_PCM && d.hostApi === 'ALSA'),
    };
  }
  return portAudioList;
}

/** The last catalog read, and the sound server's snapshot generation it was made from. */
let cached: { generation: number | undefined; catalog: DeviceCatalog } | undefined;

/**
 * @internal
 * A snapshot of every device: PortAudio's devices first (index = PortAudio's index), then, on a system with a
 * PulseAudio-compatible server reachable through ALSA's `pulse` PCM, the server's sinks and sources as its
 * connection last listed them (kept while the server is stalled or gone: see `soundServer`).
 */
export class DeviceCatalog {
  readonly entries: readonly CatalogEntry[];
  /** The sound server's connection when the catalog was read; undefined on a system without one. */
  readonly soundServer: NativeSoundServerSnapshot | undefined;

  private constructor(entries: CatalogEntry[], soundServer: NativeSoundServerSnapshot | undefined) {
    this.entries = entries;
    this.soundServer = soundServer;
  }

  /**
   * Reads the devices now: PortAudio's list (its snapshot from start-up) and, where there is one, the sound
   * server's from its connection's latest snapshot. Never waits on the server, but for its first listing.
   */
  static read(): DeviceCatalog {
    warnIfNoSoundServerLibrary(nativeBinding());
    const { portAudio, defaults, pcm } = portAudioDevices();
    const server = pcm ? SoundServer.get() : undefined;
    // Reads between two changes of the sound server's snapshot share one catalog: an application reading the lists
    // on every devicechange costs one native copy per change, not per read.
    const generation = server?.generation();
    if (cached && cached.generation === generation) return cached.catalog;
    const snapshot = server?.snapshot();
    const listing = snapshot?.listing ?? null;

    const entries: CatalogEntry[] = portAudio.map((d) => ({
      device: fromPortAudio(
        d,
        // With a sound server, its own default devices carry the flag instead.
        !listing && (d.index === defaults.input || d.index === defaults.output),
      ),
      target: { portAudioIndex: d.index },
    }));
    if (listing && pcm) {
      for (const sink of listing.sinks) {
        entries.push(
          fromSoundServer(
            sink,
            'audiooutput',
            entries.length,
            sink.name === listing.defaultSink,
            pcm,
          ),
        );
      }
      for (const source of listing.sources) {
        entries.push(
          fromSoundServer(
            source,
            'audioinput',
            entries.length,
            source.name === listing.defaultSource,
            pcm,
          ),
        );
      }
    }
    for (const entry of entries) Object.freeze(entry.device);
    const catalog = new DeviceCatalog(entries, snapshot);
    // Without a sound server (no generation) PortAudio's list alone never changes: cached for good.
    cached = { generation, catalog };
    return catalog;
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
   * @throws DeviceNotFoundError when nothing matches; AmbiguousDeviceError when a substring matches several;
   *   InvalidOptionError for a selector that is neither a number nor a string.
   */
  resolve(selector: DeviceSelector, kind: AudioDeviceKind): CatalogEntry {
    if (typeof selector !== 'number' && typeof selector !== 'string') {
      throw new InvalidOptionError('device', selector, 'an index, an id or a name');
    }
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
