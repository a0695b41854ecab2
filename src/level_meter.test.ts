import { describe, expect, it } from 'vitest';
import { LevelMeter, SILENCE_DBFS } from './level_meter.js';

/** `count` samples of a sine of amplitude `peak` (int16), 48 samples a period. */
function sine(peak: number, count: number): Int16Array {
  return Int16Array.from({ length: count }, (_, i) =>
    Math.round(peak * Math.sin((2 * Math.PI * i) / 48)),
  );
}

describe('LevelMeter', () => {
  it('reads a sine at its peak and RMS over several additions', () => {
    const meter = new LevelMeter();
    const peak = Math.round(32768 * 10 ** (-12 / 20));
    const tone = sine(peak, 4800);
    meter.add(tone.subarray(0, 480));
    meter.add(tone.subarray(480));
    const { rmsDbfs, peakDbfs } = meter.take();
    expect(peakDbfs).toBeCloseTo(-12, 2);
    expect(rmsDbfs).toBeCloseTo(-12 - 3.0103, 2);
  });

  it('starts over after each take, and reads silence (or nothing) as SILENCE_DBFS', () => {
    const meter = new LevelMeter();
    meter.add(sine(10000, 480));
    meter.take();
    expect(meter.take()).toEqual({ rmsDbfs: SILENCE_DBFS, peakDbfs: SILENCE_DBFS });
    meter.add(new Int16Array(480));
    expect(meter.take()).toEqual({ rmsDbfs: SILENCE_DBFS, peakDbfs: SILENCE_DBFS });
  });

  it('counts the negative full scale as 0 dBFS peak', () => {
    const meter = new LevelMeter();
    meter.add(Int16Array.of(0, -32768, 0, 0));
    expect(meter.take().peakDbfs).toBe(0);
  });
});
