// What every device stream shares with JavaScript, whatever drives it (PortAudio's callback in audio_stream.cc,
// libpulse's main loop in pulse_stream.cc): int16 rings with the timing of each block, the real-time counters, and
// the JavaScript views of both. The audio side of these never locks, allocates or calls into JavaScript.
#pragma once

#include <napi.h>
#include <uv.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "spsc_ring.h"

// Timing and position of one callback's worth of audio. Times are seconds on the stream clock (PortAudio's clock;
// the libpulse stream puts its times on the same basis, see pulse_stream.h).
struct BlockInfo {
  double currentTime;        // s, when the callback ran
  double inputAdcTime;       // s, when the block's first input frame reached the ADC (0 for output-only)
  double outputDacTime;      // s, when the block's first output frame reaches the DAC (0 for input-only)
  double framePosition;      // frames delivered on this direction since the stream started
  double frames;             // frames in this block
  double statusFlags;        // PaStreamCallbackFlags of the callback (1 in underflow, 2 in overflow, 4 out underflow, 8 out overflow)
};
constexpr size_t kBlockInfoDoubles = sizeof(BlockInfo) / sizeof(double);
constexpr double kInputOverflowFlag = 2;   // paInputOverflow
constexpr double kOutputUnderflowFlag = 4; // paOutputUnderflow

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
  std::atomic<uint64_t> inputOverflows{0};    // blocks flagged as input overflow by the host
  std::atomic<uint64_t> inputUnderflows{0};   // blocks flagged as input underflow
  std::atomic<uint64_t> outputUnderflows{0};  // output underflows the host reported (the device ran dry)
  std::atomic<uint64_t> outputOverflows{0};   // output overflows the host reported
  std::atomic<uint64_t> inputRingOverruns{0};     // input blocks dropped because JavaScript did not drain
  std::atomic<uint64_t> inputDroppedFrames{0};
  std::atomic<uint64_t> outputRingUnderruns{0};   // callbacks that found too few frames to play
  std::atomic<uint64_t> outputSilenceFrames{0};   // frames of silence played in their place
  std::atomic<uint64_t> renderedRingOverruns{0};  // rendered blocks dropped because JavaScript did not drain
};

// JavaScript thread, while a stream is being opened: its rings of `ringFrames` frames each (input; output and, when
// `captureRendered`, what the output rendered), so that its audio side never allocates. Throws (code ENOMEM) when
// memory runs out.
inline void AllocateStreamRings(Napi::Env env, size_t ringFrames, int inputChannels, int outputChannels,
                                bool captureRendered, std::unique_ptr<TimedRing>& input,
                                std::unique_ptr<SpscRing<int16_t>>& output, std::unique_ptr<TimedRing>& rendered) {
  const size_t blocks = ringFrames / 16 + 64;
  try {
    if (inputChannels > 0) input = std::make_unique<TimedRing>(ringFrames, inputChannels, blocks);
    if (outputChannels > 0) {
      output = std::make_unique<SpscRing<int16_t>>(ringFrames * outputChannels);
      if (captureRendered) rendered = std::make_unique<TimedRing>(ringFrames, outputChannels, blocks);
    }
  } catch (const std::bad_alloc&) {
    Napi::Error error = Napi::Error::New(env, "cannot allocate the stream's rings (" + std::to_string(ringFrames) +
                                                  " frames each): out of memory");
    error.Set("code", "ENOMEM");
    throw error;
  }
}

// JavaScript thread: the handle through which a stream's audio side wakes JavaScript (`onWake` runs on the
// environment's loop with `handle->data == data`). Unreferenced: only a started stream keeps the process alive.
// Throws when libuv refuses it; the caller closes it with uv_close.
inline uv_async_t* NewWakeHandle(Napi::Env env, void* data, uv_async_cb onWake) {
  uv_loop_t* loop = nullptr;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok) throw Napi::Error::New(env, "no event loop");
  auto* handle = new uv_async_t;
  handle->data = data;
  const int err = uv_async_init(loop, handle, onWake);
  if (err != 0) {
    delete handle;
    throw Napi::Error::New(env, std::string("cannot create the wake-up handle: ") + uv_strerror(err));
  }
  uv_unref(reinterpret_cast<uv_handle_t*>(handle));
  return handle;
}

// JavaScript thread (the ring's consumer). Returns { samples: Int16Array (interleaved), blocks: Float64Array
// (kBlockInfoDoubles numbers per block, see BlockInfo) } or null when the ring is empty.
inline Napi::Value DrainTimedRing(Napi::Env env, TimedRing& ring) {
  const size_t blockCount = ring.blocks.readable();
  if (blockCount == 0) return env.Null();
  Napi::Float64Array blocks = Napi::Float64Array::New(env, blockCount * kBlockInfoDoubles);
  ring.blocks.read(reinterpret_cast<BlockInfo*>(blocks.Data()), blockCount);
  size_t frames = 0;
  for (size_t i = 0; i < blockCount; i++) frames += static_cast<size_t>(blocks[i * kBlockInfoDoubles + 4]);
  Napi::Int16Array samples = Napi::Int16Array::New(env, frames * ring.channels);
  ring.samples.read(samples.Data(), frames * ring.channels);
  Napi::Object result = Napi::Object::New(env);
  result.Set("samples", samples);
  result.Set("blocks", blocks);
  return result;
}

// JavaScript thread. The counters as a plain object of numbers.
inline Napi::Object CountersToObject(Napi::Env env, const StreamCounters& c) {
  Napi::Object o = Napi::Object::New(env);
  auto set = [&](const char* key, const std::atomic<uint64_t>& v) {
    o.Set(key, Napi::Number::New(env, static_cast<double>(v.load(std::memory_order_relaxed))));
  };
  set("callbacks", c.callbacks);
  set("inputOverflows", c.inputOverflows);
  set("inputUnderflows", c.inputUnderflows);
  set("outputUnderflows", c.outputUnderflows);
  set("outputOverflows", c.outputOverflows);
  set("inputRingOverruns", c.inputRingOverruns);
  set("inputDroppedFrames", c.inputDroppedFrames);
  set("outputRingUnderruns", c.outputRingUnderruns);
  set("outputSilenceFrames", c.outputSilenceFrames);
  set("renderedRingOverruns", c.renderedRingOverruns);
  return o;
}

// JavaScript thread (the output ring's producer). write(samples: Int16Array) -> frames accepted: as many whole
// frames as fit. Sets `primed` once anything was written (underruns count only from then on).
inline Napi::Value WriteOutputRing(const Napi::CallbackInfo& info, SpscRing<int16_t>& ring, size_t channels,
                                   std::atomic<bool>& primed) {
  Napi::Env env = info.Env();
  if (!info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_int16_array)
    throw Napi::TypeError::New(env, "write expects an Int16Array");
  Napi::Int16Array samples = info[0].As<Napi::Int16Array>();
  if (samples.ElementLength() % channels != 0)
    throw Napi::RangeError::New(env, "sample count is not a multiple of the channel count");
  const size_t frames = std::min(samples.ElementLength() / channels, ring.writable() / channels);
  ring.writeAll(samples.Data(), frames * channels);
  if (frames > 0) primed.store(true, std::memory_order_relaxed);
  return Napi::Number::New(env, static_cast<double>(frames));
}

// Streams the environment closes when it shuts down and silences on process.exit() (addon_state.h).
class OpenStream {
 public:
  virtual ~OpenStream() = default;
  // JavaScript thread. Closes the stream and its wake-up handle; safe to call any number of times.
  virtual void CloseNow() = 0;
  // Any thread; never blocks. From now on the audio side plays silence and touches nothing else.
  virtual void MakeInert() = 0;
};
