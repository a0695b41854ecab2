// A PortAudio stream (input, output or full duplex) exposed to JavaScript.
// The PortAudio callback moves int16 samples through lock-free rings and wakes JavaScript with uv_async_send,
// which neither blocks, locks nor allocates; JavaScript then drains the rings on the main thread.
#pragma once

#include <napi.h>
#include <portaudio.h>
#include <uv.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "source_mixer.h"
#include "stream_clock.h"
#include "stream_rings.h"

// Threads: every member runs on the JavaScript thread of the environment that created the stream, except OnAudio
// (PortAudio's audio thread) and OnWake (the same JavaScript thread, from libuv). PortAudio calls hold
// PortAudioLock() (addon_state.h); the rings are the only state the audio thread shares, each with one producer and
// one consumer.
class AudioStream : public Napi::ObjectWrap<AudioStream>, public OpenStream {
 public:
  static Napi::Function Define(Napi::Env env);
  // JavaScript thread. Opens the stream (stopped); on a throw nothing stays open.
  explicit AudioStream(const Napi::CallbackInfo& info);
  // JavaScript thread (the finalizer of a collected stream, or environment teardown): closes it.
  ~AudioStream() override;

  // JavaScript thread. Closes the PortAudio stream and the wake-up handle; safe to call any number of times.
  void CloseNow() override;
  // Any thread; never blocks. From now on the callback plays silence and touches nothing else (no ring, counter or
  // wake-up): for process exit, where closing could block on a stalled sound server.
  void MakeInert() override;

 private:
  // PortAudio's audio thread: never locks, allocates or calls into JavaScript or PortAudio.
  static int OnAudio(const void* input, void* output, unsigned long frames,
                     const PaStreamCallbackTimeInfo* time, PaStreamCallbackFlags flags, void* self);
  // JavaScript thread (libuv): calls onWake on the owner; an exception goes to Node as uncaught.
  static void OnWake(uv_async_t* handle);

  // The JavaScript methods below: JavaScript thread only.
  Napi::Value Start(const Napi::CallbackInfo& info);
  Napi::Value Stop(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);
  Napi::Value MakeInertMethod(const Napi::CallbackInfo& info);
  Napi::Value ReadInput(const Napi::CallbackInfo& info);
  Napi::Value ReadRendered(const Napi::CallbackInfo& info);
  Napi::Value Write(const Napi::CallbackInfo& info);
  Napi::Value OutputBufferedFrames(const Napi::CallbackInfo& info);
  Napi::Value OutputWritableFrames(const Napi::CallbackInfo& info);
  Napi::Value Counters(const Napi::CallbackInfo& info);
  Napi::Value Info(const Napi::CallbackInfo& info);
  Napi::Value Time(const Napi::CallbackInfo& info);
  Napi::Value IsActive(const Napi::CallbackInfo& info);

  void CheckOpen(Napi::Env env) const;

  PaStream* stream_ = nullptr;
  uv_async_t* wake_ = nullptr;
  Napi::FunctionReference onWake_;
  Napi::ObjectReference owner_;  // weak unless started
  Napi::AsyncContext* asyncContext_ = nullptr;
  bool started_ = false;

  int inputChannels_ = 0;
  int outputChannels_ = 0;
  double sampleRate_ = 0;
  std::unique_ptr<TimedRing> input_;
  std::unique_ptr<TimedRing> rendered_;
  std::unique_ptr<SpscRing<int16_t>> output_;
  // The player's sources, mixed into the output at each callback (optional). Held strongly while the callback may
  // call it; given up (leaked) with the rings when PortAudio fails to close the stream.
  SourceMixer* mixer_ = nullptr;
  Napi::ObjectReference mixerRef_;
  std::atomic<bool> outputPrimed_{false};
  std::atomic<bool> inert_{false};  // see MakeInert  // underruns count only once JavaScript has written something
  double inputPosition_ = 0;
  double outputPosition_ = 0;
  StreamCounters counters_;
  StreamClock clock_;  // published by the callback, read by Time()
};
