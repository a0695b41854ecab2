// Memory for the lock-free rings, straight from the operating system (not the malloc heap): pages that the real-time
// callback never faults on once touched, given back to the system when a stream closes. One seam per platform:
// mmap on POSIX systems (Linux, macOS), VirtualAlloc on Windows (untested).
#pragma once

#include <cstddef>

// `bytes` of zeroed, readable and writable memory, or nullptr when the system refuses. JavaScript thread.
void* AllocateRingMemory(size_t bytes);

// Gives back memory from AllocateRingMemory (same `bytes`); nullptr is ignored. Whichever thread closes the stream.
void FreeRingMemory(void* memory, size_t bytes);
