import { readdirSync } from 'node:fs';

/** What a process holds at one moment: open files, threads and resident memory (bytes). */
export interface ProcessSample {
  fds: number;
  threads: number;
  rss: number;
}

/** Samples this process (Linux /proc). */
export function processSample(): ProcessSample {
  return {
    fds: readdirSync('/proc/self/fd').length,
    threads: readdirSync('/proc/self/task').length,
    rss: process.memoryUsage().rss,
  };
}
