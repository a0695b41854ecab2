import { describe, expect, it } from 'vitest';
import { wavFrames } from './wav_frames.js';

describe('wavFrames', () => {
  it('cuts WAV audio into 10 ms frames, the last shorter, every sample kept in order', async () => {
    const samples = Int16Array.from({ length: 2 * 1000 }, (_, i) => i - 1000); // 1000 stereo frames at 44.1 kHz
    const frames = [];
    for await (const frame of wavFrames({ sampleRate: 44100, channels: 2, samples }))
      frames.push(frame);
    expect(frames.map((f) => f.samplesPerChannel)).toEqual([441, 441, 118]);
    expect(frames.every((f) => f.sampleRate === 44100 && f.channels === 2)).toBe(true);
    const joined = Int16Array.from(frames.flatMap((f) => [...f.data]));
    expect(joined).toEqual(samples);
    // Each frame owns its samples: changing the source afterwards changes no frame.
    samples.fill(0);
    expect(frames[0]!.data[0]).toBe(-1000);
  });
});
