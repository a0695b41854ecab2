import type { NativeBinding } from './native_binding.js';

/** The `code` of the process warning emitted when libpulse cannot be loaded (see {@link warnIfNoSoundServerLibrary}). */
export const NO_SOUND_SERVER_LIBRARY_WARNING = 'LK_AUDIO_NO_LIBPULSE';

let checked = false;

/**
 * @internal
 * On Linux, the addon loads libpulse at run time to list a PulseAudio-compatible sound server's sinks and sources.
 * Where it cannot (no libpulse0 installed, or an unusable one), devices are still listed, PortAudio's only; this
 * says so once per process, as a Node.js process warning (`process.on('warning')`, code `LK_AUDIO_NO_LIBPULSE`),
 * the first time devices are read.
 */
export function warnIfNoSoundServerLibrary(native: NativeBinding): void {
  if (checked) return;
  checked = true;
  if (process.platform !== 'linux') return;
  const reason = native.soundServerLibraryError();
  if (reason === null) return;
  process.emitWarning(
    `livekit-media-devices: sound-server device names are unavailable (${reason}); only PortAudio's devices are ` +
      'listed. Install libpulse0 (the PulseAudio client library; PipeWire systems have it too) to list the sound ' +
      "server's sinks and sources.",
    { code: NO_SOUND_SERVER_LIBRARY_WARNING },
  );
}
