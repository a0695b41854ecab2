#include "scoped_env.h"

#include <cstdlib>

namespace {

void SetVariable(const std::string& key, const std::string& value) {
#ifdef _WIN32
  _putenv_s(key.c_str(), value.c_str());
#else
  setenv(key.c_str(), value.c_str(), 1);
#endif
}

void UnsetVariable(const std::string& key) {
#ifdef _WIN32
  _putenv_s(key.c_str(), "");  // an empty value removes the variable on Windows
#else
  unsetenv(key.c_str());
#endif
}

}  // namespace

ScopedEnv::ScopedEnv(const std::map<std::string, std::string>& vars) {
  for (const auto& [key, value] : vars) {
    const char* old = std::getenv(key.c_str());
    saved_.emplace_back(key, old ? std::optional<std::string>(old) : std::nullopt);
    SetVariable(key, value);
  }
}

ScopedEnv::~ScopedEnv() {
  for (const auto& [key, old] : saved_) {
    if (old) SetVariable(key, *old);
    else UnsetVariable(key);
  }
}
