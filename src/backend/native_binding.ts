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

/** @internal The state of the connection to the sound server (see native/pulse_devices.h). */
export type NativeSoundServerState = 'connecting' | 'ready' | 'stalled' | 'disconnected';

/** @internal What the sound-server monitor knows now. */
export interface NativeSoundServerSnapshot {
  state: NativeSoundServerState;
  /** Why the state is not `ready`; empty when it is. */
  reason: string;
  /** Bumped on every change of state or listing. */
  generation: number;
  /** The last complete listing (kept while the server is stalled or gone); null before the first. */
  listing: NativeServerListing | null;
}

/**
 * @internal One long-lived libpulse connection on its own thread. `onChange` runs on the JavaScript thread after
 * the snapshot changed (several changes may share one call) and must not throw.
 */
export interface NativeSoundServerMonitor {
  /** A copy of the latest snapshot; never waits on the server. */
  snapshot(): NativeSoundServerSnapshot;
  /** The latest snapshot's generation, without copying the snapshot. */
  generation(): number;
  /** Blocks until the first listing or the first failure to connect, at most `timeoutMs` (ms); true with a listing. */
  waitForListing(timeoutMs: number): boolean;
  /** Stops the thread and disconnects; idempotent. */
  close(): void;
}

/** @internal What both native streams take (PortAudio's and libpulse's); latencies in seconds. */
interface NativeStreamCommonOptions {
  inputChannels?: number;
  outputChannels?: number;
  sampleRate: number;
  /** The block (samples per channel); for libpulse, its minreq and fragsize (0 = 10 ms). */
  framesPerBuffer: number;
  inputLatency?: number;
  outputLatency?: number;
  ringFrames: number;
  captureRendered?: boolean;
  realtimeScheduling?: boolean;
  /** Called with `this` = owner after device callbacks. The owner is held weakly while the stream is stopped. */
  onWake: (this: never) => void;
  owner: object;
  /** Sources mixed into the output at every callback (this stream's only; its channels are the output's). */
  mixer?: NativeSourceMixer;
}

/** @internal Options of the native PortAudio stream. */
export interface NativeStreamOptions extends NativeStreamCommonOptions {
  inputDevice?: number;
  outputDevice?: number;
  /** A sound-server source opened through the ALSA PCM `inputDevice` (its latencies apply). */
  inputServerDevice?: string;
  /** A sound-server sink opened through the ALSA PCM `outputDevice`. */
  outputServerDevice?: string;
}

/**
 * @internal The addon's mixer of playback sources, mixed at the output callback. Slots are numbers; every method
 * but `addSource` throws for a slot not handed out (or given back).
 */
export interface NativeSourceMixer {
  /** A free slot, or -1 when all are taken. */
  addSource(): number;
  /** Frames (samples per channel) accepted: as many whole frames as the slot's ring has room for. */
  write(slot: number, samples: Int16Array): number;
  /** Frames written and not yet mixed. */
  bufferedFrames(slot: number): number;
  /** Linear gain from the next callback on (0-16). */
  setGain(slot: number, gain: number): void;
  /** The source ended: what it holds still plays, then it is drained. */
  finishSource(slot: number): void;
  /** Whether a finished source's last frame has been mixed. */
  isDrained(slot: number): boolean;
  /** Gives the slot back; what it still holds is not played. */
  removeSource(slot: number): void;
  /** Frames mixed, and frames the ring lacked while the source was active. */
  sourceCounters(slot: number): { mixedFrames: number; starvedFrames: number };
  /** Callbacks in which a source lacked audio, and the frames of silence that left in the mix (the longest gap). */
  counters(): { underruns: number; underrunFrames: number };
}

/**
 * @internal Options of the native libpulse stream (native/pulse_stream.h): the sound server's source / sink names
 * (the server's default when omitted); latencies in seconds.
 */
export interface NativePulseStreamOptions extends NativeStreamCommonOptions {
  inputServerDevice?: string;
  outputServerDevice?: string;
  /** PA_STREAM_ADJUST_LATENCY: the buffer sizes are the whole latency, device buffer included. */
  adjustLatency?: boolean;
  /** Longest wait for the server to accept the connection and the streams (ms). */
  openTimeoutMs?: number;
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
  /** From now on the callback plays silence and touches nothing else; never blocks. */
  makeInert(): void;
  readInput(): NativeChunk | null;
  readRendered(): NativeChunk | null;
  write(samples: Int16Array): number;
  outputBufferedFrames(): number;
  outputWritableFrames(): number;
  counters(): NativeStreamCounters;
  info(): { inputLatency: number; outputLatency: number; sampleRate: number };
  /** The stream clock (s), extrapolated from the latest callback; NaN before the first callback. */
  time(): number;
  isActive(): boolean;
}

/** @internal The addon's exports. */
export interface NativeBinding {
  AudioStream: new (options: NativeStreamOptions) => NativeAudioStream;
  SourceMixer: new (options: {
    channels: number;
    sources: number;
    ringFrames: number;
  }) => NativeSourceMixer;
  /** A sound-server stream on libpulse with the AudioStream's face; throws where libpulse is unusable. */
  PulseStream: new (options: NativePulseStreamOptions) => NativeAudioStream;
  setQuietProbe(quiet: boolean): void;
  listHostApis(): NativeHostApiInfo[];
  listDevices(): NativeDeviceInfo[];
  defaultDevices(): { input: number; output: number };
  SoundServerMonitor: new (onChange: () => void) => NativeSoundServerMonitor;
  /** null when libpulse is loaded (or off Linux), else why it could not be (one line). */
  soundServerLibraryError(): string | null;
  openStreamCount(): number;
  /** Makes every stream this thread has open inert (its callback plays silence, touches nothing); never blocks. */
  quiesceAllStreams(): void;
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
    // process.exit() skips the addon's environment clean-up: the device callbacks go inert before the exit
    // handlers run (closing could block on a stalled sound server; the system releases the devices at exit). A
    // worker's end closes its streams through that clean-up.
    process.once('exit', () => binding.quiesceAllStreams());
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
