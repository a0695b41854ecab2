// libpulse, loaded at run time (dlopen) instead of linked: the addon then loads on machines without libpulse
// (a server, a container, a desktop with a pure ALSA set-up) and lists PortAudio's devices there, and on machines
// with a PulseAudio-compatible sound server it lists the server's sinks and sources as well.
//
// Every libpulse function the addon calls is a member of PulseLibrary, looked up by name when the library loads;
// code that needs another libpulse function adds it to the table (PULSE_FUNCTIONS in pulse_library.cc) and calls it
// through the table, never directly (a direct call would link libpulse again).
#pragma once

#ifdef HAVE_LIBPULSE
#include <pulse/pulseaudio.h>
#endif

#include <string>

#ifdef HAVE_LIBPULSE

// X-macro list of the libpulse functions the addon uses: X(member name, libpulse symbol).
#define LK_PULSE_FUNCTIONS(X)                                          \
  X(threaded_mainloop_new, pa_threaded_mainloop_new)                   \
  X(threaded_mainloop_free, pa_threaded_mainloop_free)                 \
  X(threaded_mainloop_start, pa_threaded_mainloop_start)               \
  X(threaded_mainloop_stop, pa_threaded_mainloop_stop)                 \
  X(threaded_mainloop_lock, pa_threaded_mainloop_lock)                 \
  X(threaded_mainloop_unlock, pa_threaded_mainloop_unlock)             \
  X(threaded_mainloop_get_api, pa_threaded_mainloop_get_api)           \
  X(threaded_mainloop_set_name, pa_threaded_mainloop_set_name)         \
  X(context_new, pa_context_new)                                       \
  X(context_connect, pa_context_connect)                               \
  X(context_get_state, pa_context_get_state)                           \
  X(context_errno, pa_context_errno)                                   \
  X(context_set_state_callback, pa_context_set_state_callback)         \
  X(context_set_subscribe_callback, pa_context_set_subscribe_callback) \
  X(context_subscribe, pa_context_subscribe)                           \
  X(context_disconnect, pa_context_disconnect)                         \
  X(context_unref, pa_context_unref)                                   \
  X(context_get_server_info, pa_context_get_server_info)               \
  X(context_get_sink_info_list, pa_context_get_sink_info_list)         \
  X(context_get_source_info_list, pa_context_get_source_info_list)     \
  X(operation_unref, pa_operation_unref)                               \
  X(strerror, pa_strerror)                                             \
  X(rtclock_now, pa_rtclock_now)                                       \
  X(gettimeofday, pa_gettimeofday)                                     \
  X(timeval_add, pa_timeval_add)                                       \
  X(threaded_mainloop_wait, pa_threaded_mainloop_wait)                 \
  X(threaded_mainloop_signal, pa_threaded_mainloop_signal)             \
  X(stream_new, pa_stream_new)                                         \
  X(stream_connect_playback, pa_stream_connect_playback)               \
  X(stream_connect_record, pa_stream_connect_record)                   \
  X(stream_disconnect, pa_stream_disconnect)                           \
  X(stream_unref, pa_stream_unref)                                     \
  X(stream_get_state, pa_stream_get_state)                             \
  X(stream_set_state_callback, pa_stream_set_state_callback)           \
  X(stream_set_read_callback, pa_stream_set_read_callback)             \
  X(stream_set_write_callback, pa_stream_set_write_callback)           \
  X(stream_set_underflow_callback, pa_stream_set_underflow_callback)   \
  X(stream_set_overflow_callback, pa_stream_set_overflow_callback)     \
  X(stream_peek, pa_stream_peek)                                       \
  X(stream_drop, pa_stream_drop)                                       \
  X(stream_begin_write, pa_stream_begin_write)                         \
  X(stream_cancel_write, pa_stream_cancel_write)                       \
  X(stream_write, pa_stream_write)                                     \
  X(stream_writable_size, pa_stream_writable_size)                     \
  X(stream_readable_size, pa_stream_readable_size)                     \
  X(stream_get_latency, pa_stream_get_latency)                         \
  X(stream_get_buffer_attr, pa_stream_get_buffer_attr)                 \
  X(stream_cork, pa_stream_cork)                                       \
  X(stream_get_timing_info, pa_stream_get_timing_info)                 \
  X(threaded_mainloop_in_thread, pa_threaded_mainloop_in_thread)

// The libpulse functions, each with libpulse's own signature: `pulse->context_new(...)` calls `pa_context_new`.
struct PulseLibrary {
#define LK_PULSE_MEMBER(member, symbol) decltype(&::symbol) member = nullptr;
  LK_PULSE_FUNCTIONS(LK_PULSE_MEMBER)
#undef LK_PULSE_MEMBER
};

#else

struct PulseLibrary {};

#endif

// The loaded table, or nullptr when libpulse is not usable here; then `*reason` (when given) says why, in one line
// (the library is missing, a function is missing from it, or the addon was built without libpulse's headers).
// The first call loads the library; later calls return the same answer. Any thread (the first load is serialized).
const PulseLibrary* LoadPulseLibrary(std::string* reason);
