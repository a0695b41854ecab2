/**
 * The native stream's hygiene: a stream dropped without close() is collected and its device closed (a started one
 * is not), a ring the system cannot allocate is a typed error that leaves nothing open, and process.exit() stops
 * the device callbacks of running streams.
 */
import { spawn } from 'node:child_process';
import v8 from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { nativeBinding } from '../src/backend/native_binding.js';
import { DeviceStream } from '../src/index.js';
import { rigChildEnv, rigEnv } from './support/rig.js';

const rig = rigEnv();

v8.setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** Collects garbage and lets the finalizers run (they run on later turns of the event loop). */
async function collect(): Promise<void> {
  for (let i = 0; i < 5; i++) {
    gc();
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('native stream hygiene', () => {
  it('a stream dropped without close() is collected and closed; a started one keeps running', async () => {
    await collect();
    const base = nativeBinding().openStreamCount();
    (() => {
      DeviceStream.open({ input: { device: rig.micA, channels: 1 }, sampleRate: 48000 });
      const stopped = DeviceStream.open({
        input: { device: rig.micA, channels: 1 },
        sampleRate: 48000,
      });
      stopped.on('input', () => {});
      stopped.start();
      stopped.stop();
    })();
    expect(nativeBinding().openStreamCount()).toBe(base + 2);
    await collect();
    expect(nativeBinding().openStreamCount(), 'both dropped streams closed').toBe(base);

    let samples = 0;
    (() => {
      const running = DeviceStream.open({
        input: { device: rig.micA, channels: 1 },
        sampleRate: 48000,
      });
      running.on('input', (audio) => (samples += audio.samples.length));
      running.on('input', function (this: DeviceStream) {
        if (samples > 48000) this.close();
      });
      running.start();
    })();
    await collect();
    expect(nativeBinding().openStreamCount(), 'a started stream is not collected').toBe(base + 1);
    while (samples <= 48000) await new Promise((resolve) => setTimeout(resolve, 50));
    expect(nativeBinding().openStreamCount()).toBe(base);
  });

  it('rings the system cannot allocate: AudioBackendError (ENOMEM), nothing left open', async () => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', 'test/fixtures/ring_out_of_memory.ts'],
      {
        env: rigChildEnv(),
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect(code, `stderr:\n${err}`).toBe(0);
    const result = JSON.parse(out.trim()) as Record<string, string | number>;
    expect(result.name).toBe('AudioBackendError');
    expect(result.message).toMatch(/cannot allocate the stream's rings.*out of memory/);
    expect(result.openStreams).toBe(0);
    expect(result.fdsAfter).toBeLessThanOrEqual(result.fdsBefore as number);
  });

  it('process.exit() from a listener stops the device callbacks before the exit handlers run', async () => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', 'test/fixtures/exit_with_open_streams.ts'],
      { env: rigChildEnv(), stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) =>
      child.on('exit', (c, s) => resolve([c, s])),
    );
    expect({ code, signal }, `stderr:\n${err}`).toEqual({ code: 3, signal: null });
    const result = JSON.parse(out.trim()) as Record<string, number>;
    expect(result.inputs).toBe(20);
    expect(result.atExit).toBeGreaterThanOrEqual(20);
    // Ten device blocks' time later, no callback has run (a running stream would have counted about ten more).
    expect(result.later).toBe(result.atExit);
  });
});
