// Sends the process's standard error to the null device for the duration of a scope, and back after: PortAudio's
// host back ends (ALSA and JACK on Linux) print probe noise there while they initialise. One seam per platform:
// dup/dup2 on /dev/null on POSIX systems, _dup/_dup2 on NUL on Windows (untested). If the redirection cannot be set
// up, standard error is left as it is.
#pragma once

// The JavaScript thread that initialises PortAudio, holding PortAudioLock(). Other threads' writes to standard error
// during the scope are lost too.
class QuietStderr {
 public:
  QuietStderr();
  ~QuietStderr();
  QuietStderr(const QuietStderr&) = delete;
  QuietStderr& operator=(const QuietStderr&) = delete;

 private:
  int saved_ = -1;  // the original standard error, or -1 when it was not redirected
};
