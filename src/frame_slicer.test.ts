import { describe, expect, it } from 'vitest';
import { mapChannels } from './channel_mapping.js';
import { DelayEstimator } from './delay_estimator.js';
import { FrameSlicer } from './frame_slicer.js';

describe('FrameSlicer', () => {
  it('cuts chunks of any size into exact frames without losing or reordering a sample', () => {
    const rate = 44100;
    const frame = 441;
    const slicer = new FrameSlicer(frame, 2, rate);
    const frames: { data: Int16Array; time: number }[] = [];
    let next = 0;
    let clock = 100;
    for (const size of [256, 256, 1, 1000, 441, 7, 2000, 333]) {
      const chunk = new Int16Array(size * 2);
      for (let i = 0; i < size; i++) {
        chunk[2 * i] = next % 30000;
        chunk[2 * i + 1] = -(next % 30000);
        next++;
      }
      slicer.push(chunk, clock, (data, time) => frames.push({ data, time }));
      clock += size / rate;
    }
    expect(frames.length).toBe(Math.floor(next / frame));
    expect(slicer.pendingFrames).toBe(next % frame);
    frames.forEach((f, k) => {
      expect(f.data.length).toBe(frame * 2);
      expect(f.data[0]).toBe((k * frame) % 30000);
      expect(f.data[1]).toBe(0 - ((k * frame) % 30000) || 0);
      expect(f.data[frame * 2 - 2]).toBe((k * frame + frame - 1) % 30000);
      // Each frame carries the time of its first sample.
      expect(f.time).toBeCloseTo(100 + (k * frame) / rate, 9);
    });
  });

  it('hands out frames the receiver owns', () => {
    const slicer = new FrameSlicer(4, 1, 400);
    const got: Int16Array[] = [];
    const chunk = Int16Array.from([1, 2, 3, 4, 5, 6]);
    slicer.push(chunk, 0, (d) => got.push(d));
    chunk.fill(0);
    slicer.push(Int16Array.from([7, 8]), 0, (d) => got.push(d));
    expect(got.map((g) => Array.from(g))).toEqual([
      [1, 2, 3, 4],
      [5, 6, 7, 8],
    ]);
  });
});

describe('mapChannels', () => {
  const stereo = Int16Array.from([100, -100, 200, 0, 32767, 32767]);
  it('downmixes to mono by averaging', () => {
    expect(Array.from(mapChannels(stereo, 2, 1))).toEqual([0, 100, 32767]);
  });
  it('picks one channel', () => {
    expect(Array.from(mapChannels(stereo, 2, 1, 1))).toEqual([-100, 0, 32767]);
    expect(Array.from(mapChannels(stereo, 2, 2, 0))).toEqual([100, 100, 200, 200, 32767, 32767]);
  });
  it('copies mono to every channel and keeps a matching layout as is', () => {
    expect(Array.from(mapChannels(Int16Array.from([5, 6]), 1, 3))).toEqual([5, 5, 5, 6, 6, 6]);
    expect(mapChannels(stereo, 2, 2)).toBe(stereo);
  });
});

describe('DelayEstimator', () => {
  it('adds the render delay from DAC times to the capture delay from ADC times', () => {
    const d = new DelayEstimator();
    expect(d.streamDelayMs(10.0, 10.012)).toBe(12); // no render known yet: capture delay alone
    d.noteRender(20.03, 20.0);
    expect(d.renderDelayMs).toBeCloseTo(30, 6);
    expect(d.streamDelayMs(20.0, 20.015)).toBe(45);
    // Later render notes move the estimate smoothly, not in jumps.
    d.noteRender(21.04, 21.0);
    expect(d.renderDelayMs).toBeCloseTo(31, 6);
    expect(d.streamDelayMs(5, 4.9)).toBe(0);
  });
});
