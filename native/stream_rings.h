// What every device stream shares with JavaScript, whatever drives it (PortAudio's callback in audio_stream.cc,
// libpulse's main loop in pulse_stream.cc): int16 rings with the timing of each block, the real-time counters, and
// the JavaScript views of both. The audio side of these never locks, allocates or calls into JavaScript.
#pragma once

#include <napi.h>

#include <atomic>
#include <cstdint>

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
