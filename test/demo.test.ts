/**
 * `npm run demo` as a newcomer runs it (issue 8): the demo script in a child process with no sound server in its
 * environment, so it starts its own private one with the virtual room (--rig makes sure of it even where a real
 * sound server runs), and must stop it again. Checked from what it leaves behind, not from what it prints:
 * - the WAVs read back: the published audio with echo cancellation off is the microphone, sample for sample;
 *   with it on, the echo is gone from the published audio (ERLE computed here, from the WAVs) while the near-end
 *   talker, alone, keeps its level;
 * - the plot is a well-formed SVG with both panels and their four curves, one point per 50 ms;
 * - no sound server or talker process is left behind.
 * The figures it prints are checked against the same bounds (ERLE off within 1 dB of 0, on >= 25 dB).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readWav } from '../src/index.js';
import { bestLag } from './support/aec_rig.js';
import { rmsDbfs } from './support/signal.js';

const RATE = 48000;
let dir: string;
let result: { code: number | null; out: string; err: string; pid: number };

/** Processes whose command line mentions `text`. */
function processesMentioning(text: string): string[] {
  const found: string[] = [];
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
      if (cmdline.includes(text)) found.push(`${pid}: ${cmdline}`);
    } catch {
      // the process ended while we looked
    }
  }
  return found;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'lk-demo-'));
  const env = { ...process.env };
  for (const name of Object.keys(env)) {
    if (name.startsWith('PULSE_') || name.startsWith('LK_RIG_') || name.startsWith('LK_AUDIO_RIG'))
      delete env[name];
  }
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', 'demo/voice_loop.ts', '--rig', '--json', '--out', dir],
    { env, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  result = { code, out, err, pid: child.pid! };
}, 120_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Summary {
  setting: string;
  files: string[];
  passes: {
    aec: boolean;
    erleDb: number;
    nearEnd: { aloneLossDb: number; startS: number; endS: number };
    alignment: { published: number };
  }[];
}

describe('npm run demo', () => {
  it('exits 0 on its own private sound server and stops it', () => {
    expect(result.code, result.err).toBe(0);
    const summary = JSON.parse(result.out) as Summary;
    expect(summary.setting).toBe('virtual-room');
    expect(processesMentioning(`demo-${result.pid}`)).toEqual([]);
    expect(existsSync(join('.rig', `demo-${result.pid}`))).toBe(false);
  });

  it('reports ERLE near 0 dB without echo cancellation and >= 25 dB with it', () => {
    const { passes } = JSON.parse(result.out) as Summary;
    expect(passes.map((p) => p.aec)).toEqual([false, true]);
    expect(Math.abs(passes[0]!.erleDb)).toBeLessThan(1);
    expect(passes[1]!.erleDb).toBeGreaterThanOrEqual(25);
    // Both passes lined up what was published with the microphone (exactly, without processing).
    expect(passes[0]!.alignment.published).toBeGreaterThan(0.999);
    expect(passes[1]!.alignment.published).toBeGreaterThan(0.5);
    // The talker alone keeps its level with echo cancellation on (checked from the WAVs below as well).
    expect(Math.abs(passes[1]!.nearEnd.aloneLossDb)).toBeLessThan(3);
  });

  it('publishes the microphone unchanged without echo cancellation (from the WAVs)', async () => {
    const mic = (await readWav(join(dir, 'microphone_aec_off.wav'))).samples;
    const published = await readWav(join(dir, 'published_aec_off.wav'));
    expect(published.sampleRate).toBe(RATE);
    expect(published.channels).toBe(1);
    // Find where the published audio starts in the microphone's recording, from a loud second of it.
    const at = 4 * RATE;
    const snippet = published.samples.subarray(at, at + RATE / 2);
    // The published audio starts within a second of the microphone's recording, or up to 100 ms before it: the
    // pass's capture and its tap are two streams on one microphone, and either may get its first audio first.
    const { lag, correlation } = bestLag(snippet, mic, at - RATE / 10, at + RATE);
    expect(correlation).toBeGreaterThan(0.999);
    const offset = lag - at;
    let differing = 0;
    const end = Math.min(published.samples.length, mic.length - offset) - RATE;
    for (let i = RATE; i < end; i++) if (published.samples[i] !== mic[i + offset]) differing++;
    expect(differing).toBe(0);
    expect(end - RATE).toBeGreaterThan(8 * RATE);
  });

  it('removes the echo and keeps the near-end talker with echo cancellation (from the WAVs)', async () => {
    const { passes } = JSON.parse(result.out) as Summary;
    const mic = (await readWav(join(dir, 'microphone_aec_on.wav'))).samples;
    const published = (await readWav(join(dir, 'published_aec_on.wav'))).samples;
    const near = (await readWav(join(dir, 'near_end.wav'))).samples;
    // Align the published audio on the microphone through the talker, whom the canceller lets through.
    const nearAt = mic.length - RATE * 2;
    // mic[nearAt + i] ~ published[i + lag], and the published audio starts within a second of the microphone's,
    // or up to 100 ms before it (as above).
    const { lag, correlation } = bestLag(
      mic.subarray(nearAt, nearAt + RATE / 2),
      published,
      nearAt - RATE,
      nearAt + RATE / 10,
    );
    expect(correlation).toBeGreaterThan(0.8);
    const offset = nearAt - lag; // mic[i] ~ published[i - offset]
    const level = (x: Int16Array, from: number, to: number): number => rmsDbfs(x, from, to);
    // Echo alone: the far end's first half, from 2 s in, before the talker joins.
    const farStart = RATE; // the far end starts ~0.5-1 s into the recording
    const nearStartS = passes[1]!.nearEnd.startS;
    const echoFrom = farStart + 2 * RATE;
    const echoTo = Math.round(farStart + (nearStartS - 0.5) * RATE);
    const micEcho = level(mic, echoFrom, echoTo);
    const publishedEcho = level(published, echoFrom - offset, echoTo - offset);
    expect(micEcho).toBeGreaterThan(-40);
    expect(micEcho - publishedEcho).toBeGreaterThanOrEqual(25);
    // The talker alone: the last second, after the far end and its echo ended.
    const talkerFrom = mic.length - 1.6 * RATE;
    const talkerTo = mic.length - 0.8 * RATE;
    const micTalker = level(mic, talkerFrom, talkerTo);
    expect(micTalker).toBeGreaterThan(-40);
    expect(
      Math.abs(level(published, talkerFrom - offset, talkerTo - offset) - micTalker),
    ).toBeLessThan(3);
    expect(near.length).toBeGreaterThan(3 * RATE);
  });

  it('draws a well-formed SVG with both passes and their four curves', () => {
    const svg = readFileSync(join(dir, 'levels.svg'), 'utf8');
    expect(XMLValidator.validate(svg)).toBe(true);
    const doc = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '' }).parse(svg) as {
      svg: { g: { 'data-title': string; polyline: { 'data-curve': string; points: string }[] }[] };
    };
    const panels = doc.svg.g;
    expect(panels).toHaveLength(2);
    expect(panels[0]!['data-title']).toMatch(/off/);
    expect(panels[1]!['data-title']).toMatch(/on/);
    for (const panel of panels) {
      const curves = panel.polyline.map((p) => p['data-curve']);
      expect(curves).toEqual(['far', 'microphone', 'nearEnd', 'published']);
      for (const curve of panel.polyline) {
        const points = curve.points.split(' ').map((p) => p.split(',').map(Number));
        // One point per 50 ms over the whole pass (~11 s), all inside the drawing.
        expect(points.length).toBeGreaterThan(150);
        for (const [x, y] of points) {
          expect(x).toBeGreaterThan(0);
          expect(x).toBeLessThan(960);
          expect(y).toBeGreaterThan(0);
        }
        // A curve that goes up and down: not a flat line.
        const ys = points.map((p) => p[1]!);
        expect(Math.max(...ys) - Math.min(...ys)).toBeGreaterThan(50);
      }
    }
  });
});
