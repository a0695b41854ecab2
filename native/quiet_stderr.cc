#include "quiet_stderr.h"

#include <cstdio>

#ifdef _WIN32
#include <fcntl.h>
#include <io.h>
#define LK_DUP _dup
#define LK_DUP2 _dup2
#define LK_CLOSE _close
#define LK_OPEN_NULL() _open("NUL", _O_WRONLY)
#define LK_STDERR 2
#else
#include <fcntl.h>
#include <unistd.h>
#define LK_DUP dup
#define LK_DUP2 dup2
#define LK_CLOSE close
#define LK_OPEN_NULL() open("/dev/null", O_WRONLY | O_CLOEXEC)
#define LK_STDERR STDERR_FILENO
#endif

QuietStderr::QuietStderr() {
  std::fflush(stderr);
  const int saved = LK_DUP(LK_STDERR);
  if (saved < 0) return;
  const int devNull = LK_OPEN_NULL();
  if (devNull < 0 || LK_DUP2(devNull, LK_STDERR) < 0) {
    if (devNull >= 0) LK_CLOSE(devNull);
    LK_CLOSE(saved);
    return;
  }
  LK_CLOSE(devNull);
  saved_ = saved;
}

QuietStderr::~QuietStderr() {
  if (saved_ < 0) return;
  std::fflush(stderr);
  LK_DUP2(saved_, LK_STDERR);  // if this fails there is nothing better to do: standard error stays silenced
  LK_CLOSE(saved_);
}
