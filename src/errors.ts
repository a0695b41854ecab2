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
    options?: ErrorOptions,
  ) {
    super(`${operation} failed in the native audio processing module: ${nativeMessage}`, options);
  }
}

/** A WAV file that is malformed, or in an encoding this package does not read (compressed, 64-bit float). */
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

/** A device choice (index, id or name) that matches no device. */
export class DeviceNotFoundError extends MediaDevicesError {
  /** @internal */
  constructor(
    /** What the caller asked for. */
    readonly selector: number | string,
    /** The devices that could have been chosen, as `index: id (name)` lines. */
    readonly candidates: string[],
    kind: string,
  ) {
    super(`no ${kind} device matches ${JSON.stringify(selector)}; ${listCandidates(candidates)}`);
  }
}

/** A name substring that matches more than one device. */
export class AmbiguousDeviceError extends MediaDevicesError {
  /** @internal */
  constructor(
    /** What the caller asked for. */
    readonly selector: string,
    /** The devices that matched, as `index: id (name)` lines. */
    readonly candidates: string[],
    kind: string,
  ) {
    super(
      `${JSON.stringify(selector)} matches ${candidates.length} ${kind} devices; choose one by index or id; ` +
        listCandidates(candidates),
    );
  }
}

/** An option with a value outside what it accepts (a sample rate of 0, a negative channel count...). */
export class InvalidOptionError extends MediaDevicesError {
  /** @internal */
  constructor(
    /** The option's name. */
    readonly option: string,
    /** The value given. */
    readonly value: unknown,
    /** What the option accepts, in words. */
    readonly expected: string,
  ) {
    super(`invalid ${option}: ${String(value)}; expected ${expected}`);
  }
}

/**
 * A MediaDevices already has the one object of this kind it allows open: one input capture with audio processing
 * (one echo canceller serves one microphone), one output player (the echo canceller takes one far end). Close it
 * first, or use another MediaDevices.
 */
export class AlreadyOpenError extends MediaDevicesError {}

/** A device asked for something it cannot do: more channels than it has, input from an output-only device. */
export class DeviceCapabilityError extends MediaDevicesError {}

/** The audio back end (PortAudio, the sound server) refused or failed an operation. */
export class AudioBackendError extends MediaDevicesError {
  /** @internal */
  constructor(
    message: string,
    /** PortAudio's error code (PaErrorCode), when PortAudio reported one. */
    readonly paErrorCode?: number,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/**
 * The device a capture or player was using went away (unplugged, its sound-server device removed, the sound server
 * gone, or it stopped delivering callbacks for 2 s), and it could not move to another: it was not opened with
 * `followDefault`, or moving to the default failed (then `cause` says why). The capture or player is closed.
 */
export class DeviceLostError extends AudioBackendError {
  /** @internal */
  constructor(
    /** The id of the device that went away. */
    readonly deviceId: string,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, undefined, options);
  }
}

function listCandidates(candidates: string[]): string {
  return candidates.length === 0 ? 'there are none' : `candidates:\n  ${candidates.join('\n  ')}`;
}

/**
 * The native addon could not be loaded: no platform package for this machine is installed (or it failed to load)
 * and there is no local build. The message names the platform and the fix.
 */
export class NativeAddonError extends MediaDevicesError {
  /** @internal */
  constructor(
    /** This machine's platform as the package names it, e.g. `linux-x64-gnu`. */
    readonly platform: string,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}
