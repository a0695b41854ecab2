/**
 * DeviceStream.time(): the stream clock as the audio callback publishes it (its time plus the monotonic time
 * since), read without calling into the device. Real PortAudio streams on the test sound server.
 */
import { describe, expect, it } from 'vitest';
import { DeviceStream, type TimedAudio } from '../src/index.js';
import { sleep } from './support/device_io.js';
import { rigEnv } from './support/rig.js';

const RATE = 48000;
const rig = rigEnv();

describe('stream time', () => {
  it('is NaN before the first callback, then runs with the callbacks and never goes back', async () => {
    const stream = DeviceStream.open({
      input: { device: rig.micA, channels: 1 },
      sampleRate: RATE,
      framesPerBuffer: RATE / 100,
    });
    try {
      expect(stream.time()).toBeNaN();
      const chunks: { audio: TimedAudio; now: number }[] = [];
      stream.on('input', (audio) => chunks.push({ audio, now: stream.time() }));
      stream.start();
      await sleep(500);
      expect(chunks.length).toBeGreaterThan(10);
      let previous = -Infinity;
      for (const { audio, now } of chunks) {
        const last = audio.blocks.at(-1)!;
        // Read after the block's callback ran: no earlier than its time, and not far past it (one wake-up).
        expect(now).toBeGreaterThanOrEqual(last.currentTime);
        expect(now - last.currentTime).toBeLessThan(0.25);
        expect(now).toBeGreaterThanOrEqual(previous);
        previous = now;
      }
      // Extrapolated between callbacks: the clock advances with the wall clock while no callback runs.
      stream.stop();
      const a = stream.time();
      await sleep(100);
      expect(stream.time() - a).toBeGreaterThan(0.09);
    } finally {
      stream.close();
    }
  });
});
