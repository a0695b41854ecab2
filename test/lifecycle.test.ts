/** Stream life cycles in a child process: nothing leaks, and the process exits by itself once streams are closed. */
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { rigEnv } from './support/rig.js';

const rig = rigEnv();

interface Sample {
  fds: number;
  threads: number;
  rss: number;
}

describe('stream life cycle', () => {
  it(
    '200 open/start/stop/close cycles leak no files, threads or memory, and the process exits on its own',
    { timeout: 120_000 },
    async () => {
      const child = spawn(
        process.execPath,
        [
          '--expose-gc',
          '--import',
          'tsx',
          'test/fixtures/stream_cycles.ts',
          '200',
          rig.micA,
          rig.speakerA,
        ],
        { stdio: ['ignore', 'pipe', 'inherit'] },
      );
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      let printedAt = 0;
      child.stdout.on('data', () => (printedAt ||= Date.now()));
      const code = await new Promise<number | null>((resolve) => {
        // A process that keeps running after it has closed everything fails here, not by the test's timeout.
        const watchdog = setInterval(() => {
          if (printedAt && Date.now() - printedAt > 10_000) {
            child.kill('SIGKILL');
          }
        }, 500);
        child.on('exit', (c) => {
          clearInterval(watchdog);
          resolve(c);
        });
      });
      expect(code, 'the child must exit by itself, with status 0').toBe(0);
      const { before, after } = JSON.parse(out.trim()) as { before: Sample; after: Sample };
      expect(after.fds).toBeLessThanOrEqual(before.fds);
      expect(after.threads).toBeLessThanOrEqual(before.threads);
      expect(after.rss - before.rss).toBeLessThan(10 * 1024 * 1024);
    },
  );
});
