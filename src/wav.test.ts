import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { WavFormatError } from './errors.js';
import { decodeWav, encodeWav, readWav, writeWav } from './wav.js';

const dir = mkdtempSync(join(tmpdir(), 'wav-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Runs sox with a null input and a half-scale signal (so no dither clipping). */
function sox(args: readonly string[]): void {
  execFileSync('sox', ['-n', ...args, 'vol', '0.5']);
}

function ramp(length: number): Int16Array {
  const out = new Int16Array(length);
  for (let i = 0; i < length; i++) out[i] = ((i * 7919) % 65536) - 32768;
  return out;
}

describe('WAV', () => {
  it('round-trips 16-bit PCM through a file, mono and multichannel, any rate', async () => {
    for (const [sampleRate, channels] of [
      [8000, 1],
      [44100, 2],
      [22050, 3],
      [96000, 6],
    ] as const) {
      const samples = ramp(channels * 1001);
      const path = join(dir, `rt-${sampleRate}-${channels}.wav`);
      await writeWav(path, { sampleRate, channels, samples });
      const back = await readWav(path);
      expect(back.sampleRate).toBe(sampleRate);
      expect(back.channels).toBe(channels);
      expect(Array.from(back.samples)).toEqual(Array.from(samples));
    }
  });

  it('writes files that sox reads as the same audio', () => {
    const path = join(dir, 'for-sox.wav');
    writeFileSync(path, encodeWav({ sampleRate: 16000, channels: 2, samples: ramp(3200) }));
    const info = execFileSync('soxi', [path], { encoding: 'utf8' });
    expect(info).toMatch(/Channels\s*:\s*2/);
    expect(info).toMatch(/Sample Rate\s*:\s*16000/);
    expect(info).toMatch(/1600 samples/);
    const raw = execFileSync('sox', [path, '-t', 'raw', '-e', 'signed', '-b', '16', '-L', '-']);
    const fromSox = new Int16Array(raw.buffer, raw.byteOffset, raw.byteLength / 2);
    expect(Array.from(fromSox)).toEqual(Array.from(ramp(3200)));
  });

  it('reads WAVE_FORMAT_EXTENSIBLE files, extra chunks and odd-sized chunks', () => {
    // sox writes WAVE_FORMAT_EXTENSIBLE for more than two channels.
    const path = join(dir, 'ext.wav');
    sox(['-r', '48000', '-c', '4', '-b', '16', path, 'synth', '0.1', 'sine', '440']);
    const bytes = readFileSync(path);
    expect(bytes.readUInt16LE(20)).toBe(0xfffe);
    const audio = decodeWav(bytes);
    expect(audio).toMatchObject({ sampleRate: 48000, channels: 4 });
    expect(audio.samples.length).toBe(4800 * 4);

    // A 3-byte LIST chunk (padded to 4) between fmt and data.
    const plain = encodeWav({ sampleRate: 8000, channels: 1, samples: ramp(10) });
    const extra = new Uint8Array(
      [...'LIST'].map((c) => c.charCodeAt(0)).concat([3, 0, 0, 0, 1, 2, 3, 0]),
    );
    const withList = new Uint8Array(plain.length + extra.length);
    withList.set(plain.subarray(0, 36));
    withList.set(extra, 36);
    withList.set(plain.subarray(36), 36 + extra.length);
    expect(Array.from(decodeWav(withList).samples)).toEqual(Array.from(ramp(10)));
  });

  it('cuts a data chunk that claims more than the file holds to whole frames', () => {
    const bytes = encodeWav({ sampleRate: 8000, channels: 2, samples: ramp(20) });
    const view = new DataView(bytes.buffer);
    view.setUint32(40, 0xffffffff, true);
    const audio = decodeWav(bytes.subarray(0, bytes.length - 2));
    expect(audio.samples.length).toBe(18);
  });

  it('reads 8/16/24/32-bit integer and 32-bit float PCM as sox converts them to 16 bits, plain and extensible', () => {
    for (const [channels, args] of [
      [1, ['-b', '8']],
      [2, ['-b', '16']],
      [1, ['-b', '24']],
      [2, ['-b', '32']],
      [1, ['-e', 'floating-point', '-b', '32']],
      // sox writes WAVE_FORMAT_EXTENSIBLE for more than two channels.
      [3, ['-b', '24']],
      [4, ['-e', 'floating-point', '-b', '32']],
    ] as const) {
      const path = join(dir, `enc-${channels}${args.join('')}.wav`);
      sox(['-r', '22050', '-c', String(channels), ...args, path, 'synth', '0.05', 'sine', '440']);
      const audio = decodeWav(readFileSync(path));
      const raw = execFileSync('sox', [
        '-D',
        path,
        '-t',
        'raw',
        '-e',
        'signed',
        '-b',
        '16',
        '-L',
        '-',
      ]);
      const fromSox = new Int16Array(raw.buffer, raw.byteOffset, raw.byteLength / 2);
      const label = `${channels} ch ${args.join(' ')}`;
      expect(audio, label).toMatchObject({ sampleRate: 22050, channels });
      expect(audio.samples.length, label).toBe(fromSox.length);
      expect(fromSox.length, label).toBe(1103 * channels);
      let worst = 0;
      for (let i = 0; i < fromSox.length; i++)
        worst = Math.max(worst, Math.abs(audio.samples[i]! - fromSox[i]!));
      // sox and the reader may round a half step apart; the half-scale sine is far above that.
      expect(worst, label).toBeLessThanOrEqual(1);
      expect(Math.max(...audio.samples), label).toBeGreaterThan(16000);
    }
  });

  it('clips float samples beyond full scale', () => {
    // A 16-bit header for 8 bytes of data, turned into 32-bit float.
    const data = new Uint8Array(52);
    data.set(encodeWav({ sampleRate: 8000, channels: 1, samples: new Int16Array(4) }));
    const view = new DataView(data.buffer);
    view.setUint16(20, 3, true); // WAVE_FORMAT_IEEE_FLOAT
    view.setUint16(32, 4, true); // block align
    view.setUint16(34, 32, true); // bits per sample
    view.setFloat32(44, 1.5, true);
    view.setFloat32(48, -2, true);
    expect(Array.from(decodeWav(data).samples)).toEqual([32767, -32768]);
  });

  it('rejects other encodings and malformed files with WavFormatError', async () => {
    for (const [args, pattern] of [
      [['-e', 'floating-point', '-b', '64'], /format 3 with 64 bits/],
      [['-e', 'u-law'], /format 7 with 8 bits/],
    ] as const) {
      const path = join(dir, `bad-${args.join('')}.wav`);
      sox(['-r', '8000', '-c', '1', ...args, path, 'synth', '0.01', 'sine', '440']);
      const error = await readWav(path).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(WavFormatError);
      expect((error as Error).message).toMatch(pattern);
      expect((error as Error).message).toContain(path);
    }
    expect(() => decodeWav(new TextEncoder().encode('ID3 this is an mp3'))).toThrow(WavFormatError);
    const noData = encodeWav({
      sampleRate: 8000,
      channels: 1,
      samples: new Int16Array(0),
    }).subarray(0, 36);
    expect(() => decodeWav(noData)).toThrow(/no data chunk/);
    expect(() => encodeWav({ sampleRate: 8000, channels: 2, samples: ramp(3) })).toThrow(
      WavFormatError,
    );
  });
});
