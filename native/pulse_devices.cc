#include "pulse_devices.h"

#include "pulse_library.h"

#ifdef HAVE_LIBPULSE

#include <string>
#include <vector>

namespace {

struct ServerDevice {
  std::string name;
  std::string description;
  int channels = 0;
  double sampleRate = 0;
  std::string monitorOf;  // sources: the sink this monitor belongs to
};

struct Listing {
  bool failed = false;
  bool timedOut = false;
  int pending = 0;  // introspection replies still to come
  std::string serverName, defaultSink, defaultSource;
  std::vector<ServerDevice> sinks, sources;
};

void OnServerInfo(pa_context*, const pa_server_info* i, void* userdata) {
  auto* l = static_cast<Listing*>(userdata);
  if (i) {
    l->serverName = i->server_name ? i->server_name : "";
    l->defaultSink = i->default_sink_name ? i->default_sink_name : "";
    l->defaultSource = i->default_source_name ? i->default_source_name : "";
  }
  l->pending--;
}

void OnSink(pa_context*, const pa_sink_info* i, int eol, void* userdata) {
  auto* l = static_cast<Listing*>(userdata);
  if (eol) {
    l->pending--;
    return;
  }
  l->sinks.push_back({i->name, i->description ? i->description : i->name, i->sample_spec.channels,
                      static_cast<double>(i->sample_spec.rate), ""});
}

void OnSource(pa_context* c, const pa_source_info* i, int eol, void* userdata) {
  auto* l = static_cast<Listing*>(userdata);
  if (eol) {
    l->pending--;
    return;
  }
  ServerDevice d{i->name, i->description ? i->description : i->name, i->sample_spec.channels,
                 static_cast<double>(i->sample_spec.rate), ""};
  if (i->monitor_of_sink != PA_INVALID_INDEX) d.monitorOf = i->monitor_of_sink_name ? i->monitor_of_sink_name : "?";
  l->sources.push_back(d);
}

void OnTimeout(pa_mainloop_api*, pa_time_event*, const struct timeval*, void* userdata) {
  static_cast<Listing*>(userdata)->timedOut = true;
}

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

}  // namespace

Napi::Value ListSoundServerDevices(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const double timeoutMs = info[0].IsNumber() ? info[0].As<Napi::Number>().DoubleValue() : 2000;
  // libpulse is loaded at run time; without it there is no sound server to list.
  const PulseLibrary* pulse = LoadPulseLibrary(nullptr);
  if (!pulse) return env.Null();
  Listing listing;
  pa_mainloop* loop = pulse->mainloop_new();
  pa_mainloop_api* api = pulse->mainloop_get_api(loop);
  pa_context* context = pulse->context_new(api, "livekit-media-devices");
  struct timeval deadline;
  pulse->timeval_add(pulse->gettimeofday(&deadline), static_cast<pa_usec_t>(timeoutMs * 1000));
  pa_time_event* timer = api->time_new(api, &deadline, OnTimeout, &listing);

  // Never start a server: listing devices must not change the system.
  bool queried = false;
  if (pulse->context_connect(context, nullptr, PA_CONTEXT_NOAUTOSPAWN, nullptr) < 0) listing.failed = true;
  while (!listing.failed && !listing.timedOut) {
    const pa_context_state_t state = pulse->context_get_state(context);
    if (state == PA_CONTEXT_FAILED || state == PA_CONTEXT_TERMINATED) {
      listing.failed = true;
      break;
    }
    if (state == PA_CONTEXT_READY && !queried) {
      queried = true;
      listing.pending = 3;
      pulse->operation_unref(pulse->context_get_server_info(context, OnServerInfo, &listing));
      pulse->operation_unref(pulse->context_get_sink_info_list(context, OnSink, &listing));
      pulse->operation_unref(pulse->context_get_source_info_list(context, OnSource, &listing));
    }
    if (queried && listing.pending == 0) break;
    if (pulse->mainloop_iterate(loop, 1, nullptr) < 0) listing.failed = true;
  }
  api->time_free(timer);
  pulse->context_disconnect(context);
  pulse->context_unref(context);
  pulse->mainloop_free(loop);
  if (listing.failed || listing.timedOut) return env.Null();

  Napi::Object result = Napi::Object::New(env);
  result.Set("serverName", listing.serverName);
  result.Set("defaultSink", listing.defaultSink);
  result.Set("defaultSource", listing.defaultSource);
  result.Set("sinks", ToArray(env, listing.sinks, false));
  result.Set("sources", ToArray(env, listing.sources, true));
  return result;
}

#else

Napi::Value ListSoundServerDevices(const Napi::CallbackInfo& info) { return info.Env().Null(); }

#endif
