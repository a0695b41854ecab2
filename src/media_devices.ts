import type { AudioDevice, AudioDeviceKind, DeviceSelector } from './audio_device.js';
import { DeviceCatalog } from './backend/device_catalog.js';
import { MAX_SAMPLE_RATE, MIN_SAMPLE_RATE } from './device_stream.js';
import { InvalidOptionError } from './errors.js';

/** Options of {@link MediaDevices}. */
export interface MediaDevicesOptions {
  /** Sample rate of captured audio handed to LiveKit (Hz); default 48000. */
  inputSampleRate?: number;
  /** Sample rate at which audio is played (Hz); default 48000. */
  outputSampleRate?: number;
  /** Channels of captured and played audio; default 1. */
  numChannels?: number;
  /** Samples per channel per device callback; default 10 ms of audio at the input sample rate. */
  blocksize?: number;
}

function checkRate(option: string, rate: number): number {
  if (!Number.isInteger(rate) || rate < MIN_SAMPLE_RATE || rate > MAX_SAMPLE_RATE) {
    throw new InvalidOptionError(
      option,
      rate,
      `an integer from ${MIN_SAMPLE_RATE} to ${MAX_SAMPLE_RATE} Hz`,
    );
  }
  return rate;
}

/**
 * The machine's microphones and speakers, for LiveKit: device enumeration and defaults.
 * Devices are read fresh on every call, so a device plugged in (or a sound-server sink created) shows up at once.
 */
export class MediaDevices {
  /** Sample rate of captured audio (Hz). */
  readonly inputSampleRate: number;
  /** Sample rate of played audio (Hz). */
  readonly outputSampleRate: number;
  /** Channels of captured and played audio. */
  readonly numChannels: number;
  /** Samples per channel per device callback. */
  readonly blocksize: number;

  /** @throws InvalidOptionError for a sample rate, channel count or blocksize out of range. */
  constructor(options: MediaDevicesOptions = {}) {
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

  private list(kind: AudioDeviceKind): AudioDevice[] {
    return DeviceCatalog.read()
      .list(kind)
      .map((e) => e.device);
  }
}
