import type { AudioDevice, AudioDeviceKind } from '../audio_device.js';
import { AmbiguousDeviceError, DeviceNotFoundError } from '../errors.js';
import type { MediaDevices } from '../media_devices.js';
import { CliUsageError } from './cli_usage_error.js';

const LIST_HINT = 'run "lk-audio devices" to list them';

/** The help text of an option that names a device of one direction (`--input <mic>`, `--device <speaker>`). */
export function deviceOptionHelp(kind: AudioDeviceKind): string {
  const word = kind === 'audioinput' ? 'input' : 'output';
  return `${word} device: #, id or part of the name (default: the default ${word})`;
}

/**
 * A `--device` style value: an index when it is a whole number, otherwise an id (also as `[id]`, the way
 * `lk-audio devices` prints it) or a part of a name.
 */
export function parseDevice(value: string): string | number {
  const bare = /^\[(.+)\]$/.exec(value.trim())?.[1] ?? value.trim();
  return /^\d+$/.test(bare) ? Number(bare) : bare;
}

/**
 * The device a `--device` style option names, or the default device of its direction when it names none.
 * @param option the option's flag, for messages (e.g. `--input`)
 * @throws {CliUsageError} naming the option when no device (or more than one) matches, or when the value names a
 *   device of the other direction, with a hint to list the devices
 */
export function resolveDevice(
  devices: MediaDevices,
  kind: AudioDeviceKind,
  value: string | undefined,
  option: string,
): AudioDevice {
  const input = kind === 'audioinput';
  const word = input ? 'input' : 'output';
  if (value === undefined) {
    const device = input ? devices.defaultInputDevice() : devices.defaultOutputDevice();
    if (!device)
      throw new CliUsageError(
        `there is no default ${word} device`,
        `choose one with ${option}; ${LIST_HINT}`,
      );
    return device;
  }
  const selector = parseDevice(value);
  try {
    return input ? devices.getInputDevice(selector) : devices.getOutputDevice(selector);
  } catch (error) {
    if (error instanceof AmbiguousDeviceError) {
      throw new CliUsageError(
        `${option} ${value} matches ${error.candidates.length} ${word} devices`,
        `give more of the name, or its index or id; ${LIST_HINT}`,
      );
    }
    if (!(error instanceof DeviceNotFoundError)) throw error;
    const other = otherDirection(devices, input, selector);
    if (other) {
      throw new CliUsageError(
        `${option} ${value} is an ${input ? 'output' : 'input'} device (${other.name} [${other.id}]), not an ${word} device`,
        `choose an ${word} device; ${LIST_HINT}`,
      );
    }
    throw new CliUsageError(`no ${word} device matches ${option} ${value}`, LIST_HINT);
  }
}

function otherDirection(
  devices: MediaDevices,
  input: boolean,
  selector: string | number,
): AudioDevice | undefined {
  try {
    return input ? devices.getOutputDevice(selector) : devices.getInputDevice(selector);
  } catch (error) {
    if (error instanceof DeviceNotFoundError || error instanceof AmbiguousDeviceError)
      return undefined;
    throw error;
  }
}
