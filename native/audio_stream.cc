#include "audio_stream.h"

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <string>

#include "addon_state.h"
#include "sound_server_pcm.h"

#ifdef __linux__
#include <pa_linux_alsa.h>
#endif

namespace {

double NumberOr(const Napi::Object& o, const char* key, double fallback) {
  Napi::Value v = o.Get(key);
  return v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : fallback;
}

}  // namespace

Napi::Function AudioStream::Define(Napi::Env env) {
  return DefineClass(env, "AudioStream",
                     {
                         InstanceMethod<&AudioStream::Start>("start"),
                         InstanceMethod<&AudioStream::Stop>("stop"),
                         InstanceMethod<&AudioStream::Close>("close"),
                         InstanceMethod<&AudioStream::MakeInertMethod>("makeInert"),
                         InstanceMethod<&AudioStream::ReadInput>("readInput"),
                         InstanceMethod<&AudioStream::ReadRendered>("readRendered"),
                         InstanceMethod<&AudioStream::Write>("write"),
                         InstanceMethod<&AudioStream::OutputBufferedFrames>("outputBufferedFrames"),
                         InstanceMethod<&AudioStream::OutputWritableFrames>("outputWritableFrames"),
                         InstanceMethod<&AudioStream::Counters>("counters"),
                         InstanceMethod<&AudioStream::Info>("info"),
                         InstanceMethod<&AudioStream::Time>("time"),
                         InstanceMethod<&AudioStream::IsActive>("isActive"),
                     });
}

// new AudioStream({ inputDevice, inputChannels, outputDevice, outputChannels, sampleRate, framesPerBuffer,
//                   inputLatency, outputLatency, ringFrames, captureRendered, realtimeScheduling, onWake, owner,
//                   inputServerDevice, outputServerDevice, mixer })
// onWake is called with `this` = owner on the JavaScript thread after device callbacks.
// Latencies are in seconds (PortAudio's unit); validation with friendly messages happens in TypeScript.
// inputServerDevice / outputServerDevice name a sound-server source / sink, opened through the ALSA PCM that
// inputDevice / outputDevice index (whose latencies then apply); see sound_server_pcm.h.
// mixer: a SourceMixer with the output's channels, mixed into the output at every callback, for this stream only.
AudioStream::AudioStream(const Napi::CallbackInfo& info) : Napi::ObjectWrap<AudioStream>(info) {
  Napi::Env env = info.Env();
  EnsurePortAudio(env);
  std::lock_guard<std::recursive_mutex> lock(PortAudioLock());
  if (!info[0].IsObject()) throw Napi::TypeError::New(env, "AudioStream options must be an object");
  Napi::Object o = info[0].As<Napi::Object>();
  inputChannels_ = static_cast<int>(NumberOr(o, "inputChannels", 0));
  outputChannels_ = static_cast<int>(NumberOr(o, "outputChannels", 0));
  sampleRate_ = NumberOr(o, "sampleRate", 0);
  const unsigned long framesPerBuffer = static_cast<unsigned long>(NumberOr(o, "framesPerBuffer", 0));
  const size_t ringFrames = static_cast<size_t>(NumberOr(o, "ringFrames", sampleRate_));
  const bool captureRendered = o.Get("captureRendered").ToBoolean();
  if (inputChannels_ <= 0 && outputChannels_ <= 0)
    throw Napi::RangeError::New(env, "a stream needs input or output channels");
  if (!(sampleRate_ > 0) || ringFrames == 0)
    throw Napi::RangeError::New(env, "sampleRate and ringFrames must be positive");
  if (!o.Get("onWake").IsFunction()) throw Napi::TypeError::New(env, "onWake must be a function");
  if (!o.Get("owner").IsObject()) throw Napi::TypeError::New(env, "owner must be an object");

  PaStreamParameters in{}, out{};
  const int deviceCount = Pa_GetDeviceCount();
  auto fill = [&](PaStreamParameters& p, const char* deviceKey, int channels, const char* latencyKey) {
    p.device = static_cast<PaDeviceIndex>(NumberOr(o, deviceKey, -1));
    if (p.device < 0 || p.device >= deviceCount)
      throw Napi::RangeError::New(env, std::string(deviceKey) + " is not a PortAudio device index");
    p.channelCount = channels;
    p.sampleFormat = paInt16;
    const PaDeviceInfo* device = Pa_GetDeviceInfo(p.device);
    if (!device) throw Napi::RangeError::New(env, std::string(deviceKey) + ": PortAudio has no such device");
    const bool isInput = &p == &in;
    p.suggestedLatency =
        NumberOr(o, latencyKey, isInput ? device->defaultLowInputLatency : device->defaultLowOutputLatency);
    p.hostApiSpecificStreamInfo = nullptr;
  };
  if (inputChannels_ > 0) fill(in, "inputDevice", inputChannels_, "inputLatency");
  if (outputChannels_ > 0) fill(out, "outputDevice", outputChannels_, "outputLatency");
  const PaDeviceIndex anyDevice = inputChannels_ > 0 ? in.device : out.device;

  // A sound-server device: the same host API, the device named in the ALSA device string instead of the index.
  std::string inString, outString;  // outlive Pa_OpenStream, which reads them
#ifdef __linux__
  PaAlsaStreamInfo inAlsa, outAlsa;
#else
  struct NoAlsa {
  } inAlsa, outAlsa;
#endif
  auto toServerDevice = [&](PaStreamParameters& p, const char* key, std::string& deviceString,
                            decltype(inAlsa)& alsa) {
    Napi::Value name = o.Get(key);
    if (name.IsUndefined()) return;
    if (!name.IsString()) throw Napi::TypeError::New(env, std::string(key) + " must be a string");
#ifdef __linux__
    std::string error;
    if (!SoundServerDeviceString(name.As<Napi::String>(), &deviceString, &error)) throw Napi::Error::New(env, error);
    PaAlsa_InitializeStreamInfo(&alsa);
    alsa.deviceString = deviceString.c_str();
    p.device = paUseHostApiSpecificDeviceSpecification;
    p.hostApiSpecificStreamInfo = &alsa;
#else
    (void)p, (void)deviceString, (void)alsa;
    throw Napi::Error::New(env, std::string(key) + " needs ALSA");
#endif
  };
  mixer_ = AttachMixer(env, o, outputChannels_, &mixerRef_);
  if (inputChannels_ > 0) toServerDevice(in, "inputServerDevice", inString, inAlsa);
  if (outputChannels_ > 0) toServerDevice(out, "outputServerDevice", outString, outAlsa);

  // Everything the stream uses is allocated before it opens: the callback never allocates, and a failed allocation
  // leaves nothing open behind.
  AllocateStreamRings(env, ringFrames, inputChannels_, outputChannels_, captureRendered, input_, output_, rendered_);

  // From here on, a throw (a failed open, a failed handle) closes whatever was set up, the stream included.
  struct CloseOnThrow {
    AudioStream* stream;
    bool armed = true;
    ~CloseOnThrow() {
      if (armed) stream->CloseNow();
    }
  } closeOnThrow{this};

  // The wake-up calls onWake on the owner, which it holds weakly: an owner dropped unclosed is collected, and its
  // finalizer closes the stream. A started stream holds it strongly (see Start).
  onWake_ = Napi::Persistent(o.Get("onWake").As<Napi::Function>());
  owner_ = Napi::Weak(o.Get("owner").As<Napi::Object>());
  asyncContext_ = new Napi::AsyncContext(env, "livekit-media-devices:AudioStream");
  wake_ = NewWakeHandle(env, this, &AudioStream::OnWake);

  PaStreamParameters* inP = inputChannels_ > 0 ? &in : nullptr;
  PaStreamParameters* outP = outputChannels_ > 0 ? &out : nullptr;
  PaError err = Pa_IsFormatSupported(inP, outP, sampleRate_);
  if (err == paFormatIsSupported)
    err = Pa_OpenStream(&stream_, inP, outP, sampleRate_, framesPerBuffer, paNoFlag, &AudioStream::OnAudio, this);
  if (err != paNoError) {
    stream_ = nullptr;
    ThrowPaError(env, err, "cannot open the audio stream");
  }

#ifdef __linux__
  // A SCHED_FIFO callback thread rides out a loaded machine; PortAudio falls back to normal scheduling where the
  // process may not raise its priority.
  const PaHostApiInfo* hostApi = Pa_GetHostApiInfo(Pa_GetDeviceInfo(anyDevice)->hostApi);
  if (o.Get("realtimeScheduling").ToBoolean() && hostApi && hostApi->type == paALSA)
    PaAlsa_EnableRealtimeScheduling(stream_, 1);
#endif

  env.GetInstanceData<AddonState>()->openStreams.insert(this);
  closeOnThrow.armed = false;
}

AudioStream::~AudioStream() { CloseNow(); }

void AudioStream::MakeInert() { inert_.store(true, std::memory_order_release); }

void AudioStream::CloseNow() {
  if (stream_) {
    std::lock_guard<std::recursive_mutex> lock(PortAudioLock());
    // Stops the callback first; nothing touches the rings afterwards. When PortAudio fails to close, the callback
    // may still run: its rings are then given up (leaked) rather than freed under it.
    if (Pa_CloseStream(stream_) != paNoError) {
      input_.release();
      output_.release();
      rendered_.release();
      mixerRef_.SuppressDestruct();
      mixer_ = nullptr;
    }
    stream_ = nullptr;
    Env().GetInstanceData<AddonState>()->openStreams.erase(this);
  }
  if (wake_) {
    wake_->data = nullptr;
    uv_close(reinterpret_cast<uv_handle_t*>(wake_), [](uv_handle_t* h) { delete reinterpret_cast<uv_async_t*>(h); });
    wake_ = nullptr;
  }
  if (started_) {
    started_ = false;
    owner_.Unref();
  }
  if (mixer_) {
    mixer_->SetRunning(false);
    mixer_ = nullptr;
  }
  mixerRef_.Reset();
  delete asyncContext_;
  asyncContext_ = nullptr;
  onWake_.Reset();
  owner_.Reset();
}

int AudioStream::OnAudio(const void* input, void* output, unsigned long frames, const PaStreamCallbackTimeInfo* time,
                         PaStreamCallbackFlags flags, void* userData) {
  auto* self = static_cast<AudioStream*>(userData);
  if (self->inert_.load(std::memory_order_acquire)) {
    if (output) std::memset(output, 0, frames * self->outputChannels_ * sizeof(int16_t));
    return paContinue;
  }
  StreamCounters& c = self->counters_;
  c.callbacks.fetch_add(1, std::memory_order_relaxed);
  if (flags & paInputOverflow) c.inputOverflows.fetch_add(1, std::memory_order_relaxed);
  if (flags & paInputUnderflow) c.inputUnderflows.fetch_add(1, std::memory_order_relaxed);
  if (flags & paOutputUnderflow) c.outputUnderflows.fetch_add(1, std::memory_order_relaxed);
  if (flags & paOutputOverflow) c.outputOverflows.fetch_add(1, std::memory_order_relaxed);
  const double n = static_cast<double>(frames);
  self->clock_.Publish(time->currentTime);

  if (self->input_ && input) {
    const BlockInfo block{time->currentTime, time->inputBufferAdcTime, time->outputBufferDacTime,
                          self->inputPosition_, n, static_cast<double>(flags)};
    if (!self->input_->push(static_cast<const int16_t*>(input), block)) {
      c.inputRingOverruns.fetch_add(1, std::memory_order_relaxed);
      c.inputDroppedFrames.fetch_add(frames, std::memory_order_relaxed);
    }
    self->inputPosition_ += n;
  }

  if (self->output_ && output) {
    auto* out = static_cast<int16_t*>(output);
    const size_t want = frames * self->outputChannels_;
    const size_t got = self->output_->read(out, want);
    if (got < want) {
      std::memset(out + got, 0, (want - got) * sizeof(int16_t));
      if (self->outputPrimed_.load(std::memory_order_relaxed)) {
        c.outputRingUnderruns.fetch_add(1, std::memory_order_relaxed);
        c.outputSilenceFrames.fetch_add((want - got) / self->outputChannels_, std::memory_order_relaxed);
      }
    }
    if (self->mixer_) self->mixer_->MixInto(out, frames);
    if (self->rendered_) {
      const BlockInfo block{time->currentTime, time->inputBufferAdcTime, time->outputBufferDacTime,
                            self->outputPosition_, n, static_cast<double>(flags)};
      if (!self->rendered_->push(out, block)) c.renderedRingOverruns.fetch_add(1, std::memory_order_relaxed);
    }
    self->outputPosition_ += n;
  }

  uv_async_send(self->wake_);  // coalesces: at most one wake-up is pending at a time
  return paContinue;
}

void AudioStream::OnWake(uv_async_t* handle) {
  auto* self = static_cast<AudioStream*>(handle->data);
  if (!self || self->onWake_.IsEmpty()) return;
  Napi::Env env = self->Env();
  Napi::HandleScope scope(env);
  Napi::Value owner = self->owner_.Value();
  if (owner.IsEmpty() || owner.IsUndefined()) return;  // collected: its finalizer closes the stream
  // MakeCallback runs microtasks; node-addon-api rethrows an exception the callback left pending as a C++
  // Napi::Error, which must not reach libuv (std::terminate). It goes to Node as an uncaught exception instead.
  try {
    self->onWake_.MakeCallback(owner, {}, *self->asyncContext_);
  } catch (const Napi::Error& error) {
    napi_fatal_exception(env, error.Value());
  } catch (const std::exception& error) {
    napi_fatal_exception(env, Napi::Error::New(env, error.what()).Value());
  }
}

void AudioStream::CheckOpen(Napi::Env env) const {
  if (!stream_) throw Napi::Error::New(env, "the audio stream is closed");
}

Napi::Value AudioStream::Start(const Napi::CallbackInfo& info) {
  std::lock_guard<std::recursive_mutex> lock(PortAudioLock());
  CheckOpen(info.Env());
  if (started_) return info.Env().Undefined();
  PaError err = Pa_StartStream(stream_);
  if (err != paNoError) ThrowPaError(info.Env(), err, "cannot start the audio stream");
  started_ = true;
  if (mixer_) mixer_->SetRunning(true);
  owner_.Ref();  // a running stream (and its owner) must not be collected; its wake-up handle keeps the loop alive
  uv_ref(reinterpret_cast<uv_handle_t*>(wake_));
  return info.Env().Undefined();
}

Napi::Value AudioStream::Stop(const Napi::CallbackInfo& info) {
  std::lock_guard<std::recursive_mutex> lock(PortAudioLock());
  if (!stream_ || !started_) return info.Env().Undefined();
  PaError err = Pa_StopStream(stream_);
  started_ = false;
  // A stream that failed to stop may still call back: its mixer stays in the callback's hands.
  if (mixer_ && err == paNoError) mixer_->SetRunning(false);
  owner_.Unref();
  uv_unref(reinterpret_cast<uv_handle_t*>(wake_));
  if (err != paNoError) ThrowPaError(info.Env(), err, "cannot stop the audio stream");
  return info.Env().Undefined();
}

Napi::Value AudioStream::MakeInertMethod(const Napi::CallbackInfo& info) {
  MakeInert();
  return info.Env().Undefined();
}

Napi::Value AudioStream::Close(const Napi::CallbackInfo& info) {
  CloseNow();
  return info.Env().Undefined();
}

Napi::Value AudioStream::ReadInput(const Napi::CallbackInfo& info) {
  if (!input_) throw Napi::Error::New(info.Env(), "the stream has no input");
  return DrainTimedRing(info.Env(), *input_);
}

Napi::Value AudioStream::ReadRendered(const Napi::CallbackInfo& info) {
  if (!rendered_) throw Napi::Error::New(info.Env(), "the stream was not opened with captureRendered");
  return DrainTimedRing(info.Env(), *rendered_);
}

// write(samples: Int16Array) -> frames accepted (as many whole frames as fit in the output ring).
Napi::Value AudioStream::Write(const Napi::CallbackInfo& info) {
  CheckOpen(info.Env());
  if (!output_) throw Napi::Error::New(info.Env(), "the stream has no output");
  return WriteOutputRing(info, *output_, static_cast<size_t>(outputChannels_), outputPrimed_);
}

Napi::Value AudioStream::OutputBufferedFrames(const Napi::CallbackInfo& info) {
  if (!output_) return Napi::Number::New(info.Env(), 0);
  return Napi::Number::New(info.Env(), static_cast<double>(output_->readable() / outputChannels_));
}

Napi::Value AudioStream::OutputWritableFrames(const Napi::CallbackInfo& info) {
  if (!output_) return Napi::Number::New(info.Env(), 0);
  return Napi::Number::New(info.Env(), static_cast<double>(output_->writable() / outputChannels_));
}

Napi::Value AudioStream::Counters(const Napi::CallbackInfo& info) {
  return CountersToObject(info.Env(), counters_);
}

// { inputLatency, outputLatency (s), sampleRate (Hz) } as PortAudio settled them at open.
Napi::Value AudioStream::Info(const Napi::CallbackInfo& info) {
  std::lock_guard<std::recursive_mutex> lock(PortAudioLock());
  Napi::Env env = info.Env();
  CheckOpen(env);
  const PaStreamInfo* si = Pa_GetStreamInfo(stream_);
  if (!si) throw Napi::Error::New(env, "PortAudio has no information on the stream");
  Napi::Object o = Napi::Object::New(env);
  o.Set("inputLatency", si->inputLatency);
  o.Set("outputLatency", si->outputLatency);
  o.Set("sampleRate", si->sampleRate);
  return o;
}

// The stream's clock in seconds (the same clock as the BlockInfo times), extrapolated from the latest callback's
// time; NaN before the first callback. Never calls into the device, which the audio thread is using.
Napi::Value AudioStream::Time(const Napi::CallbackInfo& info) {
  CheckOpen(info.Env());
  return Napi::Number::New(info.Env(), clock_.Now());
}

Napi::Value AudioStream::IsActive(const Napi::CallbackInfo& info) {
  std::lock_guard<std::recursive_mutex> lock(PortAudioLock());
  return Napi::Boolean::New(info.Env(), stream_ != nullptr && Pa_IsStreamActive(stream_) == 1);
}
