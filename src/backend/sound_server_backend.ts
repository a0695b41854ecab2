import { InvalidOptionError } from '../errors.js';

/**
 * How a stream on a sound-server device (a PulseAudio or PipeWire sink or source, `hostApi: 'PulseAudio'`) talks
 * to the server:
 * - `'libpulse'`: the server's own protocol through libpulse's asynchronous API, on a thread of its own, with
 *   buffer sizes set exactly (native/pulse_stream.h);
 * - `'portaudio'`: PortAudio through ALSA's `pulse` plugin, as every other device.
 */
export type SoundServerBackend = 'libpulse' | 'portaudio';

/** The environment variable that chooses the backend when no option does. */
export const SOUND_SERVER_BACKEND_ENV = 'LK_AUDIO_SOUND_SERVER_BACKEND';

/** The backend when neither an option nor {@link SOUND_SERVER_BACKEND_ENV} chooses one. */
export const DEFAULT_SOUND_SERVER_BACKEND: SoundServerBackend = 'libpulse';

function check(option: string, value: unknown): SoundServerBackend {
  if (value === 'libpulse' || value === 'portaudio') return value;
  throw new InvalidOptionError(option, value, "'libpulse' or 'portaudio'");
}

/**
 * @internal
 * The backend for a stream on sound-server devices: the option when given, else the environment variable
 * {@link SOUND_SERVER_BACKEND_ENV}, else {@link DEFAULT_SOUND_SERVER_BACKEND}.
 * @throws InvalidOptionError for a value that is neither `'libpulse'` nor `'portaudio'`.
 */
export function soundServerBackend(option: unknown): SoundServerBackend {
  if (option !== undefined) return check('soundServerBackend', option);
  const fromEnv = process.env[SOUND_SERVER_BACKEND_ENV];
  if (fromEnv !== undefined && fromEnv !== '') return check(SOUND_SERVER_BACKEND_ENV, fromEnv);
  return DEFAULT_SOUND_SERVER_BACKEND;
}

/** The environment variable that sets PA_STREAM_ADJUST_LATENCY on libpulse streams (`1` or `0`), for measuring. */
export const PULSE_ADJUST_LATENCY_ENV = 'LK_AUDIO_PULSE_ADJUST_LATENCY';

/**
 * @internal Whether libpulse streams ask the server to size the device's buffer into their own (ADJUST_LATENCY):
 * {@link PULSE_ADJUST_LATENCY_ENV} when set, else the measured choice (bench/media_devices.ts).
 */
export function pulseAdjustLatency(): boolean {
  const fromEnv = process.env[PULSE_ADJUST_LATENCY_ENV];
  if (fromEnv === '1') return true;
  if (fromEnv === '0') return false;
  return false;
}
