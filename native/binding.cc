// Entry point of the native addon: PortAudio's host APIs and devices, the AudioStream class (PortAudio), the
// PulseStream class (libpulse, for sound-server devices) and the SourceMixer class (the player's sources).
// Policy (device choice, framing, processing) lives in TypeScript; this file only reports what PortAudio sees.
#include <napi.h>
#include <portaudio.h>

#include <string>

#if defined(__linux__)
#include <alsa/asoundlib.h>
#endif

#include "addon_state.h"
#include "audio_stream.h"
#include "pulse_devices.h"
#include "pulse_library.h"
#include "pulse_stream.h"
#include "quiet_stderr.h"
#include "source_mixer.h"

std::recursive_mutex& PortAudioLock() {
  static std::recursive_mutex lock;
  return lock;
}

void ThrowPaError(Napi::Env env, int paError, const char* what) {
  std::lock_guard<std::recursive_mutex> lock(PortAudioLock());
  std::string message = std::string(what) + ": " + Pa_GetErrorText(paError);
  if (paError == paUnanticipatedHostError) {
    const PaHostErrorInfo* host = Pa_GetLastHostErrorInfo();
    if (host && host->errorText) message += std::string(" (") + host->errorText + ")";
  }
  Napi::Error error = Napi::Error::New(env, message);
  error.Set("paErrorCode", Napi::Number::New(env, paError));
  throw error;
}

namespace {

bool quietProbe = false;
// Environments that have initialised PortAudio (guarded by PortAudioLock()).
int portAudioUsers = 0;

#if defined(__linux__)
// alsa-lib prints its own messages ("underrun occurred") on stderr from the audio thread. The package counts
// every xrun from PortAudio's status flags, so in quiet mode the text is dropped.
void IgnoreAlsaMessage(const char*, int, const char*, int, const char*, ...) {}
#endif

// PortAudio's host back ends print probe noise on stderr while they initialise; when asked, silence stderr for
// exactly that call (quiet_stderr.h).
PaError InitializePortAudio() {
  if (!quietProbe) return Pa_Initialize();
  QuietStderr quiet;
  return Pa_Initialize();
}

}  // namespace

void EnsurePortAudio(Napi::Env env) {
  AddonState* state = env.GetInstanceData<AddonState>();
  if (state->portAudioReady) return;
  std::lock_guard<std::recursive_mutex> lock(PortAudioLock());
  if (portAudioUsers == 0) {
    const PaError err = InitializePortAudio();
    if (err != paNoError) ThrowPaError(env, err, "cannot initialise PortAudio");
  }
  portAudioUsers++;
  state->portAudioReady = true;
}

namespace {

// setQuietProbe(quiet: boolean): keep PortAudio's probe messages off stderr when it initialises, and alsa-lib's
// messages while streams run. JavaScript thread, before any stream opens (alsa-lib's handler is process-wide).
Napi::Value SetQuietProbe(const Napi::CallbackInfo& info) {
  quietProbe = info[0].ToBoolean();
#if defined(__linux__)
  snd_lib_error_set_handler(quietProbe ? IgnoreAlsaMessage : nullptr);
#endif
  return info.Env().Undefined();
}

// JavaScript thread. listHostApis() -> [{ index, name, type, defaultInputDevice, defaultOutputDevice }]
Napi::Value ListHostApis(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  EnsurePortAudio(env);
  std::lock_guard<std::recursive_mutex> lock(PortAudioLock());
  const int count = Pa_GetHostApiCount();
  Napi::Array out = Napi::Array::New(env, count > 0 ? count : 0);
  for (int i = 0; i < count; i++) {
    const PaHostApiInfo* api = Pa_GetHostApiInfo(i);
    if (!api) throw Napi::Error::New(env, "PortAudio has no information on host API " + std::to_string(i));
    Napi::Object o = Napi::Object::New(env);
    o.Set("index", i);
    o.Set("name", api->name);
    o.Set("type", static_cast<int>(api->type));
    o.Set("defaultInputDevice", api->defaultInputDevice);
    o.Set("defaultOutputDevice", api->defaultOutputDevice);
    out.Set(static_cast<uint32_t>(i), o);
  }
  return out;
}

// JavaScript thread. listDevices() -> [{ index, name, hostApi, maxInputChannels, maxOutputChannels, defaultSampleRate,
//                     defaultLowInputLatency, defaultHighInputLatency, defaultLowOutputLatency,
//                     defaultHighOutputLatency }], latencies in seconds.
Napi::Value ListDevices(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  EnsurePortAudio(env);
  std::lock_guard<std::recursive_mutex> lock(PortAudioLock());
  const int count = Pa_GetDeviceCount();
  Napi::Array out = Napi::Array::New(env, count > 0 ? count : 0);
  for (int i = 0; i < count; i++) {
    const PaDeviceInfo* d = Pa_GetDeviceInfo(i);
    const PaHostApiInfo* api = d ? Pa_GetHostApiInfo(d->hostApi) : nullptr;
    if (!api) throw Napi::Error::New(env, "PortAudio has no information on device " + std::to_string(i));
    Napi::Object o = Napi::Object::New(env);
    o.Set("index", i);
    o.Set("name", d->name);
    o.Set("hostApi", api->name);
    o.Set("maxInputChannels", d->maxInputChannels);
    o.Set("maxOutputChannels", d->maxOutputChannels);
    o.Set("defaultSampleRate", d->defaultSampleRate);
    o.Set("defaultLowInputLatency", d->defaultLowInputLatency);
    o.Set("defaultHighInputLatency", d->defaultHighInputLatency);
    o.Set("defaultLowOutputLatency", d->defaultLowOutputLatency);
    o.Set("defaultHighOutputLatency", d->defaultHighOutputLatency);
    out.Set(static_cast<uint32_t>(i), o);
  }
  return out;
}

// JavaScript thread. defaultDevices() -> { input, output }: PortAudio's default device indices, -1 where there is none.
Napi::Value DefaultDevices(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  EnsurePortAudio(env);
  std::lock_guard<std::recursive_mutex> lock(PortAudioLock());
  Napi::Object o = Napi::Object::New(env);
  o.Set("input", Pa_GetDefaultInputDevice());
  o.Set("output", Pa_GetDefaultOutputDevice());
  return o;
}

// JavaScript thread. soundServerLibraryError() -> null when libpulse is loaded (or on systems other than Linux, which
// have no PulseAudio-compatible sound server to list), else one line saying why it could not be loaded. The first call
// loads it (pulse_library.h).
Napi::Value SoundServerLibraryError(const Napi::CallbackInfo& info) {
#if defined(__linux__)
  std::string reason;
  if (!LoadPulseLibrary(&reason)) return Napi::String::New(info.Env(), reason);
#endif
  return info.Env().Null();
}

// JavaScript thread. openStreamCount() -> number of streams this environment has open (for leak checks).
Napi::Value OpenStreamCount(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(info.Env().GetInstanceData<AddonState>()->openStreams.size()));
}

// JavaScript thread. quiesceAllStreams(): makes every stream this environment has open inert (see
// AudioStream::MakeInert), without blocking. For process.exit(), which runs no environment clean-up: the callbacks
// must not touch the process's state while it exits, and closing a stream on a stalled sound server would block
// the exit; the system releases the devices when the process ends.
Napi::Value QuiesceAllStreams(const Napi::CallbackInfo& info) {
  for (OpenStream* stream : info.Env().GetInstanceData<AddonState>()->openStreams) stream->MakeInert();
  return info.Env().Undefined();
}

// Runs when the environment shuts down (worker end, the main thread's normal exit): close every stream, then count
// out of PortAudio. Environment teardown, on its JavaScript thread.
void Cleanup(Napi::Env, AddonState* state) {
  while (!state->openStreams.empty()) (*state->openStreams.begin())->CloseNow();
  if (state->portAudioReady) {
    std::lock_guard<std::recursive_mutex> lock(PortAudioLock());
    if (--portAudioUsers == 0) Pa_Terminate();
  }
  delete state;
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  auto* state = new AddonState();
  env.SetInstanceData<AddonState, Cleanup>(state);
  Napi::Function streamClass = AudioStream::Define(env);
  state->streamConstructor = Napi::Persistent(streamClass);
  exports.Set("AudioStream", streamClass);
  Napi::Function mixerClass = SourceMixer::Define(env);
  state->mixerClass = Napi::Persistent(mixerClass);
  exports.Set("SourceMixer", mixerClass);
  exports.Set("PulseStream", DefinePulseStream(env));
  exports.Set("setQuietProbe", Napi::Function::New(env, SetQuietProbe));
  exports.Set("listHostApis", Napi::Function::New(env, ListHostApis));
  exports.Set("listDevices", Napi::Function::New(env, ListDevices));
  exports.Set("defaultDevices", Napi::Function::New(env, DefaultDevices));
  exports.Set("SoundServerMonitor", DefineSoundServerMonitor(env));
  exports.Set("soundServerLibraryError", Napi::Function::New(env, SoundServerLibraryError));
  exports.Set("openStreamCount", Napi::Function::New(env, OpenStreamCount));
  exports.Set("quiesceAllStreams", Napi::Function::New(env, QuiesceAllStreams));
  {
    std::lock_guard<std::recursive_mutex> lock(PortAudioLock());
    exports.Set("portAudioVersion", Napi::String::New(env, Pa_GetVersionText()));
  }
  return exports;
}

}  // namespace

NODE_API_MODULE(lk_audio, Init)
