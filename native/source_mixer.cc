#include "source_mixer.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "addon_state.h"

namespace {

// Frames mixed per pass of MixInto: its scratch buffers hold this much, whatever the callback's block size.
constexpr size_t kChunkFrames = 512;

double NumberOr(const Napi::Object& o, const char* key, double fallback) {
  Napi::Value v = o.Get(key);
  return v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : fallback;
}

// Consumer side: drops everything the ring holds.
void Discard(SpscRing<int16_t>& ring, int16_t* scratch, size_t scratchSamples) {
  while (ring.read(scratch, scratchSamples) > 0) {
  }
}

}  // namespace

Napi::Function SourceMixer::Define(Napi::Env env) {
  return DefineClass(env, "SourceMixer",
                     {
                         InstanceMethod<&SourceMixer::AddSource>("addSource"),
                         InstanceMethod<&SourceMixer::FinishSource>("finishSource"),
                         InstanceMethod<&SourceMixer::IsDrained>("isDrained"),
                         InstanceMethod<&SourceMixer::RemoveSource>("removeSource"),
                         InstanceMethod<&SourceMixer::Write>("write"),
                         InstanceMethod<&SourceMixer::BufferedFrames>("bufferedFrames"),
                         InstanceMethod<&SourceMixer::SetGain>("setGain"),
                         InstanceMethod<&SourceMixer::SourceCounters>("sourceCounters"),
                         InstanceMethod<&SourceMixer::Counters>("counters"),
                     });
}

SourceMixer::SourceMixer(const Napi::CallbackInfo& info) : Napi::ObjectWrap<SourceMixer>(info) {
  Napi::Env env = info.Env();
  if (!info[0].IsObject()) throw Napi::TypeError::New(env, "SourceMixer options must be an object");
  Napi::Object o = info[0].As<Napi::Object>();
  channels_ = static_cast<int>(NumberOr(o, "channels", 0));
  const double sources = NumberOr(o, "sources", 0);
  const double ringFrames = NumberOr(o, "ringFrames", 0);
  if (channels_ <= 0 || channels_ > 32) throw Napi::RangeError::New(env, "channels must be 1-32");
  if (!(sources >= 1 && sources <= 256)) throw Napi::RangeError::New(env, "sources must be 1-256");
  if (!(ringFrames >= 1 && ringFrames <= 1 << 22)) throw Napi::RangeError::New(env, "ringFrames out of range");
  try {
    sum_.resize(kChunkFrames * channels_);
    scratch_.resize(kChunkFrames * channels_);
    for (int i = 0; i < static_cast<int>(sources); i++)
      slots_.push_back(std::make_unique<MixerSlot>(static_cast<size_t>(ringFrames) * channels_));
    claimed_.assign(slots_.size(), false);
  } catch (const std::bad_alloc&) {
    Napi::Error error = Napi::Error::New(env, "cannot allocate the mixer's rings: out of memory");
    error.Set("code", "ENOMEM");
    throw error;
  }
}

void SourceMixer::MixInto(int16_t* out, size_t frames) {
  const size_t channels = static_cast<size_t>(channels_);
  for (auto& slot : slots_) slot->shortInCall = 0;
  for (size_t done = 0; done < frames;) {
    const size_t chunk = std::min(kChunkFrames, frames - done);
    const size_t samples = chunk * channels;
    int16_t* block = out + done * channels;
    for (size_t i = 0; i < samples; i++) sum_[i] = block[i];
    for (auto& slot : slots_) {
      const int state = slot->state.load(std::memory_order_acquire);
      if (state == MixerSlot::kRemoving) {
        Discard(slot->ring, scratch_.data(), scratch_.size());
        slot->state.store(MixerSlot::kFree, std::memory_order_release);
        continue;
      }
      if (state != MixerSlot::kActive && state != MixerSlot::kDraining) continue;
      // Whole frames only: JavaScript writes whole frames, and a frame's samples become visible together.
      const size_t got = slot->ring.read(scratch_.data(), samples);
      const float gain = slot->gain.load(std::memory_order_relaxed);
      if (gain == 1.0f) {
        for (size_t i = 0; i < got; i++) sum_[i] += scratch_[i];
      } else {
        for (size_t i = 0; i < got; i++) sum_[i] += static_cast<int32_t>(std::lrintf(scratch_[i] * gain));
      }
      slot->mixedFrames.fetch_add(got / channels, std::memory_order_relaxed);
      if (state == MixerSlot::kDraining) {
        // An ended source running out is its end, not starvation.
        if (slot->ring.readable() == 0) slot->state.store(MixerSlot::kFree, std::memory_order_release);
      } else if (got < samples) {
        slot->starvedFrames.fetch_add((samples - got) / channels, std::memory_order_relaxed);
        slot->shortInCall += (samples - got) / channels;
      }
    }
    for (size_t i = 0; i < samples; i++) block[i] = static_cast<int16_t>(std::clamp(sum_[i], -32768, 32767));
    done += chunk;
  }
  size_t longestGap = 0;
  for (auto& slot : slots_) longestGap = std::max(longestGap, slot->shortInCall);
  if (longestGap > 0) {
    underruns_.fetch_add(1, std::memory_order_relaxed);
    underrunFrames_.fetch_add(longestGap, std::memory_order_relaxed);
  }
}

void SourceMixer::SetRunning(bool running) {
  running_ = running;
  if (running) return;
  for (auto& slot : slots_) {
    if (slot->state.load(std::memory_order_acquire) != MixerSlot::kRemoving) continue;
    Discard(slot->ring, scratch_.data(), scratch_.size());
    slot->state.store(MixerSlot::kFree, std::memory_order_release);
  }
}

MixerSlot& SourceMixer::SlotArgument(const Napi::CallbackInfo& info, bool mustBeActive) {
  Napi::Env env = info.Env();
  if (!info[0].IsNumber()) throw Napi::TypeError::New(env, "source must be a slot number");
  const double id = info[0].As<Napi::Number>().DoubleValue();
  if (!(id >= 0 && id < static_cast<double>(slots_.size())) || id != std::floor(id))
    throw Napi::RangeError::New(env, "no such source slot");
  if (!claimed_[static_cast<size_t>(id)]) throw Napi::Error::New(env, "the source slot is not in use");
  MixerSlot& slot = *slots_[static_cast<size_t>(id)];
  if (mustBeActive && slot.state.load(std::memory_order_acquire) != MixerSlot::kActive)
    throw Napi::Error::New(env, "the source has ended or been removed");
  return slot;
}

// addSource() -> slot number, or -1 when every slot is taken.
Napi::Value SourceMixer::AddSource(const Napi::CallbackInfo& info) {
  for (size_t i = 0; i < slots_.size(); i++) {
    MixerSlot& slot = *slots_[i];
    // A free slot's ring is empty and out of the audio thread's hands (it freed it after draining it).
    if (claimed_[i] || slot.state.load(std::memory_order_acquire) != MixerSlot::kFree) continue;
    claimed_[i] = true;
    slot.gain.store(1.0f, std::memory_order_relaxed);
    slot.mixedFrames.store(0, std::memory_order_relaxed);
    slot.starvedFrames.store(0, std::memory_order_relaxed);
    slot.state.store(MixerSlot::kActive, std::memory_order_release);
    return Napi::Number::New(info.Env(), static_cast<double>(i));
  }
  return Napi::Number::New(info.Env(), -1);
}

// finishSource(slot): the source has ended; what it holds is still played, then the slot is drained (isDrained).
Napi::Value SourceMixer::FinishSource(const Napi::CallbackInfo& info) {
  MixerSlot& slot = SlotArgument(info, true);
  // Without a running callback, an empty source is drained now; one with audio left plays it once the stream starts.
  const bool drained = !running_ && slot.ring.readable() == 0;
  slot.state.store(drained ? MixerSlot::kFree : MixerSlot::kDraining, std::memory_order_release);
  return info.Env().Undefined();
}

// isDrained(slot) -> whether a finished source's last sample has been mixed (the device has taken it).
Napi::Value SourceMixer::IsDrained(const Napi::CallbackInfo& info) {
  MixerSlot& slot = SlotArgument(info, false);
  return Napi::Boolean::New(info.Env(), slot.state.load(std::memory_order_acquire) == MixerSlot::kFree);
}

// removeSource(slot): gives the slot back; what the source still holds is not played. Removing twice does nothing.
Napi::Value SourceMixer::RemoveSource(const Napi::CallbackInfo& info) {
  MixerSlot& slot = SlotArgument(info, false);
  const size_t id = static_cast<size_t>(info[0].As<Napi::Number>().DoubleValue());
  claimed_[id] = false;
  if (slot.state.load(std::memory_order_acquire) == MixerSlot::kFree) return info.Env().Undefined();
  if (running_) {
    slot.state.store(MixerSlot::kRemoving, std::memory_order_release);
  } else {
    // No callback runs (the stream is stopped or not started): this thread may consume, with the callback's scratch.
    Discard(slot.ring, scratch_.data(), scratch_.size());
    slot.state.store(MixerSlot::kFree, std::memory_order_release);
  }
  return info.Env().Undefined();
}

// write(slot, samples: Int16Array) -> frames accepted (as many whole frames as fit in the source's ring).
Napi::Value SourceMixer::Write(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  MixerSlot& slot = SlotArgument(info, true);
  if (!info[1].IsTypedArray() || info[1].As<Napi::TypedArray>().TypedArrayType() != napi_int16_array)
    throw Napi::TypeError::New(env, "write expects an Int16Array");
  Napi::Int16Array samples = info[1].As<Napi::Int16Array>();
  const size_t channels = static_cast<size_t>(channels_);
  if (samples.ElementLength() % channels != 0)
    throw Napi::RangeError::New(env, "sample count is not a multiple of the channel count");
  const size_t frames = std::min(samples.ElementLength() / channels, slot.ring.writable() / channels);
  slot.ring.writeAll(samples.Data(), frames * channels);
  return Napi::Number::New(env, static_cast<double>(frames));
}

// bufferedFrames(slot) -> frames written and not yet mixed.
Napi::Value SourceMixer::BufferedFrames(const Napi::CallbackInfo& info) {
  MixerSlot& slot = SlotArgument(info, false);
  return Napi::Number::New(info.Env(), static_cast<double>(slot.ring.readable() / channels_));
}

// setGain(slot, gain): a linear factor, 0-16, applied from the next callback on.
Napi::Value SourceMixer::SetGain(const Napi::CallbackInfo& info) {
  MixerSlot& slot = SlotArgument(info, true);
  const double gain = info[1].IsNumber() ? info[1].As<Napi::Number>().DoubleValue() : NAN;
  if (!(gain >= 0 && gain <= 16)) throw Napi::RangeError::New(info.Env(), "gain must be 0-16");
  slot.gain.store(static_cast<float>(gain), std::memory_order_relaxed);
  return info.Env().Undefined();
}

// sourceCounters(slot) -> { mixedFrames, starvedFrames }.
Napi::Value SourceMixer::SourceCounters(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  MixerSlot& slot = SlotArgument(info, false);
  Napi::Object o = Napi::Object::New(env);
  o.Set("mixedFrames", static_cast<double>(slot.mixedFrames.load(std::memory_order_relaxed)));
  o.Set("starvedFrames", static_cast<double>(slot.starvedFrames.load(std::memory_order_relaxed)));
  return o;
}

// counters() -> { underruns, underrunFrames }.
Napi::Value SourceMixer::Counters(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  o.Set("underruns", static_cast<double>(underruns_.load(std::memory_order_relaxed)));
  o.Set("underrunFrames", static_cast<double>(underrunFrames_.load(std::memory_order_relaxed)));
  return o;
}

SourceMixer* AttachMixer(Napi::Env env, const Napi::Object& options, int outputChannels, Napi::ObjectReference* ref) {
  Napi::Value value = options.Get("mixer");
  if (value.IsUndefined()) return nullptr;
  if (!value.IsObject() || !value.As<Napi::Object>().InstanceOf(env.GetInstanceData<AddonState>()->mixerClass.Value()))
    throw Napi::TypeError::New(env, "mixer must be a SourceMixer");
  SourceMixer* mixer = SourceMixer::Unwrap(value.As<Napi::Object>());
  if (outputChannels <= 0 || mixer->channels() != outputChannels)
    throw Napi::RangeError::New(env, "the mixer's channels must be the output's");
  if (!mixer->Attach()) throw Napi::Error::New(env, "the mixer already belongs to a stream");
  *ref = Napi::Persistent(value.As<Napi::Object>());
  return mixer;
}
