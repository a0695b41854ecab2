/**
 * A second process that keeps one core busy, for benchmarks that must hold up on a loaded machine.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';

/** A running load process; see {@link startCpuLoad}. */
export interface CpuLoad {
  /** The load process's pid. */
  readonly pid: number;
  /** CPU time the load process has used so far (s), from /proc; undefined once it has exited. */
  cpuSeconds(): number | undefined;
  /**
   * Ends the load (SIGTERM) and waits for it to go. Resolves at once if it already stopped by itself.
   * @throws Error if the load process had died of something else before (it did not load the machine).
   */
  stop(): Promise<void>;
}

/**
 * Starts a child `node -e` spinning on one core. The loop ends by itself after `seconds`, so a load whose parent
 * died cannot outlive it by more than that; {@link CpuLoad.stop} ends it sooner.
 * @param seconds longest the load runs (the run's length plus a margin)
 */
export function startCpuLoad(seconds: number): CpuLoad {
  const endMs = Math.ceil(seconds * 1000);
  const child: ChildProcess = spawn(
    process.execPath,
    ['-e', `const end = Date.now() + ${endMs}; while (Date.now() < end);`],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
  if (child.pid === undefined) throw new Error('the CPU load process did not start');
  const pid = child.pid;
  let failure: Error | undefined;
  const exited = new Promise<void>((resolve) => {
    child.once('error', (error) => {
      failure = error;
      resolve();
    });
    child.once('exit', (code, signal) => {
      // Exit 0: it ran its course; SIGTERM: stop() ended it. Anything else: it was not loading the machine.
      if (code !== 0 && signal !== 'SIGTERM') {
        failure = new Error(`the CPU load process ended with ${code ?? signal}`);
      }
      resolve();
    });
  });
  const clockTicks = 100; // USER_HZ on Linux
  return {
    pid,
    cpuSeconds() {
      if (child.exitCode !== null || child.signalCode !== null) return undefined;
      // /proc/<pid>/stat: fields 14 and 15 (utime, stime) after the parenthesised command name.
      const stat = readProcStat(pid);
      if (!stat) return undefined;
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      return (Number(fields[11]) + Number(fields[12])) / clockTicks;
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
      if (failure) throw failure;
    },
  };
}

function readProcStat(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch (error) {
    // The process exited between the check and the read.
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}
