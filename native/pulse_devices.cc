#include "pulse_devices.h"

#include "pulse_library.h"

#include <atomic>
#include <chrono>
#include <memory>
#include <condition_variable>
#include <mutex>
#include <string>
#include <vector>

namespace {

struct ServerDevice {
  std::string name;
  std::string description;
  int channels = 0;
  double sampleRate = 0;  // Hz
  std::string monitorOf;  // sources: the sink this monitor belongs to; empty otherwise
  bool operator==(const ServerDevice& o) const {
    return name == o.name && description == o.description && channels == o.channels &&
           sampleRate == o.sampleRate && monitorOf == o.monitorOf;
  }
};

struct Listing {
  std::string serverName, defaultSink, defaultSource;
  std::vector<ServerDevice> sinks, sources;
  bool operator==(const Listing& o) const {
    return serverName == o.serverName && defaultSink == o.defaultSink && defaultSource == o.defaultSource &&
           sinks == o.sinks && sources == o.sources;
  }
};

enum class State { kConnecting, kReady, kStalled, kDisconnected };

const char* StateName(State s) {
  switch (s) {
    case State::kConnecting: return "connecting";
    case State::kReady: return "ready";
    case State::kStalled: return "stalled";
    case State::kDisconnected: return "disconnected";
  }
  return "disconnected";
}

// What JavaScript reads: immutable once published (SoundServerMonitor::published_).
struct Snapshot {
  State state = State::kConnecting;
  std::string reason;       // why the state is not 'ready'; empty when it is
  double generation = 0;    // bumped on every published change
  bool hasListing = false;  // a complete listing has been received at least once
  bool settled = false;     // the first listing arrived, or the first connection attempt failed
  Listing listing;
};

Napi::Array ToArray(Napi::Env env, const std::vector<ServerDevice>& devices, bool isSource) {
  Napi::Array out = Napi::Array::New(env, devices.size());
  for (size_t i = 0; i < devices.size(); i++) {
    Napi::Object d = Napi::Object::New(env);
    d.Set("name", devices[i].name);
    d.Set("description", devices[i].description);
    d.Set("channels", devices[i].channels);
    d.Set("sampleRate", devices[i].sampleRate);
    if (isSource)
      d.Set("monitorOf", devices[i].monitorOf.empty() ? env.Null() : Napi::String::New(env, devices[i].monitorOf));
    out.Set(static_cast<uint32_t>(i), d);
  }
  return out;
}

Napi::Object ToObject(Napi::Env env, const Snapshot& s) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("state", StateName(s.state));
  o.Set("reason", s.reason);
  o.Set("generation", s.generation);
  if (!s.hasListing) {
    o.Set("listing", env.Null());
    return o;
  }
  Napi::Object l = Napi::Object::New(env);
  l.Set("serverName", s.listing.serverName);
  l.Set("defaultSink", s.listing.defaultSink);
  l.Set("defaultSource", s.listing.defaultSource);
  l.Set("sinks", ToArray(env, s.listing.sinks, false));
  l.Set("sources", ToArray(env, s.listing.sources, true));
  o.Set("listing", l);
  return o;
}

}  // namespace

#ifdef HAVE_LIBPULSE

namespace {

// libpulse, loaded at run time (pulse_library.h): called only after LoadPulseLibrary succeeded (the constructor).
const PulseLibrary& Pulse() { return *LoadPulseLibrary(nullptr); }

constexpr pa_usec_t kTickUsec = 500 * PA_USEC_PER_MSEC;     // heartbeat and reconnect timer
constexpr pa_usec_t kStallUsec = 1000 * PA_USEC_PER_MSEC;   // an unanswered heartbeat older than this: stalled
constexpr pa_usec_t kRetryUsec = 1000 * PA_USEC_PER_MSEC;   // between connection attempts

pa_usec_t NowUsec() { return Pulse().rtclock_now(); }

std::string ContextError(pa_context* c, const char* what) {
  return std::string(what) + ": " + Pulse().strerror(Pulse().context_errno(c));
}

class SoundServerMonitor : public Napi::ObjectWrap<SoundServerMonitor> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "SoundServerMonitor",
                       {
                           InstanceMethod<&SoundServerMonitor::GetSnapshot>("snapshot"),
                           InstanceMethod<&SoundServerMonitor::GetGeneration>("generation"),
                           InstanceMethod<&SoundServerMonitor::WaitForListing>("waitForListing"),
                           InstanceMethod<&SoundServerMonitor::Close>("close"),
                       });
  }

  // JavaScript thread.
  explicit SoundServerMonitor(const Napi::CallbackInfo& info) : Napi::ObjectWrap<SoundServerMonitor>(info) {
    Napi::Env env = info.Env();
    if (!info[0].IsFunction()) throw Napi::TypeError::New(env, "onChange must be a function");
    // Created before the cleanup hook is added: hooks run last-added first, so ours still finds it alive.
    onChange_ = Napi::ThreadSafeFunction::New(env, info[0].As<Napi::Function>(), "livekit-media-devices:devices", 0, 1);
    onChange_.Unref(env);  // watching devices never keeps the process alive
    if (napi_add_env_cleanup_hook(env, &SoundServerMonitor::OnEnvCleanup, this) != napi_ok) {
      onChange_.Release();
      throw Napi::Error::New(env, "cannot register the sound-server monitor's cleanup hook");
    }
    hookAdded_ = true;
    env_ = env;

    // Without a usable libpulse (pulse_library.h) the monitor never connects, and says why.
    std::string unusable;
    if (!LoadPulseLibrary(&unusable)) {
      Publish(State::kDisconnected, unusable, nullptr, true);
      return;
    }

    loop_ = Pulse().threaded_mainloop_new();
    if (!loop_) {
      Shutdown();
      throw Napi::Error::New(env, "cannot create libpulse's threaded main loop");
    }
    Pulse().threaded_mainloop_set_name(loop_, "lk-sound-server");
    api_ = Pulse().threaded_mainloop_get_api(loop_);
    if (Pulse().threaded_mainloop_start(loop_) < 0) {
      Pulse().threaded_mainloop_free(loop_);
      loop_ = nullptr;
      Shutdown();
      throw Napi::Error::New(env, "cannot start libpulse's main loop thread");
    }
    Pulse().threaded_mainloop_lock(loop_);
    Connect();
    struct timeval tv;
    tick_ = api_->time_new(api_, Pulse().timeval_add(Pulse().gettimeofday(&tv), kTickUsec), &SoundServerMonitor::OnTick, this);
    Pulse().threaded_mainloop_unlock(loop_);
    if (!tick_) {
      Shutdown();
      throw Napi::Error::New(env, "cannot create libpulse's heartbeat timer");
    }
  }

  ~SoundServerMonitor() override { Shutdown(); }

 private:
  // ---- JavaScript thread ---------------------------------------------------------------------------------------

  // The lock is held only to copy a pointer: a read never waits for libpulse's thread to build a listing.
  std::shared_ptr<const Snapshot> Published() {
    std::lock_guard<std::mutex> lock(snapMutex_);
    return published_;
  }

  Napi::Value GetSnapshot(const Napi::CallbackInfo& info) { return ToObject(info.Env(), *Published()); }

  Napi::Value GetGeneration(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), generation_.load(std::memory_order_acquire));
  }

  Napi::Value WaitForListing(const Napi::CallbackInfo& info) {
    const double timeoutMs = info[0].IsNumber() ? info[0].As<Napi::Number>().DoubleValue() : 0;
    std::unique_lock<std::mutex> lock(snapMutex_);
    if (timeoutMs > 0)
      settledCv_.wait_for(lock, std::chrono::microseconds(static_cast<int64_t>(timeoutMs * 1000)),
                          [this] { return published_->settled || closed_; });
    return Napi::Boolean::New(info.Env(), published_->hasListing);
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    Shutdown();
    return info.Env().Undefined();
  }

  static void OnEnvCleanup(void* self) {
    auto* monitor = static_cast<SoundServerMonitor*>(self);
    monitor->hookAdded_ = false;  // Node is running it: nothing to remove
    monitor->Shutdown();
  }

  // Stops the thread (joining it), then frees libpulse's objects with no other thread left to use them.
  void Shutdown() {
    if (loop_) {
      Pulse().threaded_mainloop_stop(loop_);
      if (tick_) api_->time_free(tick_);
      tick_ = nullptr;
      DropContext();
      Pulse().threaded_mainloop_free(loop_);
      loop_ = nullptr;
    }
    {
      std::lock_guard<std::mutex> lock(snapMutex_);
      closed_ = true;
    }
    settledCv_.notify_all();
    if (onChange_) {
      onChange_.Release();
      onChange_ = Napi::ThreadSafeFunction();
    }
    if (hookAdded_) {
      napi_remove_env_cleanup_hook(env_, &SoundServerMonitor::OnEnvCleanup, this);
      hookAdded_ = false;
    }
  }

  // ---- libpulse's thread (or the JavaScript thread holding the main loop's lock, before the first tick) --------

  void Connect() {
    failedAt_ = 0;
    context_ = Pulse().context_new(api_, "livekit-media-devices");
    if (!context_) {
      Disconnected("cannot create a libpulse context");
      return;
    }
    Pulse().context_set_state_callback(context_, &SoundServerMonitor::OnContextState, this);
    // Never start a server: watching devices must not change the system.
    if (Pulse().context_connect(context_, nullptr, PA_CONTEXT_NOAUTOSPAWN, nullptr) < 0) {
      failedContext_ = true;
      Disconnected(ContextError(context_, "cannot connect to the sound server"));
    }
  }

  void DropContext() {
    if (!context_) return;
    Pulse().context_set_state_callback(context_, nullptr, nullptr);
    Pulse().context_set_subscribe_callback(context_, nullptr, nullptr);
    Pulse().context_disconnect(context_);
    Pulse().context_unref(context_);
    context_ = nullptr;
    refreshing_ = false;
    refreshAgain_ = false;
    pingSentAt_ = 0;
  }

  // The connection is gone (or never came): the last listing stays, the state says why; the tick reconnects.
  void Disconnected(const std::string& reason) {
    if (failedAt_ == 0) failedAt_ = NowUsec();
    Publish(State::kDisconnected, reason, nullptr, true);
  }

  static void OnContextState(pa_context* c, void* userdata) {
    auto* self = static_cast<SoundServerMonitor*>(userdata);
    switch (Pulse().context_get_state(c)) {
      case PA_CONTEXT_READY: {
        Pulse().context_set_subscribe_callback(c, &SoundServerMonitor::OnServerEvent, self);
        pa_operation* op = Pulse().context_subscribe(
            c,
            static_cast<pa_subscription_mask_t>(PA_SUBSCRIPTION_MASK_SINK | PA_SUBSCRIPTION_MASK_SOURCE |
                                                PA_SUBSCRIPTION_MASK_SERVER),
            &SoundServerMonitor::OnSubscribed, self);
        if (!op) {
          self->Disconnected(ContextError(c, "cannot subscribe to the sound server's events"));
          self->failedContext_ = true;
          return;
        }
        Pulse().operation_unref(op);
        self->Refresh();
        break;
      }
      case PA_CONTEXT_FAILED:
      case PA_CONTEXT_TERMINATED:
        // Freed by the next tick, not from inside its own callback.
        self->failedContext_ = true;
        self->Disconnected(ContextError(c, "lost the sound server"));
        break;
      default:
        break;
    }
  }

  static void OnSubscribed(pa_context* c, int success, void* userdata) {
    auto* self = static_cast<SoundServerMonitor*>(userdata);
    if (!success) {
      self->failedContext_ = true;
      self->Disconnected(ContextError(c, "the sound server refused the event subscription"));
    }
  }

  static void OnServerEvent(pa_context*, pa_subscription_event_type_t type, uint32_t, void* userdata) {
    auto* self = static_cast<SoundServerMonitor*>(userdata);
    const auto facility = type & PA_SUBSCRIPTION_EVENT_FACILITY_MASK;
    const auto kind = type & PA_SUBSCRIPTION_EVENT_TYPE_MASK;
    // Devices coming and going, and the server's defaults; a device's own changes (volume, state) do not count.
    if (facility == PA_SUBSCRIPTION_EVENT_SERVER || kind != PA_SUBSCRIPTION_EVENT_CHANGE) self->Refresh();
  }

  // Reads the whole list again; events that arrive meanwhile ask for one more read when this one ends.
  void Refresh() {
    if (!context_ || Pulse().context_get_state(context_) != PA_CONTEXT_READY) return;
    if (refreshing_) {
      refreshAgain_ = true;
      return;
    }
    pending_ = Listing();
    pendingError_.clear();
    pendingReplies_ = 0;
    auto issue = [this](pa_operation* op, const char* what) {
      if (!op) {
        if (pendingError_.empty()) pendingError_ = ContextError(context_, what);
        return;
      }
      Pulse().operation_unref(op);
      pendingReplies_++;
    };
    issue(Pulse().context_get_server_info(context_, &SoundServerMonitor::OnServerInfo, this), "cannot ask for the server");
    issue(Pulse().context_get_sink_info_list(context_, &SoundServerMonitor::OnSink, this), "cannot ask for the sinks");
    issue(Pulse().context_get_source_info_list(context_, &SoundServerMonitor::OnSource, this), "cannot ask for the sources");
    refreshing_ = pendingReplies_ > 0;
    if (!pendingError_.empty() && !refreshing_) Publish(State::kStalled, pendingError_, nullptr, false);
  }

  void ReplyDone() {
    if (--pendingReplies_ > 0) return;
    refreshing_ = false;
    if (pendingError_.empty()) Publish(State::kReady, "", &pending_, false);
    else Publish(State::kStalled, pendingError_, nullptr, false);
    if (refreshAgain_) {
      refreshAgain_ = false;
      Refresh();
    }
  }

  static void OnServerInfo(pa_context* c, const pa_server_info* i, void* userdata) {
    auto* self = static_cast<SoundServerMonitor*>(userdata);
    if (i) {
      self->pending_.serverName = i->server_name ? i->server_name : "";
      self->pending_.defaultSink = i->default_sink_name ? i->default_sink_name : "";
      self->pending_.defaultSource = i->default_source_name ? i->default_source_name : "";
    } else if (self->pendingError_.empty()) {
      self->pendingError_ = ContextError(c, "the server's information failed");
    }
    self->ReplyDone();
  }

  static void OnSink(pa_context* c, const pa_sink_info* i, int eol, void* userdata) {
    auto* self = static_cast<SoundServerMonitor*>(userdata);
    if (eol < 0 && self->pendingError_.empty()) self->pendingError_ = ContextError(c, "listing the sinks failed");
    if (eol != 0) {
      self->ReplyDone();
      return;
    }
    self->pending_.sinks.push_back({i->name, i->description ? i->description : i->name, i->sample_spec.channels,
                                    static_cast<double>(i->sample_spec.rate), ""});
  }

  static void OnSource(pa_context* c, const pa_source_info* i, int eol, void* userdata) {
    auto* self = static_cast<SoundServerMonitor*>(userdata);
    if (eol < 0 && self->pendingError_.empty()) self->pendingError_ = ContextError(c, "listing the sources failed");
    if (eol != 0) {
      self->ReplyDone();
      return;
    }
    ServerDevice d{i->name, i->description ? i->description : i->name, i->sample_spec.channels,
                   static_cast<double>(i->sample_spec.rate), ""};
    if (i->monitor_of_sink != PA_INVALID_INDEX) d.monitorOf = i->monitor_of_sink_name ? i->monitor_of_sink_name : "?";
    self->pending_.sources.push_back(std::move(d));
  }

  // Every kTickUsec: reconnects a lost connection, and sends a heartbeat on a live one; a heartbeat unanswered
  // for kStallUsec means the server is stalled (a stopped process keeps its socket open, so nothing else tells).
  static void OnTick(pa_mainloop_api* api, pa_time_event* e, const struct timeval*, void* userdata) {
    auto* self = static_cast<SoundServerMonitor*>(userdata);
    const pa_usec_t now = NowUsec();
    if (self->failedContext_ || !self->context_) {
      if (now - self->failedAt_ >= kRetryUsec) {
        self->failedContext_ = false;
        self->DropContext();
        self->Connect();
      }
    } else if (Pulse().context_get_state(self->context_) == PA_CONTEXT_READY) {
      if (self->pingSentAt_ == 0) {
        pa_operation* op = Pulse().context_get_server_info(self->context_, &SoundServerMonitor::OnPong, self);
        if (op) {
          Pulse().operation_unref(op);
          self->pingSentAt_ = now;
        } else {
          self->Publish(State::kStalled, ContextError(self->context_, "cannot send a heartbeat"), nullptr, false);
        }
      } else if (now - self->pingSentAt_ >= kStallUsec) {
        // A fixed text: one warning per stall, not one per tick.
        self->Publish(State::kStalled,
                      "the sound server has not answered for over " +
                          std::to_string(kStallUsec / PA_USEC_PER_MSEC) + " ms",
                      nullptr, false);
      }
    }
    struct timeval tv;
    api->time_restart(e, Pulse().timeval_add(Pulse().gettimeofday(&tv), kTickUsec));
  }

  static void OnPong(pa_context* c, const pa_server_info* i, void* userdata) {
    auto* self = static_cast<SoundServerMonitor*>(userdata);
    self->pingSentAt_ = 0;
    if (!i) {
      self->Publish(State::kStalled, ContextError(c, "the heartbeat failed"), nullptr, false);
      return;
    }
    // Back from a stall: a fresh listing (which may have changed meanwhile) makes the state 'ready' again.
    if (self->publishedState_ == State::kStalled) self->Refresh();
  }

  // Publishes a new state (and listing, when given) and wakes JavaScript if anything it can see changed.
  void Publish(State state, const std::string& reason, const Listing* listing, bool settles) {
    // This thread is the only writer: it builds the next snapshot from its own copy, then swaps the pointer.
    bool changed = false;
    if (current_.state != state || current_.reason != reason) {
      current_.state = state;
      current_.reason = reason;
      changed = true;
    }
    if (listing && !(current_.hasListing && current_.listing == *listing)) {
      current_.listing = *listing;
      current_.hasListing = true;
      changed = true;
    }
    const bool settling = (listing || settles) && !current_.settled;
    if (listing || settles) current_.settled = true;
    if (changed) current_.generation++;
    if (changed || settling) {
      auto next = std::make_shared<const Snapshot>(current_);
      {
        std::lock_guard<std::mutex> lock(snapMutex_);
        published_ = std::move(next);
      }
      generation_.store(current_.generation, std::memory_order_release);
    }
    publishedState_ = state;
    settledCv_.notify_all();
    if (changed) Notify();
  }

  // Wakes JavaScript once; calls made while one is still pending are folded into it.
  void Notify() {
    if (notifyPending_->exchange(true)) return;
    // The flag, not `this`: a call still queued when the monitor goes must not touch it.
    const napi_status status = onChange_.NonBlockingCall([pending = notifyPending_](Napi::Env env,
                                                                                    Napi::Function onChange) {
      pending->store(false);
      if (env == nullptr || onChange.IsEmpty()) return;
      // Plain Node-API, no C++ exception: the callback (the package's own, which defers the listeners) does not
      // throw, and while the environment shuts down the call fails with no JavaScript left to tell.
      napi_value result;
      napi_call_function(env, env.Undefined(), onChange, 0, nullptr, &result);
    });
    // napi_closing: the environment is shutting down and nobody is left to tell.
    if (status != napi_ok) notifyPending_->store(false);
  }

  // Owned by the JavaScript thread.
  Napi::ThreadSafeFunction onChange_;
  napi_env env_ = nullptr;
  bool hookAdded_ = false;
  pa_threaded_mainloop* loop_ = nullptr;
  pa_mainloop_api* api_ = nullptr;

  // Owned by libpulse's thread once it runs.
  pa_time_event* tick_ = nullptr;
  pa_context* context_ = nullptr;
  bool failedContext_ = false;
  pa_usec_t failedAt_ = 0;
  pa_usec_t pingSentAt_ = 0;  // 0: no heartbeat outstanding
  bool refreshing_ = false;
  bool refreshAgain_ = false;
  int pendingReplies_ = 0;
  Listing pending_;
  std::string pendingError_;
  State publishedState_ = State::kConnecting;

  Snapshot current_;  // what this thread last published

  // Shared: the pending wake-up's flag, the published snapshot (the pointer under snapMutex_), its generation, and
  // the close flag.
  std::shared_ptr<std::atomic<bool>> notifyPending_ = std::make_shared<std::atomic<bool>>(false);
  std::mutex snapMutex_;
  std::condition_variable settledCv_;
  std::shared_ptr<const Snapshot> published_ = std::make_shared<const Snapshot>();
  std::atomic<double> generation_{0};
  bool closed_ = false;
};

}  // namespace

Napi::Function DefineSoundServerMonitor(Napi::Env env) { return SoundServerMonitor::Define(env); }

#else

namespace {

// Built without libpulse: a monitor that never connects and says why.
class SoundServerMonitor : public Napi::ObjectWrap<SoundServerMonitor> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "SoundServerMonitor",
                       {
                           InstanceMethod<&SoundServerMonitor::GetSnapshot>("snapshot"),
                           InstanceMethod<&SoundServerMonitor::GetGeneration>("generation"),
                           InstanceMethod<&SoundServerMonitor::WaitForListing>("waitForListing"),
                           InstanceMethod<&SoundServerMonitor::Close>("close"),
                       });
  }
  explicit SoundServerMonitor(const Napi::CallbackInfo& info) : Napi::ObjectWrap<SoundServerMonitor>(info) {}

 private:
  Napi::Value GetSnapshot(const Napi::CallbackInfo& info) {
    Snapshot s;
    s.state = State::kDisconnected;
    s.reason = "built without libpulse";
    return ToObject(info.Env(), s);
  }
  Napi::Value GetGeneration(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), 0); }
  Napi::Value WaitForListing(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), false); }
  Napi::Value Close(const Napi::CallbackInfo& info) { return info.Env().Undefined(); }
};

}  // namespace

Napi::Function DefineSoundServerMonitor(Napi::Env env) { return SoundServerMonitor::Define(env); }

#endif
