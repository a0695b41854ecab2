import { EventEmitter } from 'node:events';
import {
  ApmProcessReverseStreamResponse,
  ApmProcessStreamResponse,
  ApmSetStreamDelayResponse,
  FfiHandle,
  FfiRequest,
  FfiResponse,
  livekitFfiRequest,
  livekitRetrievePtr,
} from '@livekit/rtc-ffi-bindings';
import type { AudioFrame } from '@livekit/rtc-node';
import { AudioProcessingError, InvalidAudioFrameError, ModuleClosedError } from './errors.js';

/**
 * Sample rates (Hz) that {@link AudioProcessingModule} accepts. Each was checked against the native module with
 * 1 to 8 channels in both directions.
 */
export const APM_SAMPLE_RATES: readonly number[] = Object.freeze([
  8000, 11025, 16000, 22050, 24000, 32000, 44100, 48000, 96000, 192000,
]);

/** Most interleaved channels per frame that {@link AudioProcessingModule} accepts. */
export const APM_MAX_CHANNELS = 8;

/** Largest stream delay (ms) for {@link AudioProcessingModule.setStreamDelayMs}; the native module rejects more. */
export const APM_MAX_STREAM_DELAY_MS = 500;

/**
 * Samples per channel in one frame for the audio processing module: 10 ms of audio, rounded down as the native
 * module does (441 at 44.1 kHz, 110 at 11.025 kHz, 480 at 48 kHz).
 * @param sampleRate sample rate (Hz)
 */
export function apmFrameSamples(sampleRate: number): number {
  return Math.floor(sampleRate / 100);
}

/** Which processing stages an {@link AudioProcessingModule} runs. Every stage is off unless set to `true`. */
export interface AudioProcessingOptions {
  /** Acoustic echo cancellation (WebRTC AEC3); needs the far end through `processReverseStream`. */
  echoCancellation?: boolean;
  /** Stationary noise suppression. */
  noiseSuppression?: boolean;
  /** High-pass filter that removes rumble below about 55 Hz. */
  highPassFilter?: boolean;
  /** Automatic gain control of the near end. */
  autoGainControl?: boolean;
}

/** Counters of an {@link AudioProcessingModule}, since it was created. */
export interface AudioProcessingStats {
  /** Frames (10 ms each) processed by `processStream`. */
  streamFrames: number;
  /** Frames (10 ms each) processed by `processReverseStream`. */
  reverseStreamFrames: number;
  /** `setStreamDelayMs` calls whose value lay outside 0..500 ms (or was not finite) and was clamped. */
  delayClamps: number;
}

/** Payload of the {@link AudioProcessingModule} `warning` event. */
export interface AudioProcessingWarning {
  /** What happened: `stream-delay-clamped` when a stream delay outside 0..500 ms was clamped. */
  code: 'stream-delay-clamped';
  /** Human-readable description. */
  message: string;
  /** The delay the caller asked for (ms). */
  requestedMs: number;
  /** The delay given to the native module (ms). */
  appliedMs: number;
}

/** Events of an {@link AudioProcessingModule}. */
export interface AudioProcessingEvents {
  /** Something was adjusted rather than failing (never an error of the audio path). */
  warning: [AudioProcessingWarning];
}

/**
 * The frame an {@link AudioProcessingModule} takes: an rtc-node `AudioFrame`, or any object with its four audio
 * fields. `data` may be a view on a larger buffer (a subarray); exactly its own samples are read and written.
 */
export type ApmFrame = Pick<AudioFrame, 'data' | 'sampleRate' | 'channels' | 'samplesPerChannel'>;

type Direction = 'processStream' | 'processReverseStream';

/** Per (rate, channels) state: a scratch buffer the native module works on, and requests encoded once. */
interface FrameSlot {
  scratch: Int16Array;
  stream: Uint8Array;
  reverse: Uint8Array;
}

// Exact bytes of a response without an error, to skip decoding on the hot path.
/** @internal */
export const STREAM_OK = new FfiResponse({
  message: { case: 'apmProcessStream', value: new ApmProcessStreamResponse() },
}).toBinary();
const REVERSE_OK = new FfiResponse({
  message: { case: 'apmProcessReverseStream', value: new ApmProcessReverseStreamResponse() },
}).toBinary();
const DELAY_OK = new FfiResponse({
  message: { case: 'apmSetStreamDelay', value: new ApmSetStreamDelayResponse() },
}).toBinary();

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * The WebRTC audio processing module of the LiveKit native library: echo cancellation, noise suppression,
 * high-pass filter and automatic gain control on 16-bit interleaved frames of exactly 10 ms.
 *
 * Feed the near end (microphone) to {@link processStream} and the far end (what the speakers play, when they
 * play it) to {@link processReverseStream}; both work in place. Every frame is validated before it reaches native
 * code, so a wrong frame throws {@link InvalidAudioFrameError} instead of aborting the process.
 *
 * Holds about 0.7 MiB of native memory that the garbage collector does not see: call {@link close} (or use
 * `using`) when done.
 *
 * @example
 * ```ts
 * using apm = new AudioProcessingModule({ echoCancellation: true, noiseSuppression: true });
 * apm.processReverseStream(speakerFrame);
 * apm.setStreamDelayMs(40);
 * apm.processStream(micFrame); // micFrame.data now holds the processed audio
 * ```
 */
export class AudioProcessingModule extends EventEmitter<AudioProcessingEvents> {
  readonly #options: Readonly<Required<AudioProcessingOptions>>;
  #handle: FfiHandle | undefined;
  readonly #handleId: bigint;
  readonly #slots = new Map<number, FrameSlot>();
  // Encoded set-stream-delay requests, indexed by delay (ms), built on first use.
  readonly #delayRequests: (Uint8Array | undefined)[] = [];
  #streamDelayMs = 0;
  readonly #stats: AudioProcessingStats = {
    streamFrames: 0,
    reverseStreamFrames: 0,
    delayClamps: 0,
  };

  /**
   * Creates a native audio processing module.
   * @param options the stages to run; all default to `false`
   * @throws {AudioProcessingError} if the native module cannot create one
   */
  constructor(options: AudioProcessingOptions = {}) {
    super();
    this.#options = Object.freeze({
      echoCancellation: options.echoCancellation ?? false,
      noiseSuppression: options.noiseSuppression ?? false,
      highPassFilter: options.highPassFilter ?? false,
      autoGainControl: options.autoGainControl ?? false,
    });
    const encoded = encode({
      case: 'newApm',
      value: {
        echoCancellerEnabled: this.#options.echoCancellation,
        noiseSuppressionEnabled: this.#options.noiseSuppression,
        highPassFilterEnabled: this.#options.highPassFilter,
        gainControllerEnabled: this.#options.autoGainControl,
      },
    });
    const response = FfiResponse.fromBinary(send('newApm', encoded));
    const id =
      response.message.case === 'newApm' ? response.message.value.apm?.handle?.id : undefined;
    if (id === undefined) {
      throw new AudioProcessingError('newApm', `unexpected response ${response.message.case}`);
    }
    this.#handleId = id;
    // The only wrapper of this id: a second one would crash the process when both are collected.
    this.#handle = new FfiHandle(id);
  }

  /** The stages this module runs, as given to the constructor with defaults filled in. */
  get options(): Readonly<Required<AudioProcessingOptions>> {
    return this.#options;
  }

  /** Whether {@link close} has been called; every processing call then throws {@link ModuleClosedError}. */
  get closed(): boolean {
    return this.#handle === undefined;
  }

  /** The stream delay last given to the native module (ms), after clamping. */
  get streamDelayMs(): number {
    return this.#streamDelayMs;
  }

  /** A snapshot of the counters since creation. */
  get stats(): Readonly<AudioProcessingStats> {
    return { ...this.#stats };
  }

  /**
   * Processes one 10 ms near-end (microphone) frame in place: echo cancellation, noise suppression, high-pass
   * filter and gain control, as enabled. The output lags the input by the stages' own delay (about 9 ms with echo
   * cancellation).
   * @param frame interleaved int16 samples; `samplesPerChannel` must be {@link apmFrameSamples}(`sampleRate`),
   *   `sampleRate` one of {@link APM_SAMPLE_RATES} (Hz), `channels` 1..8
   * @throws {InvalidAudioFrameError} for a frame of the wrong shape (nothing reaches native code)
   * @throws {ModuleClosedError} after {@link close}
   * @throws {AudioProcessingError} if the native module rejects the frame
   */
  processStream(frame: ApmFrame): void {
    this.#process(frame, 'processStream');
    this.#stats.streamFrames++;
  }

  /**
   * Gives the module one 10 ms far-end frame: the audio being rendered to the speakers, fed when it is rendered
   * (a far end fed long before it is heard defeats echo cancellation). Processed in place, like the near end.
   * @param frame interleaved int16 samples, with the same rules as {@link processStream}; its rate and channel
   *   count may differ from the near end's
   * @throws {InvalidAudioFrameError} for a frame of the wrong shape (nothing reaches native code)
   * @throws {ModuleClosedError} after {@link close}
   * @throws {AudioProcessingError} if the native module rejects the frame
   */
  processReverseStream(frame: ApmFrame): void {
    this.#process(frame, 'processReverseStream');
    this.#stats.reverseStreamFrames++;
  }

  /**
   * Tells the echo canceller the delay between a far-end frame passing {@link processReverseStream} and its
   * echo reaching {@link processStream}: render latency plus capture latency. Call it before each
   * `processStream`. 0 is a safe value when the delay is unknown (AEC3 finds delays up to a few hundred ms).
   *
   * A value outside 0..500 ms, or one that is not finite (taken as 0), is clamped: it counts in
   * `stats.delayClamps` and emits a `warning` event, and never throws. Fractions are rounded.
   * @param ms delay (ms)
   * @throws {ModuleClosedError} after {@link close}
   * @throws {AudioProcessingError} if the native module rejects the delay
   */
  setStreamDelayMs(ms: number): void {
    this.#assertOpen();
    const wanted = Number.isFinite(ms) ? Math.round(ms) : 0;
    const applied = Math.min(APM_MAX_STREAM_DELAY_MS, Math.max(0, wanted));
    if (applied !== wanted || !Number.isFinite(ms)) {
      this.#stats.delayClamps++;
      this.emit('warning', {
        code: 'stream-delay-clamped',
        message: `stream delay ${ms} ms clamped to ${applied} ms (allowed 0..${APM_MAX_STREAM_DELAY_MS})`,
        requestedMs: ms,
        appliedMs: applied,
      });
    }
    let encoded = this.#delayRequests[applied];
    if (encoded === undefined) {
      encoded = encode({
        case: 'apmSetStreamDelay',
        value: { apmHandle: this.#handleId, delayMs: applied },
      });
      this.#delayRequests[applied] = encoded;
    }
    callApm('setStreamDelay', encoded, DELAY_OK);
    this.#streamDelayMs = applied;
  }

  /** Releases the native module now. Idempotent. */
  close(): void {
    this.#handle?.dispose();
    this.#handle = undefined;
    this.#slots.clear();
  }

  /** Same as {@link close}, for `using`. */
  [Symbol.dispose](): void {
    this.close();
  }

  #assertOpen(): void {
    if (this.#handle === undefined) throw new ModuleClosedError('AudioProcessingModule');
  }

  #process(frame: ApmFrame, direction: Direction): void {
    this.#assertOpen();
    validateFrame(frame);
    const slot = this.#slot(frame.sampleRate, frame.channels);
    // The native module works on the slot's own buffer: one pointer, fixed requests, and a frame on a subarray
    // (whose byteOffset rtc-node's AudioFrame ignores) is read and written exactly where its view lies.
    slot.scratch.set(frame.data);
    if (direction === 'processStream') callApm(direction, slot.stream, STREAM_OK);
    else callApm(direction, slot.reverse, REVERSE_OK);
    frame.data.set(slot.scratch);
  }

  #slot(sampleRate: number, channels: number): FrameSlot {
    const key = sampleRate * 16 + channels;
    let slot = this.#slots.get(key);
    if (slot === undefined) {
      const samples = apmFrameSamples(sampleRate) * channels;
      const scratch = new Int16Array(new ArrayBuffer(samples * 2));
      const value = {
        apmHandle: this.#handleId,
        dataPtr: livekitRetrievePtr(new Uint8Array(scratch.buffer)),
        size: scratch.byteLength,
        sampleRate,
        numChannels: channels,
      };
      slot = {
        scratch,
        stream: encode({ case: 'apmProcessStream', value }),
        reverse: encode({ case: 'apmProcessReverseStream', value }),
      };
      this.#slots.set(key, slot);
    }
    return slot;
  }
}

/**
 * Throws {@link InvalidAudioFrameError} unless the frame is one the native module processes safely.
 * @internal
 */
export function validateFrame(frame: ApmFrame): void {
  const { data, sampleRate, channels, samplesPerChannel } = frame;
  if (!(data instanceof Int16Array)) {
    throw new InvalidAudioFrameError('data', 'an Int16Array', describe(data));
  }
  if (!APM_SAMPLE_RATES.includes(sampleRate)) {
    throw new InvalidAudioFrameError('sampleRate', APM_SAMPLE_RATES, sampleRate, ' Hz');
  }
  if (!Number.isInteger(channels) || channels < 1 || channels > APM_MAX_CHANNELS) {
    throw new InvalidAudioFrameError('channels', `1..${APM_MAX_CHANNELS}`, channels);
  }
  const expected = apmFrameSamples(sampleRate);
  if (samplesPerChannel !== expected) {
    throw new InvalidAudioFrameError(
      'samplesPerChannel',
      expected,
      samplesPerChannel,
      ` (10 ms at ${sampleRate} Hz)`,
    );
  }
  if (data.length !== expected * channels) {
    throw new InvalidAudioFrameError(
      'dataLength',
      expected * channels,
      data.length,
      ` (${expected} samples x ${channels} channels)`,
    );
  }
}

function describe(value: unknown): string {
  if (value === null || typeof value !== 'object') return String(value);
  return value.constructor?.name ?? 'object';
}

type RequestMessage = NonNullable<ConstructorParameters<typeof FfiRequest>[0]>['message'];

function encode(message: RequestMessage): Uint8Array {
  return new FfiRequest({ message }).toBinary();
}

/**
 * Sends an encoded request to the native module and returns the response bytes; the module's own exceptions (such
 * as an unknown handle) become {@link AudioProcessingError}.
 */
function send(operation: string, encoded: Uint8Array): Uint8Array {
  try {
    return livekitFfiRequest(encoded);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    throw new AudioProcessingError(operation, message, { cause: error });
  }
}

/**
 * Sends an encoded APM request and throws {@link AudioProcessingError} unless the response is `ok` (the bytes of
 * a response without an error).
 * @internal
 */
export function callApm(operation: string, encoded: Uint8Array, ok: Uint8Array): void {
  const out = send(operation, encoded);
  if (!sameBytes(out, ok)) throw new AudioProcessingError(operation, responseError(out));
}

function responseError(bytes: Uint8Array): string {
  const { message } = FfiResponse.fromBinary(bytes);
  if (
    message.case === 'apmProcessStream' ||
    message.case === 'apmProcessReverseStream' ||
    message.case === 'apmSetStreamDelay'
  ) {
    return message.value.error ?? 'unknown native error';
  }
  return `unexpected response ${message.case}`;
}
