/**
 * The libpulse backend of DeviceStream (soundServerBackend: 'libpulse', native/pulse_stream.h) against the rig:
 * the same face as the PortAudio stream (timed input, rendered audio with DAC times on the same clock, counters,
 * close), an open that fails cleanly, and a close that does not wait.
 */
import { describe, expect, it } from 'vitest';
import { AudioBackendError, DeviceStream, type TimedAudio } from '../src/index.js';
import { nativeBinding } from '../src/backend/native_binding.js';
import { sleep } from './support/device_io.js';
import { rigEnv } from './support/rig.js';

const RATE = 48000;
const FRAME = RATE / 100;
const rig = rigEnv();

describe('libpulse device stream', () => {
  it('captures and plays full duplex with ADC/DAC times on the PortAudio streams clock', async () => {
    const stream = DeviceStream.open({
      input: { device: `${rig.speakerA}.monitor`, channels: 1 },
      output: { device: rig.speakerA, channels: 1 },
      sampleRate: RATE,
      framesPerBuffer: FRAME,
      captureRendered: true,
      soundServerBackend: 'libpulse',
    });
    const reference = DeviceStream.open({
      input: { device: rig.micA, channels: 1 },
      sampleRate: RATE,
      framesPerBuffer: FRAME,
      soundServerBackend: 'portaudio',
    });
    try {
      expect(stream.backend).toBe('libpulse');
      expect(reference.backend).toBe('portaudio');
      expect(stream.time()).toBeNaN();
      const inputs: TimedAudio[] = [];
      const rendered: TimedAudio[] = [];
      let wakes = 0;
      stream.on('input', (audio) => inputs.push(audio));
      stream.on('rendered', (audio) => rendered.push(audio));
      stream.on('writable', () => {
        wakes++;
        while (stream.outputBufferedFrames < 2 * FRAME)
          stream.write(new Int16Array(FRAME).fill(1000));
      });
      reference.on('input', () => {});
      stream.start();
      reference.start();
      const started = Date.now();
      while (inputs.length < 50 && Date.now() - started < 20_000) await sleep(20);
      const elapsedS = (Date.now() - started) / 1000;
      // Both clocks are the same clock: within a few ms of each other.
      expect(Math.abs(stream.time() - reference.time())).toBeLessThan(0.05);
      const input = inputs.flatMap((a) => a.blocks);
      const played = rendered.flatMap((a) => a.blocks);
      expect(input.length).toBeGreaterThan(10);
      expect(played.length).toBeGreaterThan(10);
      for (const block of input) {
        // Captured before its callback ran (a little slack: libpulse interpolates the latency).
        expect(block.adcTime).toBeLessThan(block.currentTime + 0.005);
        expect(block.currentTime - block.adcTime).toBeLessThan(0.5);
      }
      for (const block of played) {
        expect(block.dacTime).toBeGreaterThan(block.currentTime - 0.005);
        expect(block.dacTime - block.currentTime).toBeLessThan(0.5);
      }
      // Positions are contiguous.
      for (let i = 1; i < input.length; i++) {
        expect(input[i]!.framePosition).toBe(input[i - 1]!.framePosition + input[i - 1]!.frames);
      }
      // About one wake-up per 10 ms block serves both directions (not one per piece the server sends).
      expect(wakes / elapsedS).toBeLessThan(250);
      const { outputMs } = stream.latency;
      expect(outputMs).toBeGreaterThanOrEqual(20);
      expect(stream.stats.callbacks).toBeGreaterThan(0);
      expect(stream.active).toBe(true);
    } finally {
      reference.close();
      const before = performance.now();
      stream.close();
      // Closing never waits on the server or the main-loop thread (that is joined on a pool thread).
      expect(performance.now() - before).toBeLessThan(50);
    }
    expect(stream.closed).toBe(true);
  });

  it('fails to open an unknown sink with an AudioBackendError and leaves nothing open', () => {
    const before = nativeBinding().openStreamCount();
    const open = (): unknown =>
      new (nativeBinding().PulseStream)({
        outputServerDevice: 'lk_no_such_sink',
        outputChannels: 1,
        sampleRate: RATE,
        framesPerBuffer: FRAME,
        ringFrames: RATE,
        onWake: () => {},
        owner: {},
      });
    expect(open).toThrow(/sink/);
    expect(nativeBinding().openStreamCount()).toBe(before);
    expect(() =>
      DeviceStream.open({
        output: { device: rig.speakerA, channels: 1 },
        sampleRate: RATE,
        soundServerBackend: 'nope' as never,
      }),
    ).toThrow(/soundServerBackend/);
    expect(AudioBackendError).toBeDefined();
  });
});
