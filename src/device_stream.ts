import { EventEmitter } from 'node:events';
import type { AudioDevice, DeviceSelector } from './audio_device.js';
import { DeviceCatalog, type CatalogEntry } from './backend/device_catalog.js';
import {
  pulseAdjustLatency,
  soundServerBackend,
  type SoundServerBackend,
} from './backend/sound_server_backend.js';
import { throughSoundServer } from './backend/sound_server_route.js';
import { closeNativeStream } from './backend/stream_closer.js';
import {
  BLOCK_FIELDS,
  nativeBinding,
  type NativeAudioStream,
  type NativeChunk,
  type NativeSourceMixer,
  type NativeStreamCounters,
} from './backend/native_binding.js';
import {
  AudioBackendError,
  DeviceCapabilityError,
  InvalidOptionError,
  MediaDevicesError,
} from './errors.js';
import { emitIsolated } from './listener_isolation.js';

/** Lowest and highest sample rates (Hz) a stream accepts before asking the device. */
export const MIN_SAMPLE_RATE = 8000;
/** @see MIN_SAMPLE_RATE */
export const MAX_SAMPLE_RATE = 384000;
const MAX_FRAMES_PER_BUFFER = 65536;
// Longest a libpulse stream's open waits for the server to accept it (ms); PortAudio's ALSA plugin has its own.
const PULSE_OPEN_TIMEOUT_MS = 2000;

/** One direction of a {@link DeviceStream}. */
export interface DeviceStreamDirection {
  /** The device: index, id or name substring; the default device of this direction when omitted. */
  device?: DeviceSelector;
  /** Interleaved channels to open, 1..the device's maximum. */
  channels: number;
  /**
   * Latency to ask the host for (ms), or the device's `'low'` (default) or `'high'` suggestion. The host may round
   * it; {@link DeviceStream.latency} tells what it settled on.
   */
  latencyMs?: number | 'low' | 'high';
}

/** Options of {@link DeviceStream.open}: an input, an output, or both (one full-duplex stream). */
export interface DeviceStreamOptions {
  /** Capture side; omit for an output-only stream. */
  input?: DeviceStreamDirection;
  /** Playback side; omit for an input-only stream. */
  output?: DeviceStreamDirection;
  /** Sample rate of both directions (Hz). */
  sampleRate: number;
  /** Samples per channel per callback; 0 (default) lets the host choose its own, varying, size. */
  framesPerBuffer?: number;
  /** Capacity of each ring between the audio thread and JavaScript (ms of audio); default 1000. */
  ringMs?: number;
  /** Also deliver what the output really played, with its DAC times, as `rendered` events. Default false. */
  captureRendered?: boolean;
  /**
   * Run the device callback at real-time priority where the host API and the process's rights allow it (Linux
   * ALSA: SCHED_FIFO, which needs root or an rtprio limit; elsewhere the host decides). Default true.
   */
  realtimeScheduling?: boolean;
  /**
   * How a stream whose devices are all sound-server sinks or sources (`hostApi: 'PulseAudio'`) reaches the server:
   * `'libpulse'` (its own protocol, exact buffer sizes) or `'portaudio'` (through ALSA's `pulse` plugin). Other
   * devices always use PortAudio. Default: the environment variable `LK_AUDIO_SOUND_SERVER_BACKEND`, else
   * `'libpulse'`.
   */
  soundServerBackend?: SoundServerBackend;
  /** @internal Sources mixed into the output at every callback, after what {@link DeviceStream.write} gave it. */
  mixer?: NativeSourceMixer;
}

/** Timing of one device callback's worth of audio. Times are seconds on the stream's clock ({@link DeviceStream.time}). */
export interface AudioBlockTiming {
  /** Samples per channel in this block. */
  frames: number;
  /** Position of the block's first sample since the stream started (samples per channel). */
  framePosition: number;
  /** When the callback ran (s). */
  currentTime: number;
  /** When the block's first input sample reached the ADC (s); 0 on an output-only stream. */
  adcTime: number;
  /** When the block's first output sample reaches the DAC (s); 0 on an input-only stream. */
  dacTime: number;
  /** PortAudio's callback status flags (1 input underflow, 2 input overflow, 4 output underflow, 8 output overflow). */
  statusFlags: number;
}

/** Audio drained from the device: interleaved int16 samples and the timing of each block they came in. */
export interface TimedAudio {
  /** Interleaved samples; `samples.length / channels` samples per channel. */
  samples: Int16Array;
  /** Interleaved channels in `samples`. */
  channels: number;
  /** The callbacks the samples came from, in order; their `frames` add up to the samples per channel. */
  blocks: AudioBlockTiming[];
}

/** Counters of a running stream; all count since the stream was opened. */
export type DeviceStreamStats = NativeStreamCounters;

/**
 * Events of a {@link DeviceStream}. A listener that throws is reported as an `uncaughtException` (the process ends
 * as with any uncaught exception unless it handles that); the other listeners and the stream go on.
 */
export interface DeviceStreamEvents {
  /** Captured audio is ready (emitted only while there is a listener; otherwise call {@link DeviceStream.readInput}). */
  input: [audio: TimedAudio];
  /** What the output played, when opened with `captureRendered` (emitted only while there is a listener). */
  rendered: [audio: TimedAudio];
  /** The output consumed audio: there is room to {@link DeviceStream.write} more. */
  writable: [];
}

function toTimedAudio(chunk: NativeChunk | null, channels: number): TimedAudio | null {
  if (!chunk) return null;
  const blocks: AudioBlockTiming[] = [];
  const b = chunk.blocks;
  for (let i = 0; i < b.length; i += BLOCK_FIELDS.size) {
    blocks.push({
      frames: b[i + BLOCK_FIELDS.frames]!,
      framePosition: b[i + BLOCK_FIELDS.framePosition]!,
      currentTime: b[i + BLOCK_FIELDS.currentTime]!,
      adcTime: b[i + BLOCK_FIELDS.inputAdcTime]!,
      dacTime: b[i + BLOCK_FIELDS.outputDacTime]!,
      statusFlags: b[i + BLOCK_FIELDS.statusFlags]!,
    });
  }
  return { samples: chunk.samples, channels, blocks };
}

function checkInteger(option: string, value: number, min: number, max: number): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new InvalidOptionError(option, value, `an integer from ${min} to ${max}`);
  }
}

function latencySeconds(
  option: string,
  latency: DeviceStreamDirection['latencyMs'],
  low: number,
  high: number,
): number {
  if (latency === undefined || latency === 'low') return low / 1000;
  if (latency === 'high') return high / 1000;
  if (typeof latency !== 'number' || !Number.isFinite(latency) || latency < 0 || latency > 10_000) {
    throw new InvalidOptionError(option, latency, "a latency from 0 to 10000 ms, 'low' or 'high'");
  }
  return latency / 1000;
}

/**
 * @internal Throws InvalidOptionError (naming `option`) unless `rate` is a sample rate a device stream may run at
 * (Hz); it need not make whole 10 ms frames.
 */
export function checkStreamSampleRate(option: string, rate: unknown): void {
  if (
    typeof rate !== 'number' ||
    !Number.isFinite(rate) ||
    rate < MIN_SAMPLE_RATE ||
    rate > MAX_SAMPLE_RATE
  ) {
    throw new InvalidOptionError(option, rate, `${MIN_SAMPLE_RATE} to ${MAX_SAMPLE_RATE} Hz`);
  }
}

/**
 * A device stream on one device (or two, full duplex) moving int16 samples through lock-free rings: PortAudio, or
 * for sound-server devices optionally libpulse ({@link DeviceStreamOptions.soundServerBackend}), with the same
 * behaviour.
 * The audio thread never waits for JavaScript: when JavaScript falls behind, the rings overrun or underrun and
 * {@link DeviceStream.stats} counts it. A started stream keeps the process alive until it is stopped or closed.
 */
export class DeviceStream extends EventEmitter<DeviceStreamEvents> {
  /** Sample rate of both directions (Hz). */
  readonly sampleRate: number;
  /** Interleaved input channels (0 without input). */
  readonly inputChannels: number;
  /** Interleaved output channels (0 without output). */
  readonly outputChannels: number;
  /** The input device, if any. */
  readonly inputDevice?: AudioDevice;
  /** The output device, if any. */
  readonly outputDevice?: AudioDevice;

  /** What drives the stream: PortAudio, or libpulse for sound-server devices (see `soundServerBackend`). */
  readonly backend: SoundServerBackend;

  private readonly captureRendered: boolean;
  private native: NativeAudioStream | undefined;
  private finalStats: DeviceStreamStats | undefined;

  private constructor(options: DeviceStreamOptions, catalog: DeviceCatalog) {
    super();
    const { input, output, sampleRate } = options;
    if (!input && !output)
      throw new InvalidOptionError('input/output', undefined, 'at least one direction');
    checkStreamSampleRate('sampleRate', sampleRate);
    const framesPerBuffer = options.framesPerBuffer ?? 0;
    checkInteger('framesPerBuffer', framesPerBuffer, 0, MAX_FRAMES_PER_BUFFER);
    const ringMs = options.ringMs ?? 1000;
    if (!Number.isFinite(ringMs) || ringMs < 10 || ringMs > 60_000) {
      throw new InvalidOptionError('ringMs', ringMs, 'from 10 to 60000 ms');
    }
    const ringFrames = Math.max(Math.ceil((ringMs * sampleRate) / 1000), 2 * framesPerBuffer);

    const inputEntry = input && DeviceStream.pick(catalog, input, 'audioinput');
    const outputEntry = output && DeviceStream.pick(catalog, output, 'audiooutput');
    this.sampleRate = sampleRate;
    this.captureRendered = (options.captureRendered ?? false) && output !== undefined;
    this.inputChannels = input?.channels ?? 0;
    this.outputChannels = output?.channels ?? 0;
    if (inputEntry) this.inputDevice = inputEntry.device;
    if (outputEntry) this.outputDevice = outputEntry.device;

    const serverBackend = soundServerBackend(options.soundServerBackend);
    const onServer = (entry: CatalogEntry | undefined): boolean =>
      entry === undefined || entry.target.serverDevice !== undefined;
    this.backend =
      serverBackend === 'libpulse' && onServer(inputEntry) && onServer(outputEntry)
        ? 'libpulse'
        : 'portaudio';
    const inputLatency =
      inputEntry && input
        ? latencySeconds(
            'input.latencyMs',
            input.latencyMs,
            inputEntry.device.defaultLowInputLatencyMs,
            inputEntry.device.defaultHighInputLatencyMs,
          )
        : undefined;
    const outputLatency =
      outputEntry && output
        ? latencySeconds(
            'output.latencyMs',
            output.latencyMs,
            outputEntry.device.defaultLowOutputLatencyMs,
            outputEntry.device.defaultHighOutputLatencyMs,
          )
        : undefined;

    if (this.backend === 'libpulse') {
      try {
        this.native = new (nativeBinding().PulseStream)({
          sampleRate,
          framesPerBuffer,
          ringFrames,
          captureRendered: options.captureRendered ?? false,
          realtimeScheduling: options.realtimeScheduling ?? true,
          adjustLatency: pulseAdjustLatency(),
          ...(options.mixer ? { mixer: options.mixer } : {}),
          openTimeoutMs: PULSE_OPEN_TIMEOUT_MS,
          onWake: DeviceStream.wake,
          owner: this,
          ...(inputEntry && input
            ? {
                inputServerDevice: inputEntry.target.serverDevice!,
                inputChannels: input.channels,
                inputLatency: inputLatency!,
              }
            : {}),
          ...(outputEntry && output
            ? {
                outputServerDevice: outputEntry.target.serverDevice!,
                outputChannels: output.channels,
                outputLatency: outputLatency!,
              }
            : {}),
        });
      } catch (error) {
        throw DeviceStream.backendError(error);
      }
      return;
    }

    try {
      this.native = new (nativeBinding().AudioStream)({
        sampleRate,
        framesPerBuffer,
        ringFrames,
        captureRendered: options.captureRendered ?? false,
        realtimeScheduling: options.realtimeScheduling ?? true,
        ...(options.mixer ? { mixer: options.mixer } : {}),
        ...(inputEntry?.target.serverDevice !== undefined
          ? { inputServerDevice: inputEntry.target.serverDevice }
          : {}),
        ...(outputEntry?.target.serverDevice !== undefined
          ? { outputServerDevice: outputEntry.target.serverDevice }
          : {}),
        // Held weakly by the native stream while stopped: a stream dropped unclosed is collected and closed.
        onWake: DeviceStream.wake,
        owner: this,
        ...(inputEntry && input
          ? {
              inputDevice: inputEntry.target.portAudioIndex,
              inputChannels: input.channels,
              inputLatency: inputLatency!,
            }
          : {}),
        ...(outputEntry && output
          ? {
              outputDevice: outputEntry.target.portAudioIndex,
              outputChannels: output.channels,
              outputLatency: outputLatency!,
            }
          : {}),
      });
    } catch (error) {
      throw DeviceStream.backendError(error);
    }
  }

  /**
   * Opens a stream (stopped; call {@link start}).
   * @throws InvalidOptionError for a sample rate, channel count, buffer size or latency out of range;
   *   DeviceNotFoundError / AmbiguousDeviceError for a device choice; DeviceCapabilityError when the device lacks
   *   the direction or the channels; AudioBackendError when PortAudio refuses the configuration.
   */
  static open(options: DeviceStreamOptions): DeviceStream {
    return new DeviceStream(options, DeviceCatalog.read());
  }

  /** @internal Opens with an already read device catalog. */
  static openWith(options: DeviceStreamOptions, catalog: DeviceCatalog): DeviceStream {
    return new DeviceStream(options, catalog);
  }

  private static pick(
    catalog: DeviceCatalog,
    direction: DeviceStreamDirection,
    kind: 'audioinput' | 'audiooutput',
  ): CatalogEntry {
    const words = kind === 'audioinput' ? 'input' : 'output';
    let entry: CatalogEntry | undefined;
    if (direction.device === undefined) {
      entry = catalog.defaultEntry(kind);
      if (!entry) throw new DeviceCapabilityError(`there is no default ${words} device`);
    } else {
      // Resolve among all devices first, so an output-only device asked for input is named as such.
      const any = catalog.entries.find(
        (e) => e.device.index === direction.device || e.device.id === direction.device,
      );
      const max = (e: CatalogEntry): number =>
        kind === 'audioinput' ? e.device.maxInputChannels : e.device.maxOutputChannels;
      if (any && max(any) === 0) {
        throw new DeviceCapabilityError(
          `device ${any.device.index} (${any.device.id}) has no ${words} channels`,
        );
      }
      entry = catalog.resolve(direction.device, kind);
    }
    const max =
      kind === 'audioinput' ? entry.device.maxInputChannels : entry.device.maxOutputChannels;
    if (!Number.isInteger(direction.channels) || direction.channels < 1) {
      throw new InvalidOptionError(
        `${words}.channels`,
        direction.channels,
        'an integer of at least 1',
      );
    }
    if (direction.channels > max) {
      throw new DeviceCapabilityError(
        `device ${entry.device.index} (${entry.device.id}) has ${max} ${words} channels; ${direction.channels} were asked for`,
      );
    }
    return entry;
  }

  private static backendError(error: unknown): MediaDevicesError {
    if (error instanceof MediaDevicesError) return error;
    const e = error as Error & { paErrorCode?: number };
    return new AudioBackendError(e.message, e.paErrorCode, { cause: error });
  }

  private get open(): NativeAudioStream {
    if (!this.native) throw new MediaDevicesError('the stream is closed');
    return this.native;
  }

  private static wake(this: DeviceStream): void {
    this.onWake();
  }

  private onWake(): void {
    if (this.inputChannels > 0 && this.listenerCount('input') > 0) {
      const audio = this.readInput();
      if (audio) emitIsolated(this, 'input', audio);
    }
    if (this.outputChannels > 0) {
      this.flushRendered();
      emitIsolated(this, 'writable');
    }
  }

  /**
   * Emits `rendered` now for what the output has played since the last wake-up, instead of at the next one (does
   * nothing without a `rendered` listener or once closed). A consumer that must see the far end before processing
   * the near end calls it first.
   */
  flushRendered(): void {
    if (!this.native || this.outputChannels === 0 || this.listenerCount('rendered') === 0) return;
    const audio = this.readRendered();
    if (audio) emitIsolated(this, 'rendered', audio);
  }

  /** Starts the device callbacks. Starting a started stream does nothing. */
  start(): void {
    try {
      this.open.start();
    } catch (error) {
      throw DeviceStream.backendError(error);
    }
  }

  /** Stops the callbacks after the output already queued has played. Stopping a stopped stream does nothing. */
  stop(): void {
    try {
      this.native?.stop();
    } catch (error) {
      throw DeviceStream.backendError(error);
    }
  }

  /**
   * Closes the stream and releases the device. Closing twice does nothing. Never waits on a sound server that has
   * stalled: the stream is then silenced at once and released when the server answers again.
   */
  close(): void {
    const native = this.native;
    this.native = undefined;
    this.removeAllListeners();
    if (!native) return;
    this.finalStats = native.counters();
    // A libpulse stream's close never waits on the server; PortAudio's through the ALSA plugin may.
    closeNativeStream(native, this.viaSoundServer && this.backend === 'portaudio');
  }

  /** @internal Whether the stream's audio passes through the sound server. */
  get viaSoundServer(): boolean {
    return throughSoundServer(this.inputDevice) || throughSoundServer(this.outputDevice);
  }

  /** Same as {@link close}. */
  [Symbol.dispose](): void {
    this.close();
  }

  /** Whether the stream has been closed. */
  get closed(): boolean {
    return this.native === undefined;
  }

  /** Drains the captured audio waiting in the input ring; null when there is none. */
  readInput(): TimedAudio | null {
    const stream = this.open;
    if (this.inputChannels === 0) throw new MediaDevicesError('the stream has no input');
    return toTimedAudio(stream.readInput(), this.inputChannels);
  }

  /** Drains what the output has played since the last call (needs `captureRendered`); null when there is none. */
  readRendered(): TimedAudio | null {
    const stream = this.open;
    if (!this.captureRendered) {
      throw new MediaDevicesError('the stream was not opened with captureRendered');
    }
    return toTimedAudio(stream.readRendered(), this.outputChannels);
  }

  /**
   * Queues interleaved samples for playback.
   * @returns how many samples per channel fit in the output ring (the rest were not taken).
   * @throws InvalidOptionError for anything but an Int16Array of whole frames; MediaDevicesError once closed.
   */
  write(samples: Int16Array): number {
    const stream = this.open;
    if (this.outputChannels === 0) throw new MediaDevicesError('the stream has no output');
    if (!(samples instanceof Int16Array) || samples.length % this.outputChannels !== 0) {
      throw new InvalidOptionError(
        'samples',
        samples,
        `an Int16Array of whole frames (${this.outputChannels} samples each)`,
      );
    }
    return stream.write(samples);
  }

  /** Samples per channel queued in the output ring, not yet handed to the device. */
  get outputBufferedFrames(): number {
    return this.native?.outputBufferedFrames() ?? 0;
  }

  /** Samples per channel that {@link write} can take now. */
  get outputWritableFrames(): number {
    return this.native?.outputWritableFrames() ?? 0;
  }

  /** Counters of xruns (PortAudio's flags) and ring overruns/underruns since the stream opened (final once closed). */
  get stats(): DeviceStreamStats {
    return this.native?.counters() ?? this.finalStats!;
  }

  /** Latencies the host settled on (ms). */
  get latency(): { inputMs: number; outputMs: number } {
    const info = this.open.info();
    return { inputMs: info.inputLatency * 1000, outputMs: info.outputLatency * 1000 };
  }

  /**
   * The stream's clock now (s): the clock of every {@link AudioBlockTiming} time, extrapolated from the latest
   * device callback's time (the device itself is not asked: its audio thread is using it). NaN before the first
   * callback.
   */
  time(): number {
    return this.open.time();
  }

  /** Whether the device callbacks are running. */
  get active(): boolean {
    return this.native?.isActive() ?? false;
  }
}
