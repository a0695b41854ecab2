// The stream's clock as the audio callback last saw it, for the JavaScript thread to read without calling into
// the device (PortAudio's ALSA host does not promise that Pa_GetStreamTime is safe beside a running callback).
#pragma once

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>

// A sequence lock over two numbers: one writer (the audio callback), any number of readers; neither side
// blocks, locks or allocates.
class StreamClock {
 public:
  // Audio thread only: records PortAudio's `currentTime` (s) of this callback with the monotonic clock now.
  void Publish(double streamTime) noexcept {
    const int64_t now = MonotonicNs();
    const uint64_t seq = seq_.load(std::memory_order_relaxed);
    seq_.store(seq + 1, std::memory_order_relaxed);  // odd: a write is under way
    std::atomic_thread_fence(std::memory_order_release);
    streamTime_.store(streamTime, std::memory_order_relaxed);
    publishedNs_.store(now, std::memory_order_relaxed);
    seq_.store(seq + 2, std::memory_order_release);
  }

  // Any thread: the stream time now (s), the last published time plus the monotonic time since; NaN before the
  // first Publish.
  double Now() const noexcept {
    for (;;) {
      const uint64_t before = seq_.load(std::memory_order_acquire);
      if (before & 1) continue;  // the writer is between its two stores: a few nanoseconds
      const double streamTime = streamTime_.load(std::memory_order_relaxed);
      const int64_t publishedNs = publishedNs_.load(std::memory_order_relaxed);
      std::atomic_thread_fence(std::memory_order_acquire);
      if (seq_.load(std::memory_order_relaxed) != before) continue;
      if (before == 0) return std::nan("");
      return streamTime + static_cast<double>(MonotonicNs() - publishedNs) / 1e9;
    }
  }

 private:
  static int64_t MonotonicNs() noexcept {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }

  std::atomic<uint64_t> seq_{0};
  std::atomic<double> streamTime_{0};
  std::atomic<int64_t> publishedNs_{0};
};
