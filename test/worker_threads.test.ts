/**
 * PortAudio is one library per process: worker threads that use the addon share it with the main thread. Streams
 * open and close on several threads at once, and a worker that ends does not terminate PortAudio under the others.
 */
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { DeviceStream } from '../src/index.js';
import { rigEnv } from './support/rig.js';

const rig = rigEnv();
const DIST = pathToFileURL('dist/index.js').href;

/**
 * A worker that opens, starts and closes `cycles` streams on the mic; resolves, once it has ended, with the samples
 * it captured.
 */
function cyclingWorker(cycles: number): Promise<number> {
  const code = `
    const { parentPort, workerData } = require('node:worker_threads');
    import(workerData.dist).then(async ({ DeviceStream }) => {
      let samples = 0;
      for (let i = 0; i < workerData.cycles; i++) {
        const s = DeviceStream.open({ input: { device: workerData.mic, channels: 1 }, sampleRate: 48000 });
        s.on('input', (a) => (samples += a.samples.length));
        s.start();
        await new Promise((r) => setTimeout(r, 30));
        s.close();
      }
      parentPort.postMessage(samples);
    });`;
  const worker = new Worker(code, {
    eval: true,
    workerData: { dist: DIST, mic: rig.micA, cycles },
  });
  let samples = -1;
  worker.once('message', (n: number) => (samples = n));
  // Resolves once the worker has ended: its environment, and its use of PortAudio, torn down.
  return new Promise((resolve, reject) => {
    worker.once('error', reject);
    worker.once('exit', (code) =>
      code === 0 ? resolve(samples) : reject(new Error(`the worker exited with ${code}`)),
    );
  });
}

function captureFor(ms: number): Promise<number> {
  const s = DeviceStream.open({ input: { device: rig.micB, channels: 1 }, sampleRate: 48000 });
  let samples = 0;
  s.on('input', (a) => (samples += a.samples.length));
  s.start();
  return new Promise((resolve) =>
    setTimeout(() => {
      s.close();
      resolve(samples);
    }, ms),
  );
}

describe('worker threads', () => {
  it('streams open and close on the main thread and two workers at once; a finished worker leaves PortAudio up', async () => {
    const main = captureFor(1500);
    const [a, b] = await Promise.all([cyclingWorker(10), cyclingWorker(10)]);
    expect(a).toBeGreaterThan(0);
    expect(b).toBeGreaterThan(0);
    expect(await main).toBeGreaterThan(0);
    // Both workers have ended (their environments torn down): the main thread still opens and captures.
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(await captureFor(500)).toBeGreaterThan(0);
  });
});
