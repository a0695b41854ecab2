// Lock-free single-producer/single-consumer ring of trivially copyable elements.
// One thread writes, one thread reads; neither ever waits, locks or allocates after construction.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstring>
#include <new>

#include "ring_memory.h"

template <typename T>
class SpscRing {
 public:
  // Storage comes straight from the system (ring_memory.h) and is touched once here: the callback never takes a page
  // fault on it, and closing a stream gives the memory back to the system instead of fragmenting the malloc heap.
  explicit SpscRing(size_t capacity) : capacity_(capacity), bytes_(capacity * sizeof(T)) {
    void* p = AllocateRingMemory(bytes_);
    if (!p) throw std::bad_alloc();
    data_ = static_cast<T*>(p);
  }
  ~SpscRing() { FreeRingMemory(data_, bytes_); }
  SpscRing(const SpscRing&) = delete;
  SpscRing& operator=(const SpscRing&) = delete;

  size_t capacity() const { return capacity_; }

  // Elements ready to read (consumer side; a lower bound on the producer side).
  size_t readable() const {
    return head_.load(std::memory_order_acquire) - tail_.load(std::memory_order_acquire);
  }

  // Free slots (producer side; a lower bound on the consumer side).
  size_t writable() const { return capacity_ - readable(); }

  // Producer: copies all n elements or none; returns whether it did.
  bool writeAll(const T* src, size_t n) {
    const size_t head = head_.load(std::memory_order_relaxed);
    const size_t tail = tail_.load(std::memory_order_acquire);
    if (capacity_ - (head - tail) < n) return false;
    copyIn(head, src, n);
    head_.store(head + n, std::memory_order_release);
    return true;
  }

  // Producer: copies as many of n elements as fit; returns how many.
  size_t writeSome(const T* src, size_t n) {
    const size_t head = head_.load(std::memory_order_relaxed);
    const size_t tail = tail_.load(std::memory_order_acquire);
    const size_t count = std::min(n, capacity_ - (head - tail));
    copyIn(head, src, count);
    head_.store(head + count, std::memory_order_release);
    return count;
  }

  // Consumer: copies up to n elements out; returns how many.
  size_t read(T* dst, size_t n) {
    const size_t tail = tail_.load(std::memory_order_relaxed);
    const size_t head = head_.load(std::memory_order_acquire);
    const size_t count = std::min(n, head - tail);
    const size_t start = tail % capacity_;
    const size_t first = std::min(count, capacity_ - start);
    std::memcpy(dst, data_ + start, first * sizeof(T));
    std::memcpy(dst + first, data_, (count - first) * sizeof(T));
    tail_.store(tail + count, std::memory_order_release);
    return count;
  }

 private:
  void copyIn(size_t head, const T* src, size_t n) {
    const size_t start = head % capacity_;
    const size_t first = std::min(n, capacity_ - start);
    std::memcpy(data_ + start, src, first * sizeof(T));
    std::memcpy(data_, src + first, (n - first) * sizeof(T));
  }

  const size_t capacity_;
  const size_t bytes_;
  T* data_;
  // Monotonic counters; the index into data_ is counter % capacity_. size_t does not wrap in practice (2^64).
  alignas(64) std::atomic<size_t> head_{0};
  alignas(64) std::atomic<size_t> tail_{0};
};
