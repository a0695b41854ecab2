// Sinks and sources of a PulseAudio-compatible sound server (PulseAudio or PipeWire's pulse server), kept by one
// long-lived libpulse connection on its own thread. Debian's PortAudio sees such a server only as the ALSA PCM
// `pulse`; this is how the package knows the server's own devices and hears at once when they change.
//
// Threads: the JavaScript thread that created a SoundServerMonitor calls its methods; libpulse's threaded main
// loop (one thread per monitor) does all the talking to the server and publishes a snapshot under a mutex, so a
// JavaScript read copies that snapshot and never waits on the server.
#pragma once

#include <napi.h>

// new SoundServerMonitor(onChange: () => void)
//   Connects at once (never starting a server). onChange runs on the JavaScript thread, through an unreferenced
//   thread-safe function, after each change of the snapshot (devices, defaults or connection state); several
//   changes may share one call.
// snapshot() -> { state: 'connecting' | 'ready' | 'stalled' | 'disconnected', reason: string, generation: number,
//                 listing: null | { serverName, defaultSink, defaultSource, sinks: [...], sources: [...] } }
//   `listing` is the last complete listing the server gave (kept while it is stalled or gone); each device is
//   { name, description, channels, sampleRate, monitorOf (sources: the sink it monitors, or null) }.
// generation() -> number: the snapshot's generation, without copying it (a cheap test for "anything new?").
// waitForListing(timeoutMs) -> boolean: blocks until the first listing or the first failure to connect, at most
//   timeoutMs; true when a listing is there.
// close(): stops the thread and disconnects; idempotent. Also runs when the environment shuts down.
Napi::Function DefineSoundServerMonitor(Napi::Env env);
