#include "pulse_library.h"

#include <mutex>

#ifdef HAVE_LIBPULSE
#include <dlfcn.h>
#endif

namespace {

// The soname of libpulse's ABI 0, which every PulseAudio (and PipeWire's pulse compatibility library) installs.
constexpr const char* kLibraryName = "libpulse.so.0";

struct LoadResult {
  const PulseLibrary* library = nullptr;
  std::string reason;
};

#ifdef HAVE_LIBPULSE

LoadResult Load() {
  LoadResult result;
  // RTLD_LOCAL: libpulse's symbols stay out of the global namespace (no clash with a libpulse another module links).
  // The handle is never closed: libpulse may keep threads and atexit handlers.
  void* handle = dlopen(kLibraryName, RTLD_NOW | RTLD_LOCAL);
  if (!handle) {
    const char* error = dlerror();
    result.reason = std::string("cannot load ") + kLibraryName + ": " + (error ? error : "unknown error");
    return result;
  }
  static PulseLibrary table;
  PulseLibrary loaded;
#define LK_PULSE_LOOKUP(member, symbol)                                                              \
  {                                                                                                  \
    dlerror();                                                                                       \
    void* address = dlsym(handle, #symbol);                                                          \
    if (!address) {                                                                                  \
      result.reason = std::string(kLibraryName) + " lacks " #symbol;                                 \
      return result;                                                                                 \
    }                                                                                                \
    loaded.member = reinterpret_cast<decltype(loaded.member)>(address);                              \
  }
  LK_PULSE_FUNCTIONS(LK_PULSE_LOOKUP)
#undef LK_PULSE_LOOKUP
  table = loaded;
  result.library = &table;
  return result;
}

#else

LoadResult Load() {
  LoadResult result;
  result.reason = "this build of the addon has no libpulse support (built without libpulse's headers)";
  return result;
}

#endif

}  // namespace

const PulseLibrary* LoadPulseLibrary(std::string* reason) {
  static std::once_flag once;
  static LoadResult result;
  std::call_once(once, [] { result = Load(); });
  if (!result.library && reason) *reason = result.reason;
  return result.library;
}
