/**
 * Base class of every error this package throws, so callers can catch them all with one `instanceof`.
 */
export class MediaDevicesError extends Error {
  /** @internal */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

/**
 * An audio frame that the audio processing module cannot take. It is thrown in TypeScript before the frame
 * reaches native code (which would abort the whole process on it); `expected` and `received` give the figures
 * of the first property that failed.
 */
export class InvalidAudioFrameError extends MediaDevicesError {
  /** @internal */
  constructor(
    /** The frame property that failed. `dataLength` is the length of `data` in int16 samples. */
    readonly property: 'data' | 'sampleRate' | 'channels' | 'samplesPerChannel' | 'dataLength',
    /** What the property must be: a number, the list of allowed values, or a description. */
    readonly expected: number | readonly number[] | string,
    /** What the frame had. */
    readonly received: number | string,
    detail = '',
  ) {
    const want = Array.isArray(expected) ? `one of ${expected.join(', ')}` : String(expected);
    super(`Invalid audio frame: ${property} expected ${want}${detail}, received ${received}`);
  }
}

/** A method was called on a native resource (such as an AudioProcessingModule) after `close()`. */
export class ModuleClosedError extends MediaDevicesError {
  /** @internal */
  constructor(
    /** Name of the closed resource, e.g. `AudioProcessingModule`. */
    readonly resource: string,
  ) {
    super(`${resource} is closed`);
  }
}

/** The native audio processing module reported a failure (for example a sample rate it rejects). */
export class AudioProcessingError extends MediaDevicesError {
  /** @internal */
  constructor(
    /** The operation that failed, e.g. `processStream`. */
    readonly operation: string,
    /** The native module's own message. */
    readonly nativeMessage: string,
  ) {
    super(`${operation} failed in the native audio processing module: ${nativeMessage}`);
  }
}

/** A WAV file that is malformed, or not 16-bit integer PCM. */
export class WavFormatError extends MediaDevicesError {}

/** Two audio inputs that must share a format (sample rate or channel count) do not. */
export class AudioFormatMismatchError extends MediaDevicesError {
  /** @internal */
  constructor(
    /** The property that differs. */
    readonly property: 'sampleRate' | 'channels',
    /** The value the first input set (Hz for `sampleRate`). */
    readonly expected: number,
    /** The value the other input has. */
    readonly received: number,
    context: string,
  ) {
    super(`${context}: ${property} expected ${expected}, received ${received}`);
  }
}
