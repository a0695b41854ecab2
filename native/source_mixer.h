// The player's sources mixed at the device callback: each source has its own lock-free ring, which JavaScript keeps
// filled; the output stream's callback adds what every source has for the block into its output, at the deadline.
// A source that is short contributes what it has and counts the rest as starved; it never holds the others back.
#pragma once

#include <napi.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "spsc_ring.h"

// One source's ring and counters. JavaScript (producer) writes samples; the audio thread (consumer) mixes them.
struct MixerSlot {
  // kActive: mixed, a short ring counts as starved. kDraining: the source ended; what it holds is mixed, then the
  // audio thread frees the slot. kRemoving: dropped; the audio thread empties the ring and frees the slot.
  enum State : int { kFree = 0, kActive = 1, kDraining = 2, kRemoving = 3 };
  explicit MixerSlot(size_t samples) : ring(samples) {}
  SpscRing<int16_t> ring;
  std::atomic<int> state{kFree};
  std::atomic<float> gain{1.0f};
  std::atomic<uint64_t> mixedFrames{0};    // samples per channel taken from the ring and mixed
  std::atomic<uint64_t> starvedFrames{0};  // samples per channel the ring lacked while the source was active
  size_t shortInCall = 0;                  // audio thread only: frames lacked in the current MixInto
};

// Threads: the JavaScript methods run on the JavaScript thread of the environment that created the mixer; MixInto
// runs on the audio thread of the one stream the mixer is attached to, and SetRunning on that stream's JavaScript
// thread. The slots' rings are allocated up front: adding a source never allocates.
class SourceMixer : public Napi::ObjectWrap<SourceMixer> {
 public:
  static Napi::Function Define(Napi::Env env);
  // JavaScript thread: new SourceMixer({ channels, sources, ringFrames }). Throws (code ENOMEM) when the rings
  // cannot be allocated.
  explicit SourceMixer(const Napi::CallbackInfo& info);

  // Audio thread: adds every active source's next `frames` frames into `out` (interleaved, `channels` per frame),
  // saturating; frees the slots of removed sources. Never locks, allocates or waits.
  void MixInto(int16_t* out, size_t frames);
  // JavaScript thread (the attached stream's Start/Stop/Close): whether the audio thread may call MixInto. While it
  // may not, removing a source frees its slot at once, and sources removed while it ran are freed now.
  void SetRunning(bool running);
  // JavaScript thread: claims the mixer for one stream; false when another stream has it.
  bool Attach() { return !attached_ && (attached_ = true); }
  int channels() const { return channels_; }

 private:
  Napi::Value AddSource(const Napi::CallbackInfo& info);
  Napi::Value FinishSource(const Napi::CallbackInfo& info);
  Napi::Value IsDrained(const Napi::CallbackInfo& info);
  Napi::Value RemoveSource(const Napi::CallbackInfo& info);
  Napi::Value Write(const Napi::CallbackInfo& info);
  Napi::Value BufferedFrames(const Napi::CallbackInfo& info);
  Napi::Value SetGain(const Napi::CallbackInfo& info);
  Napi::Value SourceCounters(const Napi::CallbackInfo& info);
  Napi::Value Counters(const Napi::CallbackInfo& info);
  // The slot a JavaScript call names; it must be claimed (added and not removed), and active when `mustBeActive`.
  MixerSlot& SlotArgument(const Napi::CallbackInfo& info, bool mustBeActive);

  int channels_ = 0;
  bool running_ = false;   // JavaScript thread only
  bool attached_ = false;  // JavaScript thread only
  std::vector<std::unique_ptr<MixerSlot>> slots_;
  // JavaScript thread only: slots handed out by addSource and not yet given back by removeSource. A slot the audio
  // thread freed after draining stays claimed until JavaScript has seen it drained, so it is not reused under it.
  std::vector<bool> claimed_;
  std::atomic<uint64_t> underruns_{0};      // callbacks in which an active source lacked audio
  std::atomic<uint64_t> underrunFrames_{0};  // per such callback, the most frames a source lacked
  std::vector<int32_t> sum_;      // audio thread only: one chunk's sum before saturation
  std::vector<int16_t> scratch_;  // audio thread only: one chunk read from a ring
};

// JavaScript thread: the SourceMixer that a stream's options name as `mixer` (nullptr when they name none), attached
// to that stream and held strongly in `ref`. Throws for anything but a SourceMixer, a mixer whose channels are not
// the output's, or one that another stream has.
SourceMixer* AttachMixer(Napi::Env env, const Napi::Object& options, int outputChannels, Napi::ObjectReference* ref);
