// Per-environment state of the addon: whether PortAudio is initialised and which streams are open,
// so that an environment that shuts down closes its streams before terminating PortAudio.
#pragma once

#include <napi.h>

#include <set>

class AudioStream;

struct AddonState {
  bool portAudioReady = false;
  std::set<AudioStream*> openStreams;
  Napi::FunctionReference streamConstructor;
};

// Throws a JavaScript Error for a PortAudio error code, with the code as `paErrorCode`
// and, for host errors, the host API's own message.
[[noreturn]] void ThrowPaError(Napi::Env env, int paError, const char* what);

// Initialises PortAudio once per environment; throws when it fails.
void EnsurePortAudio(Napi::Env env);
