#include "ring_memory.h"

#include <cstring>

#ifdef _WIN32
#include <windows.h>
#else
#include <sys/mman.h>
#endif

void* AllocateRingMemory(size_t bytes) {
  if (bytes == 0) bytes = 1;
#ifdef _WIN32
  void* p = VirtualAlloc(nullptr, bytes, MEM_COMMIT | MEM_RESERVE, PAGE_READWRITE);
  if (!p) return nullptr;
#else
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return nullptr;
#endif
  // Touch every page now, so the callback never takes the first-touch page fault.
  std::memset(p, 0, bytes);
  return p;
}

void FreeRingMemory(void* memory, size_t bytes) {
  if (!memory) return;
  if (bytes == 0) bytes = 1;
#ifdef _WIN32
  (void)bytes;
  VirtualFree(memory, 0, MEM_RELEASE);
#else
  munmap(memory, bytes);
#endif
}
