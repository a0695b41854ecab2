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
#include "spsc_ring.h"
#include "stream_clock.h"

// Timing and position of one callback's worth of audio, as PortAudio reported it.
struct BlockInfo {
  double currentTime;        // s, PortAudio clock, when the callback ran
  double inputAdcTime;       // s, when the block's first input frame reached the ADC (0 for output-only)
  double outputDacTime;      // s, when the block's first output frame reaches the DAC (0 for input-only)
  double framePosition;      // frames delivered on this direction since the stream started
  double frames;             // frames in this block
  double statusFlags;        // PaStreamCallbackFlags of the callback
};
constexpr size_t kBlockInfoDoubles = sizeof(BlockInfo) / sizeof(double);

// Samples of one direction plus the timing of each block they came in.
class TimedRing {
 public:
  TimedRing(size_t frames, size_t channels, size_t blocks)
      : channels(channels), samples(frames * channels), blocks(blocks) {}
  // Producer: stores a whole block or nothing (returns false when either ring lacks room).
  bool push(const int16_t* data, const BlockInfo& info) {
    const size_t n = static_cast<size_t>(info.frames) * channels;
    if (samples.writable() < n || blocks.writable() < 1) return false;
    samples.writeAll(data, n);  // samples first: a visible block always has its samples visible
    blocks.writeAll(&info, 1);
    return true;
  }
  const size_t channels;
  SpscRing<int16_t> samples;
  SpscRing<BlockInfo> blocks;
};

struct StreamCounters {
  std::atomic<uint64_t> callbacks{0};
  std::atomic<uint64_t> inputOverflows{0};    // callbacks flagged paInputOverflow by PortAudio
  std::atomic<uint64_t> inputUnderflows{0};   // callbacks flagged paInputUnderflow
  std::atomic<uint64_t> outputUnderflows{0};  // callbacks flagged paOutputUnderflow
  std::atomic<uint64_t> outputOverflows{0};   // callbacks flagged paOutputOverflow
  std::atomic<uint64_t> inputRingOverruns{0};     // input blocks dropped because JavaScript did not drain
  std::atomic<uint64_t> inputDroppedFrames{0};
  std::atomic<uint64_t> outputRingUnderruns{0};   // callbacks that found too few frames to play
  std::atomic<uint64_t> outputSilenceFrames{0};   // frames of silence played in their place
  std::atomic<uint64_t> renderedRingOverruns{0};  // rendered blocks dropped because JavaScript did not drain
};

// Threads: every member runs on the JavaScript thread of the environment that created the stream, except OnAudio
// (PortAudio's audio thread) and OnWake (the same JavaScript thread, from libuv). PortAudio calls hold
// PortAudioLock() (addon_state.h); the rings are the only state the audio thread shares, each with one producer and
// one consumer.
class AudioStream : public Napi::ObjectWrap<AudioStream> {
 public:
  static Napi::Function Define(Napi::Env env);
  // JavaScript thread. Opens the stream (stopped); on a throw nothing stays open.
  explicit AudioStream(const Napi::CallbackInfo& info);
  // JavaScript thread (the finalizer of a collected stream, or environment teardown): closes it.
  ~AudioStream() override;

  // JavaScript thread. Closes the PortAudio stream and the wake-up handle; safe to call any number of times.
  void CloseNow();
  // Any thread; never blocks. From now on the callback plays silence and touches nothing else (no ring, counter or
  // wake-up): for process exit, where closing could block on a stalled sound server.
  void MakeInert();

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

  Napi::Value Drain(Napi::Env env, TimedRing& ring);
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
