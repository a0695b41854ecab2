// Environment variables set for the duration of a scope and restored after. The ALSA `pulse` plugin reads
// PULSE_SINK / PULSE_SOURCE when a stream is opened, which is how a sound-server device is chosen per stream.
// One seam per platform: setenv/unsetenv on POSIX systems, _putenv_s on Windows (untested).
#pragma once

#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

// JavaScript thread, holding PortAudioLock() (the process environment is shared by every thread).
class ScopedEnv {
 public:
  explicit ScopedEnv(const std::map<std::string, std::string>& vars);
  ~ScopedEnv();
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  std::vector<std::pair<std::string, std::optional<std::string>>> saved_;
};
