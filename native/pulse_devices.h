// Sinks and sources of a PulseAudio-compatible sound server (PulseAudio or PipeWire's pulse server),
// listed through libpulse. Debian's PortAudio sees such a server only as one ALSA PCM named `pulse`.
#pragma once

#include <napi.h>

// listSoundServerDevices(timeoutMs) -> { serverName, defaultSink, defaultSource, sinks: [...], sources: [...] }
// or null when no server answers within the timeout. Each device: { name, description, channels, sampleRate,
// monitorOf (sources only: the sink a monitor source belongs to, or null) }.
Napi::Value ListSoundServerDevices(const Napi::CallbackInfo& info);
