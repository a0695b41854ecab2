/** Life cycles in a child process: nothing leaks, and the process exits by itself once everything is closed. */
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import type { ProcessSample } from './support/process_sample.js';
import { rigEnv } from './support/rig.js';

const rig = rigEnv();

/**
 * Runs a fixture that prints `{ before, after }` and returns; resolves with its exit code and samples. A child that
 * keeps running 10 s after printing is killed, so a process that cannot exit fails here, not by the test timeout.
 */
async function runFixture(
  fixture: string,
  args: string[],
): Promise<{ code: number | null; before: ProcessSample; after: ProcessSample }> {
  const child = spawn(process.execPath, ['--expose-gc', '--import', 'tsx', fixture, ...args], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  let printedAt = 0;
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString();
    printedAt ||= Date.now();
  });
  const code = await new Promise<number | null>((resolve) => {
    const watchdog = setInterval(() => {
      if (printedAt && Date.now() - printedAt > 10_000) child.kill('SIGKILL');
    }, 500);
    child.on('exit', (c) => {
      clearInterval(watchdog);
      resolve(c);
    });
  });
  const { before, after } = JSON.parse(out.trim()) as {
    before: ProcessSample;
    after: ProcessSample;
  };
  return { code, before, after };
}

describe('life cycle', () => {
  it(
    '200 stream open/start/stop/close cycles leak no files, threads or memory, and the process exits on its own',
    { timeout: 120_000 },
    async () => {
      const { code, before, after } = await runFixture('test/fixtures/stream_cycles.ts', [
        '200',
        rig.micA,
        rig.speakerA,
      ]);
      expect(code, 'the child must exit by itself, with status 0').toBe(0);
      expect(after.fds).toBeLessThanOrEqual(before.fds);
      expect(after.threads).toBeLessThanOrEqual(before.threads);
      expect(after.rss - before.rss).toBeLessThan(10 * 1024 * 1024);
    },
  );

  it(
    '30 capture + player cycles (processing on, a track and a stream) leak no files or threads, and the process exits',
    { timeout: 120_000 },
    async () => {
      const { code, before, after } = await runFixture('test/fixtures/media_cycles.ts', [
        '30',
        rig.micA,
        rig.speakerA,
      ]);
      console.log(
        `30 call set-ups: fds ${before.fds} -> ${after.fds}, threads ${before.threads} -> ${after.threads}, ` +
          `RSS +${((after.rss - before.rss) / 1048576).toFixed(1)} MiB`,
      );
      expect(code, 'the child must exit by itself, with status 0').toBe(0);
      expect(after.fds).toBeLessThanOrEqual(before.fds);
      expect(after.threads).toBeLessThanOrEqual(before.threads);
      expect(after.rss - before.rss).toBeLessThan(20 * 1024 * 1024);
    },
  );
});
