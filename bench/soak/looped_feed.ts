/**
 * A sound played into a sink of the rig over and over by pacat (another process): a near-end talker in a
 * microphone's feed, for as long as a benchmark runs.
 */
import { spawn } from 'node:child_process';
import { rigChildEnv } from '../../test/support/rig.js';

/** A running feed; see {@link startLoopedFeed}. */
export interface LoopedFeed {
  /**
   * Stops pacat and waits for it to exit.
   * @throws Error if pacat failed or exited before it was stopped (the feed had stopped playing).
   */
  stop(): Promise<void>;
}

/**
 * Plays mono 48 kHz `samples` into `sink` in a loop, at real-time pace (pacat reads as the sink plays; a pipe's
 * worth is kept queued).
 */
export function startLoopedFeed(sink: string, samples: Int16Array): LoopedFeed {
  const child = spawn(
    'pacat',
    [
      '--playback',
      '--raw',
      '--format=s16le',
      '--rate=48000',
      '--channels=1',
      `--device=${sink}`,
      '--latency-msec=40',
      '--client-name=lk-bench-feed',
    ],
    { env: rigChildEnv(), stdio: ['pipe', 'ignore', 'pipe'] },
  );
  const stdin = child.stdin!;
  let stderr = '';
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (d: string) => {
    if (stderr.length < 2000) stderr += d;
  });
  const bytes = Buffer.from(samples.buffer, samples.byteOffset, samples.byteLength);
  let stopping = false;
  let failure: Error | undefined;
  const pump = () => {
    while (!stopping && stdin.write(bytes));
  };
  stdin.on('drain', pump);
  stdin.on('error', (error) => {
    // EPIPE once pacat is gone: the exit handler says why, unless we stopped it.
    if (!stopping) failure ??= error;
  });
  const exited = new Promise<void>((resolve) => {
    child.once('error', (error) => {
      failure ??= error;
      resolve();
    });
    child.once('exit', (code, signal) => {
      if (!stopping) {
        failure = new Error(
          `pacat into ${sink} exited (${code ?? signal}) while playing: ${stderr.trim()}`,
        );
      }
      resolve();
    });
  });
  pump();
  return {
    async stop() {
      stopping = true;
      child.kill('SIGTERM');
      await exited;
      if (failure) throw failure;
    },
  };
}
