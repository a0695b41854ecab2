/**
 * lk-audio against the rig, run as a user runs it (a child process): `play` is heard on the speaker's monitor,
 * `record` writes what was played into the microphone, bad command lines exit with status 2.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readWav, writeWav } from '../src/index.js';
import { sleep } from './support/device_io.js';
import { playIntoSink, rigChildEnv, rigEnv, startEchoPath, startRecording } from './support/rig.js';
import {
  dominantFrequencyHz,
  firstSampleAbove,
  sineInt16,
  sineRmsDbfs,
  toneLevelDbfs,
} from './support/signal.js';

const rig = rigEnv();
let dir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'lk-cli-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Runs lk-audio from the sources; resolves with its exit status and output. */
function lkAudio(...args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
    env: rigChildEnv(),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  return new Promise((resolve) => child.on('exit', (code) => resolve({ code, out, err })));
}

describe('lk-audio', () => {
  it('play: a 44.1 kHz stereo WAV is heard whole, at its level, on the chosen speaker', async () => {
    const rate = 44100;
    const mono = sineInt16(700, rate, rate * 1.5, -12);
    const stereo = new Int16Array(mono.length * 2);
    for (let i = 0; i < mono.length; i++) stereo[2 * i] = stereo[2 * i + 1] = mono[i]!;
    const file = join(dir, 'tone.wav');
    await writeWav(file, { sampleRate: rate, channels: 2, samples: stereo });
    const recording = await startRecording(`${rig.speakerA}.monitor`);
    let heard: Int16Array;
    let result: Awaited<ReturnType<typeof lkAudio>>;
    try {
      result = await lkAudio('play', file, '--device', rig.speakerA);
      await sleep(100);
    } finally {
      heard = await recording.stop();
    }
    expect(result.code, result.err).toBe(0);
    expect(result.out).toMatch(/^played 1\.50 s on .*\[lk_speaker_a\]/);
    const threshold = (32768 * 10 ** (-12 / 20)) / 4;
    const first = firstSampleAbove(heard, threshold);
    let last = heard.length - 1;
    while (last > first && Math.abs(heard[last]!) < threshold) last--;
    expect(first).toBeGreaterThanOrEqual(0);
    // 1.5 s of tone, heard as long (to 10 ms), at 700 Hz and its level.
    expect(Math.abs((last - first) / 48000 - 1.5)).toBeLessThan(0.01);
    const steady = heard.subarray(first + 4800, last - 4800);
    expect(Math.abs(toneLevelDbfs(steady, 48000, 700) - sineRmsDbfs(-12))).toBeLessThan(0.5);
    expect(Math.abs(dominantFrequencyHz(steady, 48000, 100, 2400) - 700)).toBeLessThan(1);
  });

  it('record: writes what was played into the microphone, as long as asked, at the asked rate', async () => {
    const file = join(dir, 'mic.wav');
    const tone = sineInt16(1000, 48000, 48000 * 5, -10);
    const recording = lkAudio(
      'record',
      file,
      '--device',
      rig.micA,
      '--seconds',
      '1.5',
      '--rate',
      '16000',
    );
    const playing = playIntoSink(rig.micAFeed, tone, { rate: 48000, channels: 1 });
    const result = await recording;
    await playing;
    expect(result.code, result.err).toBe(0);
    expect(result.out).toMatch(/^recorded 1\.50 s from .*\[lk_mic_a\]/);
    const wav = await readWav(file);
    expect(wav.sampleRate).toBe(16000);
    expect(wav.channels).toBe(1);
    expect(wav.samples.length).toBe(24000);
    // The tone fills the end of the recording (the start may precede it: the capture opens while pacat starts).
    const end = wav.samples.subarray(wav.samples.length - 8000);
    expect(Math.abs(toneLevelDbfs(end, 16000, 1000) - sineRmsDbfs(-10))).toBeLessThan(0.5);
  });

  it('meters: one line per 100 ms, reading a tone played into the microphone at its RMS and peak', async () => {
    const tone = sineInt16(1000, 48000, 48000 * 5, -10);
    const metering = lkAudio('meters', '--device', rig.micA, '--seconds', '1.5', '--json');
    const playing = playIntoSink(rig.micAFeed, tone, { rate: 48000, channels: 1 });
    const result = await metering;
    await playing;
    expect(result.code, result.err).toBe(0);
    const lines = result.out
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { seconds: number; rmsDbfs: number; peakDbfs: number });
    expect(lines.map((l) => l.seconds)).toEqual(
      Array.from({ length: 15 }, (_, i) => Math.round((i + 1) * 10) / 100),
    );
    // The tone fills the last lines (the first may precede it: the capture opens while pacat starts).
    const last = lines.at(-1)!;
    expect(Math.abs(last.rmsDbfs - sineRmsDbfs(-10))).toBeLessThan(0.2);
    expect(Math.abs(last.peakDbfs - -10)).toBeLessThan(0.2);
  });

  it('meters: Ctrl-C ends it cleanly, with status 0', async () => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', 'src/cli/main.ts', 'meters', '--device', rig.micA, '--json'],
      { env: rigChildEnv(), stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let lines = 0;
    child.stdout.on('data', (d: Buffer) => {
      lines += d.toString().split('\n').length - 1;
      if (lines >= 3) child.kill('SIGINT');
    });
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect(lines).toBeGreaterThanOrEqual(3);
    expect(code).toBe(0);
  });

  it('echo-test: reports the echo return of the room and an ERLE of at least 20 dB', async () => {
    // A room from the rig: speaker A's monitor -> 80 ms, -9 dB -> microphone A's feed.
    const path = await startEchoPath({
      from: `${rig.speakerA}.monitor`,
      to: rig.micAFeed,
      delayMs: 80,
      gainDb: -9,
    });
    let result: Awaited<ReturnType<typeof lkAudio>>;
    try {
      result = await lkAudio(
        'echo-test',
        '--input',
        rig.micA,
        '--output',
        rig.speakerA,
        '--seconds',
        '5',
        '--json',
      );
    } finally {
      await path.stop();
    }
    expect(result.code, result.err).toBe(0);
    const report = JSON.parse(result.out) as { echoReturnDb: number; erleDb: number };
    console.log(`echo-test: ${result.out.trim()}`);
    expect(Math.abs(report.echoReturnDb - -9)).toBeLessThan(1);
    expect(report.erleDb).toBeGreaterThanOrEqual(20);
  });

  it('bad command lines exit with status 2, one line and a hint', async () => {
    for (const args of [
      ['play'],
      ['record', 'x.wav', '--seconds', '0'],
      ['record', 'x.wav', '--bogus'],
      ['meters', '--interval-ms', '15'],
      ['echo-test', '--seconds', '2'],
      ['nonsense'],
    ]) {
      const result = await lkAudio(...args);
      expect(result.code, args.join(' ')).toBe(2);
      expect(result.err.trim().split('\n'), result.err).toHaveLength(2);
      expect(result.err).toMatch(/^lk-audio[^\n]*: .+\n.*(--help|lk-audio devices|WAV)/);
    }
  });
});
