#include "pulse_stream.h"
#include "source_mixer.h"

#include "pulse_library.h"

#ifdef HAVE_LIBPULSE

#include <pthread.h>
#include <sched.h>
#include <uv.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <memory>
#include <string>

#include "addon_state.h"
#include "stream_clock.h"
#include "stream_rings.h"

namespace {

const PulseLibrary& Pulse() { return *LoadPulseLibrary(nullptr); }

double NumberOr(const Napi::Object& o, const char* key, double fallback) {
  Napi::Value v = o.Get(key);
  return v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : fallback;
}

// Monotonic clock (s); the same clock as StreamClock's extrapolation.
double MonotonicSeconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// Wall-clock time minus monotonic time now (s): what puts our times on PortAudio's ALSA clock (gettimeofday).
double WallClockOffset() {
  const double wall = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  return wall - MonotonicSeconds();
}

// A stream's libpulse objects once detached from it (no callback of the stream left on them): stopped and freed
// by Free, on any thread but the main loop's own.
struct Connection {
  pa_threaded_mainloop* loop;
  pa_context* context;
  pa_stream* record;
  pa_stream* playback;
  void Free() {
    Pulse().threaded_mainloop_stop(loop);  // returns at once when the thread never started
    for (pa_stream* s : {record, playback}) {
      if (!s) continue;
      // Only a connected stream can be disconnected; one that never connected or already failed has nothing to undo.
      if (PA_STREAM_IS_GOOD(Pulse().stream_get_state(s))) Pulse().stream_disconnect(s);
      Pulse().stream_unref(s);
    }
    if (context) {
      if (PA_CONTEXT_IS_GOOD(Pulse().context_get_state(context))) Pulse().context_disconnect(context);
      Pulse().context_unref(context);
    }
    Pulse().threaded_mainloop_free(loop);
  }
};

class PulseStream : public Napi::ObjectWrap<PulseStream>, public OpenStream {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "PulseStream",
                       {
                           InstanceMethod<&PulseStream::Start>("start"),
                           InstanceMethod<&PulseStream::Stop>("stop"),
                           InstanceMethod<&PulseStream::CloseMethod>("close"),
                           InstanceMethod<&PulseStream::MakeInertMethod>("makeInert"),
                           InstanceMethod<&PulseStream::ReadInput>("readInput"),
                           InstanceMethod<&PulseStream::ReadRendered>("readRendered"),
                           InstanceMethod<&PulseStream::Write>("write"),
                           InstanceMethod<&PulseStream::OutputBufferedFrames>("outputBufferedFrames"),
                           InstanceMethod<&PulseStream::OutputWritableFrames>("outputWritableFrames"),
                           InstanceMethod<&PulseStream::Counters>("counters"),
                           InstanceMethod<&PulseStream::Info>("info"),
                           InstanceMethod<&PulseStream::Time>("time"),
                           InstanceMethod<&PulseStream::IsActive>("isActive"),
                       });
  }

  // JavaScript thread. Connects and creates the streams (corked); on a throw nothing stays open.
  explicit PulseStream(const Napi::CallbackInfo& info) : Napi::ObjectWrap<PulseStream>(info) {
    Napi::Env env = info.Env();
    std::string unusable;
    if (!LoadPulseLibrary(&unusable)) throw Napi::Error::New(env, "cannot open a sound-server stream: " + unusable);
    if (!info[0].IsObject()) throw Napi::TypeError::New(env, "PulseStream options must be an object");
    Napi::Object o = info[0].As<Napi::Object>();
    inputChannels_ = static_cast<int>(NumberOr(o, "inputChannels", 0));
    outputChannels_ = static_cast<int>(NumberOr(o, "outputChannels", 0));
    sampleRate_ = NumberOr(o, "sampleRate", 0);
    const double framesPerBuffer = NumberOr(o, "framesPerBuffer", 0);
    const size_t ringFrames = static_cast<size_t>(NumberOr(o, "ringFrames", sampleRate_));
    const bool captureRendered = o.Get("captureRendered").ToBoolean();
    realtime_ = o.Get("realtimeScheduling").ToBoolean();
    const bool adjustLatency = o.Get("adjustLatency").ToBoolean();
    const double openTimeoutMs = NumberOr(o, "openTimeoutMs", 2000);
    if (inputChannels_ < 0 || outputChannels_ < 0 || (inputChannels_ == 0 && outputChannels_ == 0))
      throw Napi::RangeError::New(env, "a stream needs input or output channels");
    if (inputChannels_ > static_cast<int>(PA_CHANNELS_MAX) || outputChannels_ > static_cast<int>(PA_CHANNELS_MAX))
      throw Napi::RangeError::New(env, "the sound server takes at most " + std::to_string(PA_CHANNELS_MAX) +
                                           " channels");
    if (!(sampleRate_ >= 1 && sampleRate_ <= PA_RATE_MAX) || ringFrames == 0 || !(framesPerBuffer >= 0))
      throw Napi::RangeError::New(env, "sampleRate, ringFrames and framesPerBuffer are out of range");
    if (!o.Get("onWake").IsFunction()) throw Napi::TypeError::New(env, "onWake must be a function");
    if (!o.Get("owner").IsObject()) throw Napi::TypeError::New(env, "owner must be an object");
    auto deviceName = [&](const char* key, std::string* name) -> bool {
      Napi::Value v = o.Get(key);
      if (v.IsUndefined() || v.IsNull()) return false;
      if (!v.IsString()) throw Napi::TypeError::New(env, std::string(key) + " must be a string");
      *name = v.As<Napi::String>();
      return true;
    };
    std::string inputName, outputName;
    const bool hasInputName = inputChannels_ > 0 && deviceName("inputServerDevice", &inputName);
    const bool hasOutputName = outputChannels_ > 0 && deviceName("outputServerDevice", &outputName);
    mixer_ = AttachMixer(env, o, outputChannels_, &mixerRef_);
    block_ = framesPerBuffer > 0 ? static_cast<uint32_t>(framesPerBuffer)
                                 : static_cast<uint32_t>(sampleRate_ / 100 > 0 ? sampleRate_ / 100 : 1);
    clockOffset_ = WallClockOffset();

    // Everything the main loop's callbacks use is allocated before the connection exists.
    AllocateStreamRings(env, ringFrames, inputChannels_, outputChannels_, captureRendered, input_, output_, rendered_);

    struct CloseOnThrow {
      PulseStream* stream;
      bool armed = true;
      ~CloseOnThrow() {
        if (armed) stream->CloseNow();
      }
    } closeOnThrow{this};

    onWake_ = Napi::Persistent(o.Get("onWake").As<Napi::Function>());
    owner_ = Napi::Weak(o.Get("owner").As<Napi::Object>());
    asyncContext_ = new Napi::AsyncContext(env, "livekit-media-devices:PulseStream");
    wake_ = NewWakeHandle(env, this, &PulseStream::OnWake);

    loop_ = Pulse().threaded_mainloop_new();
    if (!loop_) throw Napi::Error::New(env, "cannot create libpulse's threaded main loop");
    Pulse().threaded_mainloop_set_name(loop_, "lk-pulse-stream");
    api_ = Pulse().threaded_mainloop_get_api(loop_);
    context_ = Pulse().context_new(api_, "livekit-media-devices");
    if (!context_) throw Napi::Error::New(env, "cannot create a libpulse context");
    Pulse().context_set_state_callback(context_, &PulseStream::OnContextState, this);
    if (Pulse().context_connect(context_, nullptr, PA_CONTEXT_NOAUTOSPAWN, nullptr) < 0)
      throw ContextError(env, "cannot connect to the sound server");
    if (Pulse().threaded_mainloop_start(loop_) < 0) throw Napi::Error::New(env, "cannot start libpulse's main loop");

    // The only wait on the server: the connection and the streams' creation, bounded by openTimeoutMs.
    std::string failure;
    Pulse().threaded_mainloop_lock(loop_);
    struct timeval tv;
    openTimer_ = api_->time_new(
        api_, Pulse().timeval_add(Pulse().gettimeofday(&tv), static_cast<pa_usec_t>(openTimeoutMs * 1000)),
        &PulseStream::OnOpenTimeout, this);
    if (!openTimer_) failure = "cannot create the open timer";
    while (failure.empty() && !openTimedOut_ && Pulse().context_get_state(context_) != PA_CONTEXT_READY) {
      if (!PA_CONTEXT_IS_GOOD(Pulse().context_get_state(context_))) {
        failure = LastError("cannot connect to the sound server");
        break;
      }
      Pulse().threaded_mainloop_wait(loop_);
    }
    pa_sample_spec spec{};
    spec.format = PA_SAMPLE_S16NE;
    spec.rate = static_cast<uint32_t>(sampleRate_);
    const uint32_t frameBytesIn = 2u * static_cast<uint32_t>(inputChannels_);
    const uint32_t frameBytesOut = 2u * static_cast<uint32_t>(outputChannels_);
    const pa_stream_flags_t flags = static_cast<pa_stream_flags_t>(
        PA_STREAM_START_CORKED | PA_STREAM_INTERPOLATE_TIMING | PA_STREAM_AUTO_TIMING_UPDATE |
        (adjustLatency ? PA_STREAM_ADJUST_LATENCY : 0));
    auto frames = [&](double seconds) { return static_cast<uint32_t>(seconds * sampleRate_ + 0.5); };
    if (failure.empty() && !openTimedOut_ && inputChannels_ > 0) {
      spec.channels = static_cast<uint8_t>(inputChannels_);
      record_ = Pulse().stream_new(context_, "livekit-media-devices capture", &spec, nullptr);
      if (!record_) {
        failure = LastError("cannot create the capture stream");
      } else {
        SetCallbacks(record_);
        pa_buffer_attr attr;
        attr.maxlength = static_cast<uint32_t>(-1);
        attr.tlength = attr.prebuf = attr.minreq = static_cast<uint32_t>(-1);
        const uint32_t fragment = std::max(block_, frames(NumberOr(o, "inputLatency", 0)));
        attr.fragsize = fragment * frameBytesIn;
        if (Pulse().stream_connect_record(record_, hasInputName ? inputName.c_str() : nullptr, &attr, flags) < 0)
          failure = LastError("cannot open the sound-server source");
      }
    }
    if (failure.empty() && !openTimedOut_ && outputChannels_ > 0) {
      spec.channels = static_cast<uint8_t>(outputChannels_);
      playback_ = Pulse().stream_new(context_, "livekit-media-devices playback", &spec, nullptr);
      if (!playback_) {
        failure = LastError("cannot create the playback stream");
      } else {
        SetCallbacks(playback_);
        pa_buffer_attr attr;
        attr.maxlength = static_cast<uint32_t>(-1);
        attr.fragsize = static_cast<uint32_t>(-1);
        const uint32_t target = std::max(2 * block_, frames(NumberOr(o, "outputLatency", 0)));
        attr.tlength = target * frameBytesOut;
        attr.minreq = block_ * frameBytesOut;
        attr.prebuf = block_ * frameBytesOut;
        if (Pulse().stream_connect_playback(playback_, hasOutputName ? outputName.c_str() : nullptr, &attr, flags,
                                            nullptr, nullptr) < 0)
          failure = LastError("cannot open the sound-server sink");
      }
    }
    while (failure.empty() && !openTimedOut_) {
      const pa_stream_state_t in = record_ ? Pulse().stream_get_state(record_) : PA_STREAM_READY;
      const pa_stream_state_t out = playback_ ? Pulse().stream_get_state(playback_) : PA_STREAM_READY;
      if (in == PA_STREAM_READY && out == PA_STREAM_READY) break;
      if (!PA_STREAM_IS_GOOD(in) || !PA_STREAM_IS_GOOD(out)) {
        failure = LastError(!PA_STREAM_IS_GOOD(in) ? "cannot open the sound-server source"
                                                   : "cannot open the sound-server sink");
        if (!PA_STREAM_IS_GOOD(in) && hasInputName) failure += " (" + inputName + ")";
        if (!PA_STREAM_IS_GOOD(out) && hasOutputName) failure += " (" + outputName + ")";
        break;
      }
      Pulse().threaded_mainloop_wait(loop_);
    }
    if (failure.empty() && openTimedOut_)
      failure = "the sound server did not answer within " + std::to_string(static_cast<int>(openTimeoutMs)) + " ms";
    if (openTimer_) {
      api_->time_free(openTimer_);
      openTimer_ = nullptr;
    }
    if (failure.empty()) {
      if (record_) recordAttr_ = *Pulse().stream_get_buffer_attr(record_);
      if (playback_) playbackAttr_ = *Pulse().stream_get_buffer_attr(playback_);
    }
    Pulse().threaded_mainloop_unlock(loop_);
    if (!failure.empty()) throw Napi::Error::New(env, failure);

    env.GetInstanceData<AddonState>()->openStreams.insert(this);
    closeOnThrow.armed = false;
  }

  // JavaScript thread (the finalizer of a collected stream, or environment teardown).
  ~PulseStream() override { CloseNow(); }

  void MakeInert() override { inert_.store(true, std::memory_order_release); }

  // JavaScript thread (environment teardown): closes now, joining the main-loop thread.
  void CloseNow() override { Close(false); }

  // JavaScript thread. Detaches the connection from this object under the main loop's lock (no callback of ours runs
  // after that), then stops the main-loop thread and frees the streams and context: on a libuv pool thread when
  // `offThread` (joining a thread that must first be scheduled can take milliseconds on a loaded machine), here
  // otherwise. Neither ever waits on the server (the main-loop thread never blocks on it: libpulse's socket is
  // non-blocking), stalled or not.
  void Close(bool offThread) {
    if (loop_) {
      Connection* connection = new Connection{loop_, context_, record_, playback_};
      Pulse().threaded_mainloop_lock(loop_);
      if (openTimer_) api_->time_free(openTimer_);
      openTimer_ = nullptr;
      for (pa_stream* s : {record_, playback_})
        if (s) ClearCallbacks(s);
      if (context_) Pulse().context_set_state_callback(context_, nullptr, nullptr);
      if (mixer_) mixer_->SetRunning(false);
      Pulse().threaded_mainloop_unlock(loop_);
      loop_ = nullptr;
      api_ = nullptr;
      context_ = nullptr;
      record_ = playback_ = nullptr;
      uv_loop_t* uvLoop = nullptr;
      auto* work = new uv_work_t;
      work->data = connection;
      if (!offThread || napi_get_uv_event_loop(Env(), &uvLoop) != napi_ok ||
          uv_queue_work(uvLoop, work, [](uv_work_t* w) { static_cast<Connection*>(w->data)->Free(); },
                        [](uv_work_t* w, int) {
                          delete static_cast<Connection*>(w->data);
                          delete w;
                        }) != 0) {
        delete work;
        connection->Free();
        delete connection;
      }
    }
    Env().GetInstanceData<AddonState>()->openStreams.erase(this);
    if (wake_) {
      wake_->data = nullptr;
      uv_close(reinterpret_cast<uv_handle_t*>(wake_), [](uv_handle_t* h) { delete reinterpret_cast<uv_async_t*>(h); });
      wake_ = nullptr;
    }
    if (started_) {
      started_ = false;
      owner_.Unref();
    }
    mixer_ = nullptr;
    mixerRef_.Reset();
    delete asyncContext_;
    asyncContext_ = nullptr;
    onWake_.Reset();
    owner_.Reset();
  }

 private:
  // ---- construction helpers (JavaScript thread, main loop locked or not yet started) -----------------------------

  Napi::Error ContextError(Napi::Env env, const char* what) { return Napi::Error::New(env, LastError(what)); }

  std::string LastError(const char* what) {
    return std::string(what) + ": " + Pulse().strerror(Pulse().context_errno(context_));
  }

  void SetCallbacks(pa_stream* s) {
    Pulse().stream_set_state_callback(s, &PulseStream::OnStreamState, this);
    if (s == record_) {
      Pulse().stream_set_read_callback(s, &PulseStream::OnRead, this);
    } else {
      Pulse().stream_set_write_callback(s, &PulseStream::OnWrite, this);
      Pulse().stream_set_underflow_callback(s, &PulseStream::OnUnderflow, this);
      Pulse().stream_set_overflow_callback(s, &PulseStream::OnOverflow, this);
    }
  }

  static void ClearCallbacks(pa_stream* s) {
    Pulse().stream_set_state_callback(s, nullptr, nullptr);
    Pulse().stream_set_read_callback(s, nullptr, nullptr);
    Pulse().stream_set_write_callback(s, nullptr, nullptr);
    Pulse().stream_set_underflow_callback(s, nullptr, nullptr);
    Pulse().stream_set_overflow_callback(s, nullptr, nullptr);
  }

  // ---- libpulse's main-loop thread --------------------------------------------------------------------------------

  static void OnContextState(pa_context* c, void* userdata) {
    auto* self = static_cast<PulseStream*>(userdata);
    if (!PA_CONTEXT_IS_GOOD(Pulse().context_get_state(c))) self->failed_.store(true, std::memory_order_release);
    // pa_context_connect reports its first state on the calling (JavaScript) thread, before the loop runs.
    if (self->loop_ && Pulse().threaded_mainloop_in_thread(self->loop_)) Pulse().threaded_mainloop_signal(self->loop_, 0);
  }

  static void OnStreamState(pa_stream* s, void* userdata) {
    auto* self = static_cast<PulseStream*>(userdata);
    if (!PA_STREAM_IS_GOOD(Pulse().stream_get_state(s))) self->failed_.store(true, std::memory_order_release);
    if (Pulse().threaded_mainloop_in_thread(self->loop_)) Pulse().threaded_mainloop_signal(self->loop_, 0);
  }

  static void OnOpenTimeout(pa_mainloop_api*, pa_time_event*, const struct timeval*, void* userdata) {
    auto* self = static_cast<PulseStream*>(userdata);
    self->openTimedOut_ = true;
    Pulse().threaded_mainloop_signal(self->loop_, 0);
  }

  // The stream clock now (s, PortAudio's basis).
  double Now() const { return MonotonicSeconds() + clockOffset_; }

  // Real-time priority for the main-loop thread, once, where the process may have it (as PortAudio's ALSA host
  // does for its callback thread); normal scheduling otherwise.
  void EnsureRealtime() {
    if (!realtime_ || realtimeTried_) return;
    realtimeTried_ = true;
    sched_param param{};
    param.sched_priority = sched_get_priority_min(SCHED_FIFO) + 9;
    pthread_setschedparam(pthread_self(), SCHED_FIFO, &param);  // refused without the right: not an error
  }

  // The stream's latency (s) as libpulse interpolates it, without asking the server; `fallback` when it has no
  // timing yet. Playback: until the next sample written plays. Capture: since the next sample to read was captured.
  static double LatencySeconds(pa_stream* s, double fallback) {
    pa_usec_t usec = 0;
    int negative = 0;
    if (Pulse().stream_get_latency(s, &usec, &negative) < 0) return fallback;
    const double seconds = static_cast<double>(usec) / 1e6;
    return negative ? -seconds : seconds;
  }

  void Wake() {
    lastWake_ = MonotonicSeconds();
    uv_async_send(wake_);  // coalesces: at most one wake-up is pending at a time
  }

  static void OnRead(pa_stream* s, size_t, void* userdata) {
    auto* self = static_cast<PulseStream*>(userdata);
    self->EnsureRealtime();
    const bool inert = self->inert_.load(std::memory_order_acquire);
    // The server sends capture in whatever pieces its source produces (a sink monitor: fractions of a millisecond).
    // Like ALSA's period, a whole block is waited for before it is taken and JavaScript woken: one wake-up per
    // block, and the frame it completes is ready at once.
    const size_t readable = Pulse().stream_readable_size(s);
    if (readable == static_cast<size_t>(-1)) return;  // the stream is failing: its state callback says so
    if (!inert && readable < self->block_ * 2u * static_cast<size_t>(self->inputChannels_)) return;
    const double now = self->Now();
    // Seconds since the first sample of the first chunk peeked below reached the ADC.
    double adc = now - LatencySeconds(s, 0);
    StreamCounters& c = self->counters_;
    if (!inert) c.callbacks.fetch_add(1, std::memory_order_relaxed);
    const size_t frameBytes = 2u * static_cast<size_t>(self->inputChannels_);
    TimedRing& ring = *self->input_;
    // The pieces are contiguous: they go into the ring as one block (one BlockInfo), split only at a hole.
    const bool room = ring.samples.writable() >= readable / 2 && ring.blocks.writable() >= 2;
    double blockAdc = adc;
    size_t blockFrames = 0, lostFrames = 0;
    auto endBlock = [&] {
      if (blockFrames > 0) {
        const BlockInfo block{now, blockAdc, 0, self->inputPosition_, static_cast<double>(blockFrames),
                              self->pendingInputFlags_};
        ring.blocks.writeAll(&block, 1);
        self->pendingInputFlags_ = 0;
        self->inputPosition_ += static_cast<double>(blockFrames);
      }
      blockFrames = 0;
      blockAdc = adc;
    };
    for (;;) {
      const void* data = nullptr;
      size_t bytes = 0;
      if (Pulse().stream_peek(s, &data, &bytes) < 0) break;  // the stream is failing: its state callback says so
      if (bytes == 0) break;
      const size_t frames = bytes / frameBytes;
      if (inert) {
        // Nothing is touched.
      } else if (!data) {
        // A hole: the server lost these samples (its capture buffer overran). Counted and flagged on the next
        // block, as PortAudio flags an input overflow; block positions stay contiguous.
        endBlock();
        c.inputOverflows.fetch_add(1, std::memory_order_relaxed);
        self->pendingInputFlags_ = kInputOverflowFlag;
      } else if (room) {
        ring.samples.writeAll(static_cast<const int16_t*>(data), frames * self->inputChannels_);
        blockFrames += frames;
      } else {
        lostFrames += frames;
      }
      adc += static_cast<double>(frames) / self->sampleRate_;
      if (!data && !inert) blockAdc = adc;
      if (Pulse().stream_drop(s) < 0) break;
    }
    if (!inert) {
      endBlock();
      if (lostFrames > 0) {
        // JavaScript did not drain: the frames are lost, and the positions jump over them (as in AudioStream).
        c.inputRingOverruns.fetch_add(1, std::memory_order_relaxed);
        c.inputDroppedFrames.fetch_add(lostFrames, std::memory_order_relaxed);
        self->inputPosition_ += static_cast<double>(lostFrames);
      }
    }
    if (inert) return;
    self->clock_.Publish(now);
    self->Wake();
  }

  static void OnWrite(pa_stream* s, size_t bytes, void* userdata) {
    auto* self = static_cast<PulseStream*>(userdata);
    self->EnsureRealtime();
    // Corked and not started: what JavaScript queued stays in the ring for Start to hand over.
    if (!self->running_.load(std::memory_order_acquire)) return;
    self->FillPlayback(s, bytes);
    if (self->inert_.load(std::memory_order_acquire)) return;
    // A duplex pair wakes JavaScript from its capture, once per block; the playback side wakes it only when the
    // capture has not for a block (a silent or stalled source must not starve playback).
    const double blockSeconds = static_cast<double>(self->block_) / self->sampleRate_;
    if (!self->record_ || MonotonicSeconds() - self->lastWake_ > blockSeconds) self->Wake();
  }

  static void OnUnderflow(pa_stream*, void* userdata) {
    auto* self = static_cast<PulseStream*>(userdata);
    if (self->inert_.load(std::memory_order_acquire)) return;
    self->counters_.outputUnderflows.fetch_add(1, std::memory_order_relaxed);
    self->pendingOutputFlags_ = kOutputUnderflowFlag;
  }

  static void OnOverflow(pa_stream*, void* userdata) {
    auto* self = static_cast<PulseStream*>(userdata);
    if (self->inert_.load(std::memory_order_acquire)) return;
    self->counters_.outputOverflows.fetch_add(1, std::memory_order_relaxed);
  }

  // The main-loop thread, or the JavaScript thread holding the main loop's lock (Start): hands the server `bytes`
  // of playback, from the output ring and silence where the ring is short, and records what it handed over.
  void FillPlayback(pa_stream* s, size_t bytes) {
    const bool inert = inert_.load(std::memory_order_acquire);
    const size_t channels = static_cast<size_t>(outputChannels_);
    const size_t frameBytes = 2u * channels;
    const double now = Now();
    // When the first sample written now reaches the DAC; before the first timing update, a full queue's worth.
    double dac = now + LatencySeconds(s, static_cast<double>(playbackAttr_.tlength) / frameBytes / sampleRate_);
    StreamCounters& c = counters_;
    if (!inert) c.callbacks.fetch_add(1, std::memory_order_relaxed);
    bytes -= bytes % frameBytes;
    while (bytes > 0) {
      void* data = nullptr;
      size_t n = bytes;
      if (Pulse().stream_begin_write(s, &data, &n) < 0 || !data) break;  // a failing stream: its state says so
      n = std::min(n, bytes);
      n -= n % frameBytes;
      if (n == 0) {
        Pulse().stream_cancel_write(s);
        break;
      }
      auto* out = static_cast<int16_t*>(data);
      const size_t frames = n / frameBytes;
      const size_t want = frames * channels;
      if (inert) {
        std::memset(out, 0, n);
      } else {
        const size_t got = output_->read(out, want);
        if (got < want) {
          std::memset(out + got, 0, (want - got) * sizeof(int16_t));
          if (outputPrimed_.load(std::memory_order_relaxed)) {
            c.outputRingUnderruns.fetch_add(1, std::memory_order_relaxed);
            c.outputSilenceFrames.fetch_add((want - got) / channels, std::memory_order_relaxed);
          }
        }
        if (mixer_) mixer_->MixInto(out, frames);
        if (rendered_) {
          const BlockInfo block{now, 0, dac, outputPosition_, static_cast<double>(frames), pendingOutputFlags_};
          if (!rendered_->push(out, block)) c.renderedRingOverruns.fetch_add(1, std::memory_order_relaxed);
        }
        pendingOutputFlags_ = 0;
        outputPosition_ += static_cast<double>(frames);
      }
      if (Pulse().stream_write(s, data, n, nullptr, 0, PA_SEEK_RELATIVE) < 0) break;
      dac += static_cast<double>(frames) / sampleRate_;
      bytes -= n;
    }
    if (!inert) clock_.Publish(now);
  }

  // ---- JavaScript thread --------------------------------------------------------------------------------------------

  static void OnWake(uv_async_t* handle) {
    auto* self = static_cast<PulseStream*>(handle->data);
    if (!self || self->onWake_.IsEmpty()) return;
    Napi::Env env = self->Env();
    Napi::HandleScope scope(env);
    Napi::Value owner = self->owner_.Value();
    if (owner.IsEmpty() || owner.IsUndefined()) return;  // collected: its finalizer closes the stream
    // As AudioStream::OnWake: an exception the callback leaves goes to Node as uncaught, never to libuv.
    try {
      self->onWake_.MakeCallback(owner, {}, *self->asyncContext_);
    } catch (const Napi::Error& error) {
      napi_fatal_exception(env, error.Value());
    } catch (const std::exception& error) {
      napi_fatal_exception(env, Napi::Error::New(env, error.what()).Value());
    }
  }

  void CheckOpen(Napi::Env env) const {
    if (!loop_) throw Napi::Error::New(env, "the audio stream is closed");
  }

  // Corks or uncorks every stream of the pair; the main loop is locked. Returns an error message or "".
  std::string Cork(bool cork) {
    for (pa_stream* s : {record_, playback_}) {
      if (!s) continue;
      pa_operation* op = Pulse().stream_cork(s, cork ? 1 : 0, nullptr, nullptr);
      if (!op) return LastError(cork ? "cannot stop the audio stream" : "cannot start the audio stream");
      Pulse().operation_unref(op);  // not waited for
    }
    return "";
  }

  // Uncorks the streams, handing playback what JavaScript has queued first. Waits only for the main loop's lock.
  Napi::Value Start(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    CheckOpen(env);
    if (started_) return env.Undefined();
    if (failed_.load(std::memory_order_acquire))
      throw Napi::Error::New(env, "cannot start the audio stream: the sound server closed it");
    Pulse().threaded_mainloop_lock(loop_);
    running_.store(true, std::memory_order_release);
    if (mixer_) mixer_->SetRunning(true);
    if (playback_) {
      const size_t writable = Pulse().stream_writable_size(playback_);
      if (writable != static_cast<size_t>(-1) && writable > 0) FillPlayback(playback_, writable);
    }
    const std::string error = Cork(false);
    if (!error.empty()) {
      running_.store(false, std::memory_order_release);
      if (mixer_) mixer_->SetRunning(false);
    }
    Pulse().threaded_mainloop_unlock(loop_);
    if (!error.empty()) throw Napi::Error::New(env, error);
    started_ = true;
    owner_.Ref();
    uv_ref(reinterpret_cast<uv_handle_t*>(wake_));
    return env.Undefined();
  }

  // Corks the streams at once (what the server still holds plays on the next start). Waits only for the lock.
  Napi::Value Stop(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!loop_ || !started_) return env.Undefined();
    Pulse().threaded_mainloop_lock(loop_);
    running_.store(false, std::memory_order_release);
    if (mixer_) mixer_->SetRunning(false);  // the lock is held: no playback fill runs now or later
    const std::string error = Cork(true);
    Pulse().threaded_mainloop_unlock(loop_);
    started_ = false;
    owner_.Unref();
    uv_unref(reinterpret_cast<uv_handle_t*>(wake_));
    if (!error.empty()) throw Napi::Error::New(env, error);
    return env.Undefined();
  }

  Napi::Value CloseMethod(const Napi::CallbackInfo& info) {
    Close(true);
    return info.Env().Undefined();
  }

  Napi::Value MakeInertMethod(const Napi::CallbackInfo& info) {
    MakeInert();
    return info.Env().Undefined();
  }

  Napi::Value ReadInput(const Napi::CallbackInfo& info) {
    if (!input_) throw Napi::Error::New(info.Env(), "the stream has no input");
    return DrainTimedRing(info.Env(), *input_);
  }

  Napi::Value ReadRendered(const Napi::CallbackInfo& info) {
    if (!rendered_) throw Napi::Error::New(info.Env(), "the stream was not opened with captureRendered");
    return DrainTimedRing(info.Env(), *rendered_);
  }

  Napi::Value Write(const Napi::CallbackInfo& info) {
    CheckOpen(info.Env());
    if (!output_) throw Napi::Error::New(info.Env(), "the stream has no output");
    return WriteOutputRing(info, *output_, static_cast<size_t>(outputChannels_), outputPrimed_);
  }

  Napi::Value OutputBufferedFrames(const Napi::CallbackInfo& info) {
    if (!output_) return Napi::Number::New(info.Env(), 0);
    return Napi::Number::New(info.Env(), static_cast<double>(output_->readable() / outputChannels_));
  }

  Napi::Value OutputWritableFrames(const Napi::CallbackInfo& info) {
    if (!output_) return Napi::Number::New(info.Env(), 0);
    return Napi::Number::New(info.Env(), static_cast<double>(output_->writable() / outputChannels_));
  }

  Napi::Value Counters(const Napi::CallbackInfo& info) { return CountersToObject(info.Env(), counters_); }

  // { inputLatency, outputLatency (s), sampleRate (Hz) }: the buffer the server granted (fragsize, tlength) plus,
  // unless it sized the device buffer into it (adjustLatency), the device latency of the last timing update.
  // Reads libpulse's cached timing under the lock; never asks the server.
  Napi::Value Info(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    CheckOpen(env);
    double inputLatency = 0, outputLatency = 0;
    Pulse().threaded_mainloop_lock(loop_);
    if (record_) {
      const pa_timing_info* t = Pulse().stream_get_timing_info(record_);
      inputLatency = static_cast<double>(recordAttr_.fragsize) / (2.0 * inputChannels_) / sampleRate_ +
                     (t ? static_cast<double>(t->source_usec) / 1e6 : 0);
    }
    if (playback_) {
      const pa_timing_info* t = Pulse().stream_get_timing_info(playback_);
      outputLatency = static_cast<double>(playbackAttr_.tlength) / (2.0 * outputChannels_) / sampleRate_ +
                      (t ? static_cast<double>(t->sink_usec) / 1e6 : 0);
    }
    Pulse().threaded_mainloop_unlock(loop_);
    Napi::Object o = Napi::Object::New(env);
    o.Set("inputLatency", inputLatency);
    o.Set("outputLatency", outputLatency);
    o.Set("sampleRate", sampleRate_);
    o.Set("blockFrames", static_cast<double>(block_));
    o.Set("fragsizeBytes", static_cast<double>(recordAttr_.fragsize));
    o.Set("tlengthBytes", static_cast<double>(playbackAttr_.tlength));
    o.Set("minreqBytes", static_cast<double>(playbackAttr_.minreq));
    o.Set("prebufBytes", static_cast<double>(playbackAttr_.prebuf));
    return o;
  }

  Napi::Value Time(const Napi::CallbackInfo& info) {
    CheckOpen(info.Env());
    return Napi::Number::New(info.Env(), clock_.Now());
  }

  Napi::Value IsActive(const Napi::CallbackInfo& info) {
    return Napi::Boolean::New(info.Env(), loop_ != nullptr && started_ && !failed_.load(std::memory_order_acquire));
  }

  // libpulse objects: created and freed on the JavaScript thread; used by the main-loop thread in between.
  pa_threaded_mainloop* loop_ = nullptr;
  pa_mainloop_api* api_ = nullptr;
  pa_context* context_ = nullptr;
  pa_stream* record_ = nullptr;
  pa_stream* playback_ = nullptr;
  pa_time_event* openTimer_ = nullptr;
  bool openTimedOut_ = false;  // main loop locked
  pa_buffer_attr recordAttr_{};
  pa_buffer_attr playbackAttr_{};

  // JavaScript side of the wake-up (as AudioStream).
  uv_async_t* wake_ = nullptr;
  Napi::FunctionReference onWake_;
  Napi::ObjectReference owner_;  // weak unless started
  Napi::AsyncContext* asyncContext_ = nullptr;
  bool started_ = false;  // JavaScript thread

  int inputChannels_ = 0;
  int outputChannels_ = 0;
  double sampleRate_ = 0;  // Hz
  uint32_t block_ = 0;     // frames: minreq and the smallest fragsize
  double clockOffset_ = 0; // s: wall clock minus monotonic clock at open
  bool realtime_ = false;
  std::unique_ptr<TimedRing> input_;
  std::unique_ptr<TimedRing> rendered_;
  std::unique_ptr<SpscRing<int16_t>> output_;
  // The player's sources, mixed into playback by FillPlayback (optional); see AudioStream.
  SourceMixer* mixer_ = nullptr;
  Napi::ObjectReference mixerRef_;
  std::atomic<bool> outputPrimed_{false};  // underruns count only once JavaScript has written something
  std::atomic<bool> inert_{false};         // see MakeInert
  std::atomic<bool> running_{false};       // started: playback may take from the ring
  std::atomic<bool> failed_{false};        // the server closed the context or a stream

  // Main-loop thread only (or the JavaScript thread holding the lock, in Start).
  bool realtimeTried_ = false;
  double inputPosition_ = 0;
  double outputPosition_ = 0;
  double pendingInputFlags_ = 0;
  double pendingOutputFlags_ = 0;
  double lastWake_ = 0;  // monotonic s
  StreamCounters counters_;
  StreamClock clock_;  // published by the callbacks, read by Time()
};

}  // namespace

Napi::Function DefinePulseStream(Napi::Env env) { return PulseStream::Define(env); }

#else

Napi::Function DefinePulseStream(Napi::Env env) {
  return Napi::Function::New(env, [](const Napi::CallbackInfo& info) -> Napi::Value {
    throw Napi::Error::New(info.Env(),
                           "this build of the addon has no libpulse support (built without libpulse's headers)");
  });
}

#endif
