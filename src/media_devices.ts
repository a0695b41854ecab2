import { soundServerBackend, type SoundServerBackend } from './backend/sound_server_backend.js';
import { AudioResampler, AudioResamplerQuality, AudioSource } from '@livekit/rtc-node';
import { EventEmitter } from 'node:events';
import type { AudioDevice, AudioDeviceKind, DeviceSelector } from './audio_device.js';
import { DeviceCatalog, type CatalogEntry } from './backend/device_catalog.js';
import {
  checkStreamSampleRate,
  DeviceStream,
  MAX_SAMPLE_RATE,
  MIN_SAMPLE_RATE,
  type DeviceStreamOptions,
} from './device_stream.js';
import { DeviceChangeWatcher, type MediaDevicesWarning } from './device_change_watcher.js';
import { AudioBackendError, DeviceCapabilityError, InvalidOptionError } from './errors.js';
import { InputCapture, releaseCaptureDevice, type CaptureDevice } from './input_capture.js';
import { emitIsolated, reportUncaught } from './listener_isolation.js';
import { openAllOrNothing } from './open_all_or_nothing.js';
import type { NativeSourceMixer } from './backend/native_binding.js';
import {
  createSourceMixer,
  OutputPlayer,
  releasePlaybackDevice,
  type PlaybackDevice,
} from './output_player.js';
import { SharedAudioProcessing } from './shared_audio_processing.js';

/** Options of {@link MediaDevices.openInput}. Processing options default to on, as in a call. */
export interface OpenInputOptions {
  /** Acoustic echo cancellation against what the {@link OutputPlayer} of this MediaDevices plays; default true. */
  enableAec?: boolean;
  /** Noise suppression; default true. */
  noiseSuppression?: boolean;
  /** High-pass filter (corner near 55 Hz, removes rumble and DC); default true. */
  highPassFilter?: boolean;
  /** Automatic gain control; default true. */
  autoGainControl?: boolean;
  /** The microphone: index, id or name substring; default the system's default input. */
  inputDevice?: DeviceSelector;
  /** Frames (10 ms each) the queue to the AudioSource holds before dropping the oldest; default 50. */
  queueCapacity?: number;
  /** Capture this one device channel (zero-based) instead of mixing all of them down; default none. */
  inputChannelIndex?: number;
  /**
   * Run the device at this rate (Hz) and resample to `inputSampleRate` in-process. By default the device runs at
   * `inputSampleRate`, or at its own rate (resampled) when it refuses that one.
   */
  deviceSampleRate?: number;
  /**
   * Capture from the system's default input (the sound server's default source) and follow it: when another device
   * becomes the default, or the device in use goes away, the capture moves to the new default (a `deviceChanged`
   * event) instead of failing. Not with `inputDevice`. Default false.
   */
  followDefault?: boolean;
}

/** Options of {@link MediaDevices.openOutput}. */
export interface OpenOutputOptions {
  /** The speaker: index, id or name substring; default the system's default output. */
  outputDevice?: DeviceSelector;
  /**
   * Backlog (ms) a live source (a track) may build up, through clock drift or an event-loop stall, before its
   * oldest audio is dropped, down to `bufferMs`; default 60, or `bufferMs` + 40 when that is more. At least one
   * device block + 20 ms.
   */
  latencyCapMs?: number;
  /**
   * Audio mixed ahead of the device (ms): more rides out longer event-loop stalls, less plays sooner. Default 20, or
   * one device block ({@link MediaDevicesOptions.blocksize}) + 10 ms when blocks are longer than 10 ms: the device
   * takes a whole block per callback.
   */
  bufferMs?: number;
  /**
   * Run the device at this rate (Hz) and resample the mix from `outputSampleRate` in-process. By default the device
   * runs at `outputSampleRate`, or at its own rate (resampled) when it refuses that one.
   */
  deviceSampleRate?: number;
  /**
   * Play on the system's default output (the sound server's default sink) and follow it: when another device
   * becomes the default, or the device in use goes away, the player moves to the new default (a `deviceChanged`
   * event) instead of failing. Not with `outputDevice`. Default false.
   */
  followDefault?: boolean;
}

// PortAudio's paInvalidSampleRate.
const PA_INVALID_SAMPLE_RATE = -9997;
// Frames the AudioSource buffers (ms); must be a multiple of 10. Capture is paced by the device, so this only
// absorbs bursts after an event-loop stall.
const SOURCE_QUEUE_MS = 0;

/** Options of {@link MediaDevices}. */
export interface MediaDevicesOptions {
  /** Sample rate of captured audio handed to LiveKit (Hz, a multiple of 100); default 48000. */
  inputSampleRate?: number;
  /** Sample rate at which audio is played (Hz, a multiple of 100); default 48000. */
  outputSampleRate?: number;
  /** Channels of captured and played audio; default 1. */
  numChannels?: number;
  /**
   * Samples per channel per device callback; default 10 ms of audio at the input sample rate. The host buffers about
   * two blocks each way, so 5 ms blocks (240 at 48 kHz) take about 10 ms off both capture and playout latency, for
   * twice the wake-ups. Captured frames stay 10 ms whatever the block.
   */
  blocksize?: number;
  /**
   * Device latency to ask the host for (ms), or the device's `'low'` (default) or `'high'` suggestion. `'high'` with
   * a 100 ms blocksize reproduces the Python original's configuration, at 100 ms more delay.
   */
  latencyMs?: number | 'low' | 'high';
  /**
   * How streams on sound-server devices (PulseAudio / PipeWire sinks and sources) reach the server: `'libpulse'`
   * or `'portaudio'` (through ALSA's `pulse` plugin); see {@link DeviceStreamOptions.soundServerBackend}. Default:
   * the environment variable `LK_AUDIO_SOUND_SERVER_BACKEND`, else `'libpulse'`.
   */
  soundServerBackend?: SoundServerBackend;
}

// 10 ms frames must hold whole samples: 44100 Hz is fine (441), 22050 Hz is not.
function checkRate(option: string, rate: number): number {
  if (
    !Number.isInteger(rate) ||
    rate < MIN_SAMPLE_RATE ||
    rate > MAX_SAMPLE_RATE ||
    rate % 100 !== 0
  ) {
    throw new InvalidOptionError(
      option,
      rate,
      `a multiple of 100 Hz from ${MIN_SAMPLE_RATE} to ${MAX_SAMPLE_RATE} Hz (10 ms frames of whole samples)`,
    );
  }
  return rate;
}

/** `followDefault` is a boolean, and chooses the device itself: not with an explicit one. */
function checkFollowDefault(
  followDefault: unknown,
  device: DeviceSelector | undefined,
  deviceOption: string,
): boolean {
  if (followDefault === undefined) return false;
  if (typeof followDefault !== 'boolean') {
    throw new InvalidOptionError('followDefault', followDefault, 'true or false');
  }
  if (followDefault && device !== undefined) {
    throw new InvalidOptionError(
      'followDefault',
      followDefault,
      `not with ${deviceOption}: a capture or player that follows the default uses the default device ` +
        '(move it later with setInputDevice / setOutputDevice)',
    );
  }
  return followDefault;
}

/**
 * Events of {@link MediaDevices}. A listener that throws is reported as an `uncaughtException` (the process ends as
 * with any uncaught exception unless it handles that); watching and the other listeners go on.
 */
export interface MediaDevicesEvents {
  /**
   * A device came or went, or another device became the default (as the browser's `devicechange`), while there is
   * a listener: the sound server tells at once (within milliseconds; no polling). Read the lists again to see what
   * changed.
   */
  devicechange: [];
  /**
   * The device watch met a fault and goes on (while there is a `devicechange` listener): the sound server stalled or
   * went away (once per episode; it is reconnected when it returns), or reading the list threw. The lists meanwhile
   * stay as last seen, so this causes no `devicechange`.
   */
  warning: [warning: MediaDevicesWarning];
}

/**
 * The machine's microphones and speakers, for LiveKit: device enumeration and defaults, microphone capture into an
 * `AudioSource` ({@link openInput}) and playback of tracks and streams ({@link openOutput}), with echo cancellation
 * between the two.
 * A sound server's devices come from one connection that the server keeps up to date, so a device plugged in (or a
 * sound-server sink created) shows up at once and reading the lists never waits on the server; listen for
 * `devicechange` to hear of it.
 */
export class MediaDevices extends EventEmitter<MediaDevicesEvents> {
  /** Sample rate of captured audio (Hz). */
  readonly inputSampleRate: number;
  /** Sample rate of played audio (Hz). */
  readonly outputSampleRate: number;
  /** Channels of captured and played audio. */
  readonly numChannels: number;
  /** Samples per channel per device callback. */
  readonly blocksize: number;
  /** Device latency asked of the host (ms, or the device's own low/high suggestion). */
  readonly latencyMs: number | 'low' | 'high';
  /** How streams on sound-server devices reach the server (see {@link MediaDevicesOptions.soundServerBackend}). */
  readonly soundServerBackend: SoundServerBackend;

  private readonly processing = new SharedAudioProcessing();
  private readonly watcher = new DeviceChangeWatcher(
    () => emitIsolated(this, 'devicechange'),
    (warning) => emitIsolated(this, 'warning', warning),
  );

  /** @throws InvalidOptionError for a sample rate, channel count or blocksize out of range. */
  constructor(options: MediaDevicesOptions = {}) {
    super();
    // The device list is watched only while someone listens for changes. (The typed events leave out
    // EventEmitter's own newListener / removeListener.)
    const emitter = this as EventEmitter;
    emitter.on('newListener', (event: string | symbol) => {
      if (event === 'devicechange') this.watcher.start();
    });
    emitter.on('removeListener', (event: string | symbol) => {
      if (event === 'devicechange' && this.listenerCount('devicechange') === 0) this.watcher.stop();
    });
    this.inputSampleRate = checkRate('inputSampleRate', options.inputSampleRate ?? 48000);
    this.outputSampleRate = checkRate('outputSampleRate', options.outputSampleRate ?? 48000);
    const numChannels = options.numChannels ?? 1;
    if (!Number.isInteger(numChannels) || numChannels < 1 || numChannels > 8) {
      throw new InvalidOptionError('numChannels', numChannels, 'an integer from 1 to 8');
    }
    this.numChannels = numChannels;
    const blocksize = options.blocksize ?? this.inputSampleRate / 100;
    if (!Number.isInteger(blocksize) || blocksize < 1 || blocksize > 65536) {
      throw new InvalidOptionError('blocksize', blocksize, 'an integer from 1 to 65536 samples');
    }
    this.blocksize = blocksize;
    this.latencyMs = options.latencyMs ?? 'low';
    this.soundServerBackend = soundServerBackend(options.soundServerBackend);
  }

  /** Every device, inputs and outputs, in index order (like the browser's `enumerateDevices`). */
  enumerateDevices(): AudioDevice[] {
    return DeviceCatalog.read().entries.map((e) => e.device);
  }

  /** Devices that can capture (at least one input channel), in index order. */
  listInputDevices(): AudioDevice[] {
    return this.list('audioinput');
  }

  /** Devices that can play (at least one output channel), in index order. */
  listOutputDevices(): AudioDevice[] {
    return this.list('audiooutput');
  }

  /** The system's default input device (the sound server's default source where there is one), or undefined. */
  defaultInputDevice(): AudioDevice | undefined {
    return DeviceCatalog.read().defaultEntry('audioinput')?.device;
  }

  /** The system's default output device (the sound server's default sink where there is one), or undefined. */
  defaultOutputDevice(): AudioDevice | undefined {
    return DeviceCatalog.read().defaultEntry('audiooutput')?.device;
  }

  /**
   * Chooses an input device by index, id or name substring.
   * @throws DeviceNotFoundError or AmbiguousDeviceError, listing the candidates.
   */
  getInputDevice(selector: DeviceSelector): AudioDevice {
    return DeviceCatalog.read().resolve(selector, 'audioinput').device;
  }

  /**
   * Chooses an output device by index, id or name substring.
   * @throws DeviceNotFoundError or AmbiguousDeviceError, listing the candidates.
   */
  getOutputDevice(selector: DeviceSelector): AudioDevice {
    return DeviceCatalog.read().resolve(selector, 'audiooutput').device;
  }

  /**
   * Opens a microphone and starts capturing into an rtc-node `AudioSource`, in exact 10 ms frames at
   * `inputSampleRate`, processed by a WebRTC audio processing module when any processing option is on.
   * Echo cancellation works against the {@link OutputPlayer} of this MediaDevices, opened before or after.
   * All or nothing: when it throws, whatever it had taken (the device stream, the echo canceller, the resampler,
   * the AudioSource) is released again, and nothing of it emits later.
   * @throws InvalidOptionError, DeviceNotFoundError, AmbiguousDeviceError, DeviceCapabilityError,
   *   AudioBackendError; AlreadyOpenError when an input with processing is already open on this MediaDevices.
   */
  openInput(options: OpenInputOptions = {}): InputCapture {
    const {
      enableAec = true,
      noiseSuppression = true,
      highPassFilter = true,
      autoGainControl = true,
      queueCapacity = 50,
      inputChannelIndex,
    } = options;
    if (!Number.isInteger(queueCapacity) || queueCapacity < 1) {
      throw new InvalidOptionError(
        'queueCapacity',
        queueCapacity,
        'an integer of at least 1 (frames)',
      );
    }
    const followDefault = checkFollowDefault(
      options.followDefault,
      options.inputDevice,
      'inputDevice',
    );
    if (
      inputChannelIndex !== undefined &&
      (!Number.isInteger(inputChannelIndex) || inputChannelIndex < 0)
    ) {
      throw new InvalidOptionError(
        'inputChannelIndex',
        inputChannelIndex,
        'a zero-based channel index',
      );
    }
    const catalog = DeviceCatalog.read();
    const entry = this.pick(catalog, options.inputDevice, 'audioinput');
    const wantsProcessing = enableAec || noiseSuppression || highPassFilter || autoGainControl;
    if (wantsProcessing) this.processing.checkCaptureFree();
    const openDevice = (next: CatalogEntry, nextCatalog: DeviceCatalog): CaptureDevice =>
      this.openCaptureDevice(next, nextCatalog, inputChannelIndex, options.deviceSampleRate);
    // All or nothing: every part taken is released again when a later one fails.
    return openAllOrNothing((take) => {
      const device = take(openDevice(entry, catalog), (d) => releaseCaptureDevice(d));
      const apm = wantsProcessing
        ? take(
            this.processing.acquire({
              echoCancellation: enableAec,
              noiseSuppression,
              highPassFilter,
              autoGainControl,
            }),
            (m) => this.processing.release(m),
          )
        : undefined;
      const source = take(
        new AudioSource(this.inputSampleRate, this.numChannels, SOURCE_QUEUE_MS),
        (s) => void s.close().catch(reportUncaught),
      );
      // Starts the device last: when it refuses, the capture has set nothing else up.
      return new InputCapture({
        device,
        openDevice,
        devices: this,
        followDefault,
        source,
        processing: this.processing,
        apm,
        sampleRate: this.inputSampleRate,
        numChannels: this.numChannels,
        queueCapacity,
        inputChannelIndex,
      });
    });
  }

  /**
   * Opens (not starts) an input stream on a device for a capture, with the resampler to `inputSampleRate` when the
   * device runs at another rate. All or nothing.
   */
  private openCaptureDevice(
    entry: CatalogEntry,
    catalog: DeviceCatalog,
    inputChannelIndex: number | undefined,
    deviceSampleRate: number | undefined,
  ): CaptureDevice {
    const max = entry.device.maxInputChannels;
    if (inputChannelIndex !== undefined && inputChannelIndex >= max) {
      throw new DeviceCapabilityError(
        `inputChannelIndex ${inputChannelIndex} is beyond device ${entry.device.id}, which has ${max} input channels`,
      );
    }
    // Open the device's own layout (at least up to the channel picked, at most stereo beyond it): asking a sound
    // server for fewer channels than its source has makes it mix them down before the pick.
    const ownLayout = Math.min(max, Math.max(this.numChannels, 2));
    const channels =
      inputChannelIndex !== undefined ? Math.max(inputChannelIndex + 1, ownLayout) : ownLayout;
    return openAllOrNothing((take) => {
      const stream = take(
        this.openStream(catalog, entry, deviceSampleRate, this.inputSampleRate, (sampleRate) => ({
          input: { device: entry.device.index, channels, latencyMs: this.latencyMs },
          sampleRate,
          framesPerBuffer: this.framesPerBuffer(sampleRate, this.inputSampleRate),
          soundServerBackend: this.soundServerBackend,
        })),
        (s) => s.close(),
      );
      const resampler =
        stream.sampleRate === this.inputSampleRate
          ? undefined
          : new AudioResampler(
              stream.sampleRate,
              this.inputSampleRate,
              this.numChannels,
              AudioResamplerQuality.HIGH,
            );
      return { stream, resampler };
    });
  }

  /**
   * Opens a speaker for playing tracks and streams ({@link OutputPlayer.addTrack}, {@link OutputPlayer.addStream};
   * then {@link OutputPlayer.start}). What it plays feeds the echo canceller of this MediaDevices' input capture,
   * whether that is opened before or after. One player per MediaDevices: the echo canceller takes one far end, so
   * mix every source through it. All or nothing, as {@link openInput}.
   * @throws InvalidOptionError, DeviceNotFoundError, AmbiguousDeviceError, DeviceCapabilityError,
   *   AudioBackendError; AlreadyOpenError when this MediaDevices already has an output player open.
   */
  openOutput(options: OpenOutputOptions = {}): OutputPlayer {
    const blockMs = (this.blocksize * 1000) / this.inputSampleRate;
    const { bufferMs = Math.max(20, Math.ceil(blockMs / 10) * 10 + 10) } = options;
    if (!Number.isFinite(bufferMs) || bufferMs < 10 || bufferMs > 1000) {
      throw new InvalidOptionError('bufferMs', bufferMs, 'from 10 to 1000 ms');
    }
    const { latencyCapMs = Math.max(60, bufferMs + 40) } = options;
    // Between two device callbacks a live source gathers a whole block (and a frame of slack): a lower cap would cut
    // its audio at every callback.
    const leastCapMs = Math.ceil(blockMs) + 20;
    if (!Number.isFinite(latencyCapMs) || latencyCapMs < leastCapMs || latencyCapMs > 10_000) {
      throw new InvalidOptionError(
        'latencyCapMs',
        latencyCapMs,
        `from ${leastCapMs} ms (one device block + 20 ms) to 10000 ms`,
      );
    }
    const followDefault = checkFollowDefault(
      options.followDefault,
      options.outputDevice,
      'outputDevice',
    );
    const catalog = DeviceCatalog.read();
    const entry = this.pick(catalog, options.outputDevice, 'audiooutput');
    this.processing.checkRendererFree();
    const openDevice = (next: CatalogEntry, nextCatalog: DeviceCatalog): PlaybackDevice =>
      this.openPlaybackDevice(next, nextCatalog, options.deviceSampleRate, bufferMs);
    return openAllOrNothing((take) => {
      const device = take(openDevice(entry, catalog), (d) => releasePlaybackDevice(d));
      return new OutputPlayer({
        device,
        openDevice,
        devices: this,
        followDefault,
        processing: this.processing,
        sampleRate: this.outputSampleRate,
        numChannels: this.numChannels,
        latencyCapMs,
        bufferMs,
      });
    });
  }

  /**
   * Opens (not starts) an output stream on a device for a player, with its mixer and, when the device runs at
   * another rate than `outputSampleRate`, a resampler of what it played back to that rate. All or nothing.
   */
  private openPlaybackDevice(
    entry: CatalogEntry,
    catalog: DeviceCatalog,
    deviceSampleRate: number | undefined,
    bufferMs: number,
  ): PlaybackDevice {
    return openAllOrNothing((take) => {
      let mixer: NativeSourceMixer | undefined;
      const stream = take(
        this.openStream(catalog, entry, deviceSampleRate, this.outputSampleRate, (sampleRate) => {
          mixer = createSourceMixer(this.numChannels, sampleRate, bufferMs);
          return {
            output: {
              device: entry.device.index,
              channels: this.numChannels,
              latencyMs: this.latencyMs,
            },
            sampleRate,
            framesPerBuffer: this.framesPerBuffer(sampleRate, this.inputSampleRate),
            captureRendered: true,
            mixer,
            soundServerBackend: this.soundServerBackend,
          };
        }),
        (s) => s.close(),
      );
      const fromDevice =
        stream.sampleRate === this.outputSampleRate
          ? undefined
          : new AudioResampler(
              stream.sampleRate,
              this.outputSampleRate,
              this.numChannels,
              AudioResamplerQuality.HIGH,
            );
      return { stream, mixer: mixer!, fromDevice };
    });
  }

  /** The chosen device, or the default of its direction. */
  private pick(
    catalog: DeviceCatalog,
    selector: DeviceSelector | undefined,
    kind: AudioDeviceKind,
  ): CatalogEntry {
    if (selector !== undefined) return catalog.resolve(selector, kind);
    const entry = catalog.defaultEntry(kind);
    if (!entry) {
      throw new DeviceCapabilityError(
        `there is no default ${kind === 'audioinput' ? 'input' : 'output'} device`,
      );
    }
    return entry;
  }

  /** Samples per callback at the device rate: the blocksize, scaled when the device runs at another rate. */
  private framesPerBuffer(deviceRate: number, rate: number): number {
    return Math.round((this.blocksize * deviceRate) / rate);
  }

  /**
   * Opens a stream at the asked device rate, or the wanted rate; when the device refuses the wanted rate, at the
   * device's own rate (the caller then resamples).
   */
  private openStream(
    catalog: DeviceCatalog,
    entry: CatalogEntry,
    deviceRate: number | undefined,
    wantedRate: number,
    options: (sampleRate: number) => DeviceStreamOptions,
  ): DeviceStream {
    if (deviceRate !== undefined) {
      // Checked before `options`, which allocates the player's mixer for that rate.
      checkStreamSampleRate('deviceSampleRate', deviceRate);
      return DeviceStream.openWith(options(deviceRate), catalog);
    }
    try {
      return DeviceStream.openWith(options(wantedRate), catalog);
    } catch (error) {
      const ownRate = entry.device.defaultSampleRate;
      if (
        !(error instanceof AudioBackendError) ||
        error.paErrorCode !== PA_INVALID_SAMPLE_RATE ||
        ownRate === wantedRate
      ) {
        throw error;
      }
      return DeviceStream.openWith(options(ownRate), catalog);
    }
  }

  private list(kind: AudioDeviceKind): AudioDevice[] {
    return DeviceCatalog.read()
      .list(kind)
      .map((e) => e.device);
  }
}
