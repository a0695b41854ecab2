import { loadAddon, type AddonSource } from './addon_loader.js';

/** @internal A PortAudio device as the addon reports it; latencies in seconds. */
export interface NativeDeviceInfo {
  index: number;
  name: string;
  hostApi: string;
  maxInputChannels: number;
  maxOutputChannels: number;
  defaultSampleRate: number;
  defaultLowInputLatency: number;
  defaultHighInputLatency: number;
  defaultLowOutputLatency: number;
  defaultHighOutputLatency: number;
}

/** @internal A PortAudio host API. */
export interface NativeHostApiInfo {
  index: number;
  name: string;
  type: number;
  defaultInputDevice: number;
  defaultOutputDevice: number;
}

/** @internal A sink or source of a PulseAudio-compatible sound server. */
export interface NativeServerDevice {
  name: string;
  description: string;
  channels: number;
  sampleRate: number;
  /** Sources only: the sink whose monitor this source is, or null. */
  monitorOf?: string | null;
}

/** @internal What libpulse reports about the sound server. */
export interface NativeServerListing {
  serverName: string;
  defaultSink: string;
  defaultSource: string;
  sinks: NativeServerDevice[];
  sources: NativeServerDevice[];
}

/** @internal Options of the native stream; latencies in seconds. */
export interface NativeStreamOptions {
  inputDevice?: number;
  inputChannels?: number;
  outputDevice?: number;
  outputChannels?: number;
  sampleRate: number;
  framesPerBuffer: number;
  inputLatency?: number;
  outputLatency?: number;
  ringFrames: number;
  captureRendered?: boolean;
  realtimeScheduling?: boolean;
  env?: Record<string, string>;
  /** Called with `this` = owner after device callbacks. The owner is held weakly while the stream is stopped. */
  onWake: (this: never) => void;
  owner: object;
}

/** @internal Samples drained from a ring, with 6 numbers of timing per block (see BLOCK_FIELDS). */
export interface NativeChunk {
  samples: Int16Array;
  blocks: Float64Array;
}

/** @internal Counters kept by the real-time callback. */
export interface NativeStreamCounters {
  callbacks: number;
  inputOverflows: number;
  inputUnderflows: number;
  outputUnderflows: number;
  outputOverflows: number;
  inputRingOverruns: number;
  inputDroppedFrames: number;
  outputRingUnderruns: number;
  outputSilenceFrames: number;
  renderedRingOverruns: number;
}

/** @internal The addon's stream object. */
export interface NativeAudioStream {
  start(): void;
  stop(): void;
  close(): void;
  readInput(): NativeChunk | null;
  readRendered(): NativeChunk | null;
  write(samples: Int16Array): number;
  outputBufferedFrames(): number;
  outputWritableFrames(): number;
  counters(): NativeStreamCounters;
  info(): { inputLatency: number; outputLatency: number; sampleRate: number };
  time(): number;
  isActive(): boolean;
}

/** @internal The addon's exports. */
export interface NativeBinding {
  AudioStream: new (options: NativeStreamOptions) => NativeAudioStream;
  setQuietProbe(quiet: boolean): void;
  listHostApis(): NativeHostApiInfo[];
  listDevices(): NativeDeviceInfo[];
  defaultDevices(): { input: number; output: number };
  listSoundServerDevices(timeoutMs: number): NativeServerListing | null;
  /** null when libpulse is loaded (or off Linux), else why it could not be (one line). */
  soundServerLibraryError(): string | null;
  openStreamCount(): number;
  portAudioVersion: string;
}

/** @internal Offsets of the timing fields of one block in NativeChunk.blocks. */
export const BLOCK_FIELDS = {
  currentTime: 0,
  inputAdcTime: 1,
  outputDacTime: 2,
  framePosition: 3,
  frames: 4,
  statusFlags: 5,
  size: 6,
} as const;

let loaded: { binding: NativeBinding; path: string; source: AddonSource } | undefined;

function load(): { binding: NativeBinding; path: string; source: AddonSource } {
  if (!loaded) {
    const addon = loadAddon();
    const binding = addon.binding as NativeBinding;
    binding.setQuietProbe(!process.env.LK_AUDIO_DEBUG);
    loaded = { binding, path: addon.path, source: addon.source };
  }
  return loaded;
}

/**
 * @internal The native addon, loaded on first use (addon_loader.ts: LK_AUDIO_BINARY, the platform package, then a
 * local build). PortAudio's ALSA and JACK probes print dozens of lines on stderr when it initialises; they are kept
 * quiet unless LK_AUDIO_DEBUG is set.
 * @throws NativeAddonError when no addon loads.
 */
export function nativeBinding(): NativeBinding {
  return load().binding;
}

/** @internal The file the addon was loaded from and how it was found (loads it if it is not loaded yet). */
export function nativeAddonOrigin(): { path: string; source: AddonSource } {
  const { path, source } = load();
  return { path, source };
}
