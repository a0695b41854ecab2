/**
 * CPU time of this process's threads, by kind, from /proc (Linux): where a benchmark's CPU goes. Elsewhere the
 * readings are empty.
 */
import { readdirSync, readFileSync } from 'node:fs';

/** Clock ticks per second of /proc's utime and stime (USER_HZ, 100 on Linux builds). */
const TICKS_PER_SECOND = 100;

/** CPU milliseconds of each live thread, by thread id, with its name. */
export type ThreadCpuReading = Map<number, { name: string; cpuMs: number }>;

/** Reads every thread's user + system CPU so far. */
export function readThreadCpu(): ThreadCpuReading {
  const reading: ThreadCpuReading = new Map();
  let tids: string[];
  try {
    tids = readdirSync('/proc/self/task');
  } catch {
    return reading;
  }
  for (const tid of tids) {
    try {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
      // The name is in parentheses and may hold spaces; the fields after it are space separated.
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const ticks = Number(fields[11]) + Number(fields[12]);
      reading.set(Number(tid), { name, cpuMs: (ticks * 1000) / TICKS_PER_SECOND });
    } catch {
      // The thread ended between the listing and the read.
    }
  }
  return reading;
}

/**
 * % of one core each kind of thread used between two readings over `wallMs`: the JavaScript thread, the sound-server
 * client threads (ours on libpulse, `lk-pulse-stream`; ALSA's pulse plugin under PortAudio, `threaded-ml`),
 * LiveKit's native threads (tokio's and its audio thread), and the rest under Node's name: V8's helpers, libuv's
 * pool, and PortAudio's callback thread, which is not named.
 */
export function threadCpuPercent(
  before: ThreadCpuReading,
  after: ThreadCpuReading,
  wallMs: number,
) {
  const percent = { javaScript: 0, audioDevices: 0, liveKit: 0, nodeRuntime: 0 };
  for (const [tid, { name, cpuMs }] of after) {
    const ms = cpuMs - (before.get(tid)?.cpuMs ?? 0);
    const kind =
      tid === process.pid
        ? 'javaScript'
        : name.startsWith('lk-pulse') || name === 'threaded-ml'
          ? 'audioDevices'
          : name.startsWith('tokio') || name.startsWith('livekit')
            ? 'liveKit'
            : 'nodeRuntime';
    percent[kind] += (ms / wallMs) * 100;
  }
  for (const key of Object.keys(percent) as (keyof typeof percent)[]) {
    percent[key] = Math.round(percent[key] * 100) / 100;
  }
  return percent;
}
