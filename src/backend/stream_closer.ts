import type { NativeAudioStream } from './native_binding.js';
import { SoundServer } from './sound_server.js';

/** Streams made inert while the sound server was stalled, to be closed when it answers again. */
const parked = new Set<NativeAudioStream>();
let stopWatching: (() => void) | undefined;

function closeParked(): void {
  if (SoundServer.get().stalled()) return;
  for (const stream of parked) stream.close();
  parked.clear();
  stopWatching?.();
  stopWatching = undefined;
}

/**
 * @internal
 * Closes a native stream without blocking the JavaScript thread on a stalled sound server: closing a stream through
 * ALSA's pulse plugin waits for the server's answer, which a suspended or hung server never gives. Such a stream is
 * made inert at once (its callback plays silence and touches nothing) and closed for real when the server answers
 * again; a server that is gone answers at once (its socket is closed), so it is closed then and there. A stall that
 * the server's connection has not noticed yet (up to 1.5 s) still blocks.
 * @param viaSoundServer whether the stream's audio passes through the sound server
 */
export function closeNativeStream(stream: NativeAudioStream, viaSoundServer: boolean): void {
  if (!viaSoundServer || !SoundServer.get().stalled()) {
    stream.close();
    return;
  }
  stream.makeInert();
  parked.add(stream);
  stopWatching ??= SoundServer.get().subscribe(closeParked);
}
