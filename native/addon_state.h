// Per-environment state of the addon: whether PortAudio is initialised and which streams are open,
// so that an environment that shuts down closes its streams before terminating PortAudio.
#pragma once

#include <napi.h>

#include <mutex>
#include <set>

class OpenStream;

struct AddonState {
  bool portAudioReady = false;
  std::set<OpenStream*> openStreams;  // PortAudio and libpulse streams alike
  Napi::FunctionReference streamConstructor;
  Napi::FunctionReference mixerClass;  // SourceMixer, to check what is handed to an AudioStream
};

// JavaScript thread of the environment, holding PortAudioLock().
// Throws a JavaScript Error for a PortAudio error code, with the code as `paErrorCode`
// and, for host errors, the host API's own message.
[[noreturn]] void ThrowPaError(Napi::Env env, int paError, const char* what);

// PortAudio is one library per process, shared by every environment (the main thread and each worker thread that
// loads the addon), and its API is not thread-safe. Every PortAudio call made from a JavaScript thread holds this
// process-wide lock (recursive: a call that fails may ask PortAudio for its error text). The audio callbacks make no
// PortAudio call and never take it, so Pa_StopStream / Pa_CloseStream may wait for a callback while holding it.
std::recursive_mutex& PortAudioLock();

// Initialises PortAudio for this environment: the first environment initialises the library, the others count
// themselves in; Cleanup (environment teardown) counts out and the last one terminates it. Throws when it fails.
// JavaScript thread of the environment.
void EnsurePortAudio(Napi::Env env);
