/**
 * A sound played into a sink of the rig over and over by pacat (another process): a near-end talker in a
 * microphone's feed, for as long as a benchmark runs. The looping is done by a shell outside this process as well,
 * so a benchmark's CPU figure does not pay for its own test signal.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
 * Plays mono 48 kHz `samples` into `sink` in a loop, at real-time pace: the samples go to a temporary file, which
 * `cat` hands to pacat again each time it ends (pacat reads as the sink plays).
 */
export function startLoopedFeed(sink: string, samples: Int16Array): LoopedFeed {
  const dir = mkdtempSync(join(tmpdir(), 'lk-feed-'));
  const file = join(dir, 'feed.raw');
  writeFileSync(file, new Uint8Array(samples.buffer, samples.byteOffset, samples.byteLength));
  const pacat = [
    'pacat',
    '--playback',
    '--raw',
    '--format=s16le',
    '--rate=48000',
    '--channels=1',
    `--device=${sink}`,
    '--latency-msec=40',
    '--client-name=lk-bench-feed',
  ].join(' ');
  // The loop ends when pacat does (cat then fails on the broken pipe); the shell exits with pacat's status.
  const child = spawn('sh', ['-c', `while cat "$1"; do :; done | exec ${pacat}`, 'sh', file], {
    env: rigChildEnv(),
    stdio: ['ignore', 'ignore', 'pipe'],
    detached: true,
  });
  let stderr = '';
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (d: string) => {
    if (stderr.length < 2000) stderr += d;
  });
  let stopping = false;
  let failure: Error | undefined;
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
  return {
    async stop() {
      stopping = true;
      try {
        // The whole group: the shell, its loop's cat and pacat.
        process.kill(-child.pid!, 'SIGTERM');
      } catch {
        // Already gone: the exit handler has recorded why.
      }
      await exited;
      rmSync(dir, { recursive: true, force: true });
      if (failure) throw failure;
    },
  };
}
