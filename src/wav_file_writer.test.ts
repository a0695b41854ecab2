import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readWav } from './wav.js';
import { WavFileWriter } from './wav_file_writer.js';

const dir = mkdtempSync(join(tmpdir(), 'wav-writer-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const fail = (error: unknown): never => {
  throw error;
};

describe('WavFileWriter', () => {
  it('streams samples after a header that close() fixes up, and the caller may reuse its array', async () => {
    const path = join(dir, 'stream.wav');
    const writer = await WavFileWriter.create(path, 16000, 2, fail);
    // Before any audio: a valid, empty WAV.
    expect(readFileSync(path).length).toBe(44);
    const chunk = new Int16Array(6);
    const written: number[] = [];
    for (let k = 0; k < 3; k++) {
      chunk.forEach((_, i) => (chunk[i] = k * 100 + i));
      written.push(...chunk);
      writer.write(chunk);
    }
    expect(writer.frames).toBe(9);
    await writer.close();
    const audio = await readWav(path);
    expect(audio).toMatchObject({ sampleRate: 16000, channels: 2 });
    expect(Array.from(audio.samples)).toEqual(written);
    const bytes = readFileSync(path);
    expect(bytes.readUInt32LE(4)).toBe(bytes.length - 8);
    expect(bytes.readUInt32LE(40)).toBe(36);
  });

  it('fails at create() for a path that cannot be written', async () => {
    await expect(
      WavFileWriter.create(join(dir, 'no', 'such.wav'), 8000, 1, fail),
    ).rejects.toMatchObject({
      code: 'ENOENT',
    });
  });
});
