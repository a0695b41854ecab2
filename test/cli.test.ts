/**
 * lk-audio against the rig, run as a user runs it: the built binary (bin/lk-audio.js, which loads dist/cli/main.js) as a child process. Its
 * exit status and output are checked, JSON parsed, WAVs read back, and what it plays recorded from the speakers'
 * monitors. Build first (`bash scripts/setup.sh`, or `npx tsup`): a binary older than its sources fails the run.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import {
  existsSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readWav, writeWav } from '../src/index.js';
import { sleep } from './support/device_io.js';
import {
  pactl,
  playIntoSink,
  recordFromSource,
  rigChildEnv,
  rigEnv,
  rigRoom,
  startRecording,
} from './support/rig.js';
import { speech } from './support/aec_rig.js';
import { heardTone } from './support/continuity.js';
import {
  dominantFrequencyHz,
  mixInt16,
  rmsDbfs,
  scaleToRmsDbfs,
  sineInt16,
  sineRmsDbfs,
  toneLevelDbfs,
  whiteNoiseInt16,
} from './support/signal.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const BINARY = join(ROOT, 'bin/lk-audio.js');
/** What the binary runs: the build of src/cli. */
const BUILD = join(ROOT, 'dist/cli/main.js');
const COMMANDS = [
  'devices',
  'tone',
  'play',
  'record',
  'meters',
  'loopback',
  'echo-test',
  'aec',
  'join',
];

const rig = rigEnv();
const room = rigRoom();
let dir: string;

/** Newest modification time (ms) of the files under `path`. */
function newest(path: string): number {
  const s = statSync(path);
  if (!s.isDirectory()) return s.mtimeMs;
  return Math.max(0, ...readdirSync(path).map((name) => newest(join(path, name))));
}

beforeAll(() => {
  if (!existsSync(BUILD) || statSync(BUILD).mtimeMs < newest(join(ROOT, 'src'))) {
    throw new Error(
      `${BUILD} is missing or older than src/: run bash scripts/setup.sh (or npx tsup)`,
    );
  }
  dir = mkdtempSync(join(tmpdir(), 'lk-cli-'));
});
afterAll(() => {
  for (const child of running) child.kill('SIGKILL');
  if (dir) rmSync(dir, { recursive: true, force: true });
});

interface Run {
  code: number | null;
  out: string;
  err: string;
}

/** Starts lk-audio (the built binary) with the rig's environment. */
/** Children still running: a test that timed out never reached its own kill, so afterAll stops them. */
const running = new Set<ChildProcess>();

function startLkAudio(args: string[]): ChildProcess & { result: Promise<Run> } {
  const child = spawn(process.execPath, [BINARY, ...args], {
    env: rigChildEnv(),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);
  child.once('exit', () => running.delete(child));
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const result = new Promise<Run>((resolve) =>
    child.on('close', (code) => resolve({ code, out, err })),
  );
  return Object.assign(child, { result });
}

/** Runs lk-audio to its end; resolves with its exit status and output. */
function lkAudio(...args: string[]): Promise<Run> {
  return startLkAudio(args).result;
}

/** Runs lk-audio in a pseudo-terminal (util-linux `script`), as on a user's terminal; resolves with what it drew. */
function lkAudioOnTerminal(...args: string[]): string {
  const command = [process.execPath, BINARY, ...args].map((a) => `'${a}'`).join(' ');
  return execFileSync('script', ['-qec', command, '/dev/null'], {
    env: rigChildEnv(),
    encoding: 'utf8',
  });
}

/** Resolves once `path` holds at least `bytes` bytes. */
async function fileGrows(path: string, bytes: number): Promise<void> {
  while (!existsSync(path) || statSync(path).size < bytes) await sleep(20);
}

/**
 * Asserts that `heard` holds one `hz` tone of peak `peakDbfs`, `lengthMs` long: sounding for that long to 10 ms, at
 * its level (0.5 dB) in every 20 ms window without a gap, at its pitch (1 Hz). The CLI plays pulled audio, which is
 * never dropped: a stall of the child delays the rest and the tone still sounds for its whole length. Gaps are
 * printed, not bounded, here: the child's event loop cannot be watched from this process, and the player's
 * continuity is judged against the starvation that explains it in output_player.test.ts.
 */
function expectToneHeard(heard: Int16Array, hz: number, peakDbfs: number, lengthMs: number): void {
  const tone = heardTone(heard, 48000, hz, peakDbfs);
  expect(tone, `no ${hz} Hz tone heard`).toBeDefined();
  const { first, last, soundingMs, windows, gapless } = tone!;
  const what =
    `${hz} Hz tone: sounded ${soundingMs} ms of ${lengthMs} over ${((last - first) / 48).toFixed(1)} ms; ` +
    `${windows.windows} windows of 20 ms, ${windows.gapped} with a gap (${windows.silentMs} ms silent), ` +
    `worst level ${windows.worstDeviationDb.toFixed(2)} dB off`;
  if (windows.gapped > 0) console.log(what);
  expect(Math.abs(soundingMs - lengthMs), what).toBeLessThanOrEqual(10);
  expect(windows.levelsDbfs.length, what).toBeGreaterThan(windows.windows / 2);
  expect(windows.worstDeviationDb, what).toBeLessThan(0.5);
  // The pitch where no gap shifted the tone's phase.
  expect(gapless.to - gapless.from, what).toBeGreaterThanOrEqual(48000 / 5);
  const pitch = dominantFrequencyHz(heard.subarray(gapless.from, gapless.to), 48000, 100, 2400);
  expect(Math.abs(pitch - hz), what).toBeLessThan(1);
}

describe('lk-audio help and versions', () => {
  it('with no arguments and with --help prints the overview of every command, exit 0', async () => {
    for (const args of [[], ['--help'], ['help']]) {
      const result = await lkAudio(...args);
      expect(result.code, args.join(' ')).toBe(0);
      expect(result.out).toMatch(/^Usage: lk-audio /);
      for (const command of COMMANDS) expect(result.out).toContain(`\n  ${command} `);
    }
  });

  it('<command> --help and help <command> print the same usage of that command, exit 0', async () => {
    for (const command of COMMANDS) {
      const [flag, word] = await Promise.all([
        lkAudio(command, '--help'),
        lkAudio('help', command),
      ]);
      expect(flag.code, command).toBe(0);
      expect(word.code, command).toBe(0);
      expect(flag.out).toMatch(new RegExp(`^Usage: lk-audio ${command} `));
      expect(word.out).toBe(flag.out);
      // Fits an 80-column terminal.
      for (const line of flag.out.split('\n')) expect(line.length, line).toBeLessThanOrEqual(80);
    }
  });

  it('--version prints the package version', async () => {
    const { version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
      version: string;
    };
    const result = await lkAudio('--version');
    expect(result.code).toBe(0);
    expect(result.out.trim()).toBe(version);
  });
});

describe('lk-audio bad command lines', () => {
  it('exit with status 2, one line that says what is wrong, and a hint', async () => {
    const notWav = join(dir, 'notes.txt');
    writeFileSync(notWav, 'not audio');
    const cases: [string[], RegExp, RegExp][] = [
      [['nonsense'], /^lk-audio: unknown command 'nonsense'/, /lk-audio --help/],
      [['help', 'nonsense'], /^lk-audio help: unknown command 'nonsense'/, /lk-audio --help/],
      [
        ['recrd'],
        /^lk-audio: unknown command 'recrd' \(Did you mean record\?\)$/,
        /lk-audio --help/,
      ],
      [['play'], /^lk-audio play: missing required argument 'file\.wav'/, /lk-audio play --help/],
      [['play', join(dir, 'missing.wav')], /missing\.wav: no such file$/m, /WAV file/],
      [['play', notWav], /notes\.txt: not a WAV file/, /WAV file/],
      [
        ['record', 'x.wav', '--seconds', '0'],
        /--seconds 0: must be a number more than 0 s and at most 86400 s/,
        /--help/,
      ],
      [['record', 'x.wav', '--seconds', 'five'], /--seconds five: must be a number/, /--help/],
      [['record', 'x.wav', '--bogus'], /unknown option '--bogus'/, /lk-audio record --help/],
      [
        ['record', join(dir, 'no/such/dir.wav'), '--seconds', '1'],
        /cannot write .*: no such directory/,
        /path/,
      ],
      [
        ['record', 'x.wav', '--device', '2'],
        /--device 2 is an output device \(.*\[lk_speaker_a\]\), not an input/,
        /lk-audio devices/,
      ],
      [['play', notWav, '--device', 'lk_mic_b'], /not a WAV file/, /WAV/],
      [
        ['tone', '--device', 'lk_speaker_a.monitor'],
        /--device lk_speaker_a\.monitor is an input device .*not an output/,
        /lk-audio devices/,
      ],
      [
        ['meters', '--device', 'Virtual'],
        /--device Virtual matches \d+ input devices/,
        /lk-audio devices/,
      ],
      [
        ['meters', '--device', 'no-such-mic'],
        /no input device matches --device no-such-mic/,
        /lk-audio devices/,
      ],
      [
        ['meters', '--interval-ms', '15'],
        /--interval-ms 15: must be a multiple of 10 ms/,
        /--help/,
      ],
      [
        ['record', 'x.wav', '--device', rig.micStereo, '--channel', '2'],
        /--channel 2: lk_mic_stereo has 2 input channels/,
        /--help/,
      ],
      [['echo-test', '--seconds', '2'], /--seconds 2: must be a number from 3 to 600 s/, /--help/],
      [['aec', '--mic', notWav], /required option '--far/, /lk-audio aec --help/],
      [
        ['aec', '--mic', 'a.wav', '--far', 'b.wav', '--out', 'c.wav', '--delay-ms', '9999'],
        /--delay-ms 9999: must be a number from 0 to 500 ms/,
        /--help/,
      ],
    ];
    for (const [args, message, hint] of cases) {
      const result = await lkAudio(...args);
      const lines = result.err.trim().split('\n');
      expect(result.code, args.join(' ')).toBe(2);
      expect(lines, result.err).toHaveLength(2);
      expect(lines[0], args.join(' ')).toMatch(message);
      expect(lines[1], args.join(' ')).toMatch(hint);
      expect(result.out).toBe('');
    }
    // A bad output path fails before recording: no file appears anywhere on the way.
    expect(existsSync(join(dir, 'no'))).toBe(false);
  });
});

describe('lk-audio devices', () => {
  it('prints a table with a header row, in 80 columns, the rig devices and defaults marked', async () => {
    const result = await lkAudio('devices');
    expect(result.code, result.err).toBe(0);
    const lines = result.out.trimEnd().split('\n');
    for (const line of lines) expect(line.length, line).toBeLessThanOrEqual(80);
    expect(lines[0]).toMatch(/^\s+#\s+ID\s+INPUT\s+CH\s+KHZ\s+API$/);
    expect(lines).toContainEqual(expect.stringMatching(/^\s+#\s+ID\s+OUTPUT\s+CH\s+KHZ\s+API$/));
    expect(lines).toContainEqual(
      expect.stringMatching(
        /^[* ]\s+\d+\s+lk_mic_stereo\s+Virtual Stereo Mic\S*\s+2\s+48\s+PulseAudio$/,
      ),
    );
    expect(lines).toContainEqual(
      expect.stringMatching(
        /^[* ]\s+\d+\s+lk_speaker_b\s+Virtual Speaker B\s+2\s+48\s+PulseAudio$/,
      ),
    );
    // One default input and one default output.
    expect(lines.filter((l) => /^\*\s+\d+ /.test(l))).toHaveLength(2);
  });

  it('--json gives both lists, latencies rounded to 0.1 ms', async () => {
    const result = await lkAudio('devices', '--json');
    expect(result.code, result.err).toBe(0);
    const { inputs, outputs } = JSON.parse(result.out) as Record<
      'inputs' | 'outputs',
      Record<string, unknown>[]
    >;
    expect(inputs.map((d) => d.id)).toContain(rig.micA);
    expect(outputs.map((d) => d.id)).toContain(rig.speakerA);
    for (const d of [...inputs, ...outputs]) {
      for (const key of Object.keys(d).filter((k) => k.endsWith('LatencyMs'))) {
        const ms = d[key] as number;
        expect(Math.round(ms * 10) / 10, `${String(d.id)} ${key}`).toBe(ms);
      }
    }
  });

  it('--watch --json prints a device that comes and goes, and ends with status 0 on Ctrl-C', async () => {
    const child = startLkAudio(['devices', '--watch', '--json']);
    const sink = 'lk_cli_watch_probe';
    const changes: { change: string; kind: string; id: string; name: string }[] = [];
    let partial = '';
    let onChange = (): void => {};
    child.stdout!.on('data', (d: Buffer) => {
      const lines = (partial + d.toString()).split('\n');
      partial = lines.pop()!;
      for (const line of lines) changes.push(JSON.parse(line) as (typeof changes)[number]);
      onChange();
    });
    const seen = (change: string) =>
      new Promise<void>((resolve) => {
        onChange = () => {
          if (changes.some((c) => c.change === change && c.id === sink)) resolve();
        };
        onChange();
      });
    // The watcher reads its first list when it starts listening; give it time to, so the sink is a change.
    await sleep(1500);
    let module: string | undefined;
    try {
      module = (await pactl('load-module', 'module-null-sink', `sink_name=${sink}`)).trim();
      await seen('added');
      await pactl('unload-module', module);
      module = undefined;
      await seen('removed');
    } finally {
      if (module !== undefined) await pactl('unload-module', module);
      child.kill('SIGINT');
    }
    const result = await child.result;
    expect(result.code, result.err).toBe(0);
    const probe = changes.filter((c) => c.id === sink);
    expect(probe).toEqual([
      { change: 'added', kind: 'output', id: sink, name: expect.any(String) },
      { change: 'removed', kind: 'output', id: sink, name: expect.any(String) },
    ]);
    // Its monitor, an input, came and went too.
    expect(changes.filter((c) => c.id === `${sink}.monitor`).map((c) => c.change)).toEqual([
      'added',
      'removed',
    ]);
  });
});

describe('lk-audio on the speakers', () => {
  it('tone: a 440 Hz tone at -20 dBFS is heard for its length on the chosen speaker', async () => {
    const recording = await startRecording(`${rig.speakerB}.monitor`);
    let heard: Int16Array;
    let result: Run;
    try {
      result = await lkAudio(
        'tone',
        '--device',
        rig.speakerB,
        '--freq',
        '440',
        '--seconds',
        '1',
        '--dbfs',
        '-20',
      );
      await sleep(100);
    } finally {
      heard = await recording.stop();
    }
    expect(result.code, result.err).toBe(0);
    expect(result.out).toMatch(
      /^played 440 Hz at -20 dBFS for 1 s on .*\[lk_speaker_b\] \(\d+ underruns\)/,
    );
    expectToneHeard(heard, 440, -20, 1000);
  });

  it('play: a 44.1 kHz stereo WAV is heard whole, at its level, with no progress drawn off a terminal', async () => {
    const rate = 44100;
    const mono = sineInt16(700, rate, rate * 1.5, -12);
    const stereo = new Int16Array(mono.length * 2);
    for (let i = 0; i < mono.length; i++) stereo[2 * i] = stereo[2 * i + 1] = mono[i]!;
    const file = join(dir, 'tone.wav');
    await writeWav(file, { sampleRate: rate, channels: 2, samples: stereo });
    const recording = await startRecording(`${rig.speakerA}.monitor`);
    let heard: Int16Array;
    let result: Run;
    try {
      result = await lkAudio('play', file, '--device', rig.speakerA);
      await sleep(100);
    } finally {
      heard = await recording.stop();
    }
    expect(result.code, result.err).toBe(0);
    expect(result.out).toMatch(/^played 1\.50 s on .*\[lk_speaker_a\] \(\d+ underruns\)\n$/);
    expect(result.err).toBe('');
    expectToneHeard(heard, 700, -12, 1500);
  });

  it('play on a terminal: one progress line on stderr, redrawn in place, within 80 columns', () => {
    const file = join(dir, 'short.wav');
    execFileSync('sox', [
      '-n',
      '-r',
      '16000',
      '-b',
      '24',
      file,
      'synth',
      '0.6',
      'sine',
      '300',
      'vol',
      '0.5',
    ]);
    const screen = lkAudioOnTerminal('play', file, '--device', rig.speakerB);
    const redraws = screen.split('\r').filter((part) => part.startsWith('playing'));
    expect(redraws.length).toBeGreaterThanOrEqual(2);
    for (const drawn of redraws) {
      // Each draw ends by clearing the rest of the line (ESC [ K).
      expect(drawn.endsWith('\u001b[K'), drawn).toBe(true);
      const line = drawn.slice(0, -3);
      expect(line).toMatch(/^playing\s+\d+\.\d s \/ 0\.6 s\s+[#.]{20}\s+(-\d+\.\d dBFS|silence)$/);
      expect(line.length).toBeLessThanOrEqual(80);
    }
    expect(screen).toMatch(/played 0\.60 s on .*\[lk_speaker_b\]/);
  });
});

describe('lk-audio on the microphones', () => {
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

  it('record: Ctrl-C ends it with status 0 and the WAV is valid and holds what was captured', async () => {
    const file = join(dir, 'interrupted.wav');
    const tone = sineInt16(500, 48000, 48000 * 4, -10);
    const child = startLkAudio(['record', file, '--device', rig.micA]);
    const playing = playIntoSink(rig.micAFeed, tone, { rate: 48000, channels: 1 });
    // 1 s of audio streamed to the file (44-byte header, then 2 bytes a sample).
    await fileGrows(file, 44 + 2 * 48000);
    child.kill('SIGINT');
    const result = await child.result;
    await playing;
    expect(result.code, result.err).toBe(0);
    const bytes = readFileSync(file);
    // The header was fixed up: RIFF and data sizes match the file.
    expect(bytes.readUInt32LE(4)).toBe(bytes.length - 8);
    expect(bytes.readUInt32LE(40)).toBe(bytes.length - 44);
    const wav = await readWav(file);
    const seconds = wav.samples.length / 48000;
    expect(seconds).toBeGreaterThanOrEqual(1);
    expect(result.out).toMatch(
      new RegExp(`^recorded ${seconds.toFixed(2)} s from .*\\[lk_mic_a\\]`),
    );
    const end = wav.samples.subarray(wav.samples.length - 9600);
    expect(Math.abs(toneLevelDbfs(end, 48000, 500) - sineRmsDbfs(-10))).toBeLessThan(0.5);
  });

  it('record --channel: takes the chosen channel of a stereo microphone', async () => {
    const frames = 48000 * 6;
    const left = sineInt16(500, 48000, frames, -10);
    const right = sineInt16(1500, 48000, frames, -10);
    const stereo = new Int16Array(frames * 2);
    for (let i = 0; i < frames; i++) [stereo[2 * i], stereo[2 * i + 1]] = [left[i]!, right[i]!];
    const files = [0, 1].map((c) => join(dir, `channel-${c}.wav`));
    const playing = playIntoSink(rig.micStereoFeed, stereo, { rate: 48000, channels: 2 });
    // Both channels at once, from two captures of the one microphone.
    const results = await Promise.all(
      files.map((file, channel) =>
        lkAudio(
          'record',
          file,
          '--device',
          rig.micStereo,
          '--channel',
          String(channel),
          '--seconds',
          '1.5',
        ),
      ),
    );
    await playing;
    for (const [channel, file] of files.entries()) {
      expect(results[channel]!.code, results[channel]!.err).toBe(0);
      const wav = await readWav(file);
      expect(wav.channels).toBe(1);
      // The tone fills the end of the recording (the start may precede it: the capture opens while pacat starts).
      const end = wav.samples.subarray(wav.samples.length - 24000);
      const want = [500, 1500][channel]!;
      expect(Math.abs(dominantFrequencyHz(end, 48000, 100, 3000) - want), file).toBeLessThan(2);
      expect(Math.abs(toneLevelDbfs(end, 48000, want) - sineRmsDbfs(-10)), file).toBeLessThan(0.5);
    }
  });

  it('record --aec --far: the far end played on the speaker is cancelled from the recording', async () => {
    // The rig's virtual room: its speaker echoes into its microphone 50 ms later, -9 dB, reverberant.
    const far = join(dir, 'far.wav');
    await writeWav(far, {
      sampleRate: 16000,
      channels: 1,
      samples: whiteNoiseInt16(16000 * 5, -20),
    });
    const files = { off: join(dir, 'echo-off.wav'), on: join(dir, 'echo-on.wav') };
    const results: Run[] = [];
    for (const [mode, file] of Object.entries(files)) {
      const aec = mode === 'on' ? ['--aec'] : [];
      results.push(
        await lkAudio(
          'record',
          file,
          '--device',
          room.mic,
          '--far',
          far,
          '--output',
          room.speaker,
          '--seconds',
          '4',
          ...aec,
        ),
      );
    }
    for (const r of results) expect(r.code, r.err).toBe(0);
    // From 2 s in (the canceller has converged) to the end of the far end.
    const level = async (file: string) =>
      rmsDbfs((await readWav(file)).samples, 48000 * 2, 48000 * 4);
    const off = await level(files.off);
    const on = await level(files.on);
    expect(off).toBeGreaterThan(-20 - 9 - 3);
    expect(off - on).toBeGreaterThanOrEqual(20);
  });

  it('record --hpf, --ns and --agc: each does what it names to what the microphone heard', async () => {
    // Three recordings, each of its own microphone and feed; each feed plays 10 s, long enough for a slow start
    // on a loaded machine, and each recording's last second(s) are judged, against what was played (an unflagged
    // recording is that, to the sample: see the record test above).
    const seconds = 10;
    const hum = mixInt16(
      sineInt16(50, 48000, 48000 * seconds, -20),
      sineInt16(1000, 48000, 48000 * seconds, -20),
    );
    const noise = whiteNoiseInt16(48000 * seconds, -45, 31);
    const words = await speech(
      dir,
      'cli-agc',
      'Gain control should bring this quiet talker up to a comfortable level within a few seconds.',
      'en',
    );
    const quiet = new Int16Array(48000 * seconds);
    for (let at = 0; at < quiet.length; at += words.length)
      quiet.set(words.subarray(0, quiet.length - at), at);
    const quietTalker = scaleToRmsDbfs(quiet, -40);
    // The talker into both channels of the stereo microphone; --channel 0 takes one.
    const stereoTalker = new Int16Array(quietTalker.length * 2);
    for (let i = 0; i < quietTalker.length; i++)
      stereoTalker[2 * i] = stereoTalker[2 * i + 1] = quietTalker[i]!;
    const files = { hpf: join(dir, 'hpf.wav'), ns: join(dir, 'ns.wav'), agc: join(dir, 'agc.wav') };
    // One at a time, each once its feed is heard on the microphone: three processes at once on a loaded 2-core
    // machine each ran four times slower than real time and dropped most of their frames.
    const recordWhilePlaying = async (
      feed: string,
      mic: string,
      samples: Int16Array,
      channels: number,
      args: string[],
    ) => {
      const playing = playIntoSink(feed, samples, { channels });
      for (let i = 0; i < 50; i++) {
        if (rmsDbfs(await recordFromSource(mic, 100, { channels })) > -70) break;
      }
      const result = await lkAudio('record', ...args);
      await playing;
      // (Under load the capture may drop frames, and says so in this line: the signals are steady, so the levels
      // judged below hold either way.)
      expect(result.code, result.err).toBe(0);
      console.log(result.out.trim());
    };
    await recordWhilePlaying(rig.micAFeed, rig.micA, hum, 1, [
      files.hpf,
      '--device',
      rig.micA,
      '--seconds',
      '3',
      '--hpf',
    ]);
    await recordWhilePlaying(rig.micBFeed, rig.micB, noise, 1, [
      files.ns,
      '--device',
      rig.micB,
      '--seconds',
      '3',
      '--ns',
    ]);
    await recordWhilePlaying(rig.micStereoFeed, rig.micStereo, stereoTalker, 2, [
      files.agc,
      '--device',
      rig.micStereo,
      '--channel',
      '0',
      '--seconds',
      '5',
      '--agc',
    ]);
    const lastSeconds = async (file: string, s: number) => {
      const wav = await readWav(file);
      return wav.samples.subarray(wav.samples.length - 48000 * s);
    };
    const hpf = await lastSeconds(files.hpf, 1);
    const humLevel = toneLevelDbfs(hpf, 48000, 50);
    const toneLevel = toneLevelDbfs(hpf, 48000, 1000);
    const ns = rmsDbfs(await lastSeconds(files.ns, 1));
    const agc = rmsDbfs(await lastSeconds(files.agc, 2));
    console.log(
      `record --hpf: 50 Hz ${humLevel.toFixed(1)} dBFS, 1 kHz ${toneLevel.toFixed(1)} dBFS (played ` +
        `${sineRmsDbfs(-20).toFixed(1)} each); --ns: white noise at -45 dBFS recorded at ${ns.toFixed(1)} dBFS; ` +
        `--agc: a talker at -40 dBFS recorded at ${agc.toFixed(1)} dBFS`,
    );
    // The high-pass filter: the hum 20 dB down or more, the tone untouched.
    expect(humLevel).toBeLessThanOrEqual(sineRmsDbfs(-20) - 20);
    expect(Math.abs(toneLevel - sineRmsDbfs(-20))).toBeLessThan(1);
    // Noise suppression: the noise 10 dB down or more.
    expect(ns).toBeLessThanOrEqual(-45 - 10);
    // Gain control: the quiet talker raised by 8 dB or more, and not past -16 dBFS.
    expect(agc).toBeGreaterThanOrEqual(-40 + 8);
    expect(agc).toBeLessThanOrEqual(-16);
  }, 120_000);

  it('meters: one line per 100 ms, reading a tone played into the microphone at its RMS and peak', async () => {
    const tone = sineInt16(1000, 48000, 48000 * 5, -10);
    const metering = lkAudio('meters', '--device', `[${rig.micA}]`, '--seconds', '1.5', '--json');
    const playing = playIntoSink(rig.micAFeed, tone, { rate: 48000, channels: 1 });
    const result = await metering;
    await playing;
    expect(result.code, result.err).toBe(0);
    const lines = result.out
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { seconds: number; rmsDbfs: number; peakDbfs: number });
    expect(lines.map((l) => l.seconds)).toEqual(Array.from({ length: 15 }, (_, i) => (i + 1) / 10));
    // The tone fills the last lines (the first may precede it: the capture opens while pacat starts).
    const last = lines.at(-1)!;
    expect(Math.abs(last.rmsDbfs - sineRmsDbfs(-10))).toBeLessThan(0.2);
    expect(Math.abs(last.peakDbfs - -10)).toBeLessThan(0.2);
  });

  it('meters: silence is null in JSON and "silence" in text lines', async () => {
    const [json, text] = await Promise.all([
      lkAudio('meters', '--device', rig.micB, '--seconds', '0.3', '--json'),
      lkAudio('meters', '--device', rig.micB, '--seconds', '0.3'),
    ]);
    expect(json.code, json.err).toBe(0);
    expect(
      json.out
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as unknown),
    ).toEqual([
      { seconds: 0.1, rmsDbfs: null, peakDbfs: null },
      { seconds: 0.2, rmsDbfs: null, peakDbfs: null },
      { seconds: 0.3, rmsDbfs: null, peakDbfs: null },
    ]);
    expect(text.code, text.err).toBe(0);
    const lines = text.out.trim().split('\n');
    expect(lines[0]).toMatch(/\[lk_mic_b\]/);
    expect(lines.slice(1)).toEqual(
      ['0.1', '0.2', '0.3'].map((s) => `${s.padStart(6)} s  ${'.'.repeat(36)}  silence`),
    );
  });

  it('meters on a terminal: a dBFS scale, then one line redrawn in place', () => {
    const screen = lkAudioOnTerminal('meters', '--device', rig.micB, '--seconds', '0.5');
    const lines = screen.split('\r\n');
    expect(lines[1]).toMatch(/^\s+-60\s+-50\s+-40\s+-30\s+-20\s+-10\s+0\s+dBFS/);
    // Five readings on one line: each drawn over the last with a carriage return, no new lines between them.
    expect(lines[2]!.split('\r').filter((p) => /^\s+0\.\d s /.test(p))).toHaveLength(5);
  });

  it('meters: Ctrl-C ends it cleanly, with status 0', async () => {
    const child = startLkAudio(['meters', '--device', rig.micA, '--json']);
    let lines = 0;
    child.stdout!.on('data', (d: Buffer) => {
      lines += d.toString().split('\n').length - 1;
      if (lines >= 3) child.kill('SIGINT');
    });
    const result = await child.result;
    expect(lines).toBeGreaterThanOrEqual(3);
    expect(result.code, result.err).toBe(0);
  });

  it('loopback: the microphone is heard on the speaker through the capture pipeline', async () => {
    const tone = sineInt16(1000, 48000, 48000 * 5, -10);
    const recording = await startRecording(`${rig.speakerB}.monitor`);
    let heard: Int16Array;
    let results: Run[];
    try {
      const playing = playIntoSink(rig.micBFeed, tone, { rate: 48000, channels: 1 });
      results = [
        await lkAudio(
          'loopback',
          '--input',
          rig.micB,
          '--output',
          rig.speakerB,
          '--seconds',
          '2',
          '--no-aec',
        ),
      ];
      await playing;
    } finally {
      heard = await recording.stop();
    }
    expect(results[0]!.code, results[0]!.err).toBe(0);
    expect(results[0]!.err).toMatch(/echo cancellation OFF/);
    expect(results[0]!.out).toMatch(/^looped .*\[lk_mic_b\] to .*\[lk_speaker_b\]/);
    // The tone came through at its level: every 20 ms window without a gap, and most windows have none. (A live
    // path: on a loaded machine the capture or the player can fall behind and drop, which the player's own tests
    // bound against the starvation that explains it; gaps are printed here.)
    const looped = heardTone(heard, 48000, 1000, -10);
    expect(looped, 'no 1000 Hz tone heard').toBeDefined();
    const w = looped!.windows;
    const what =
      `loopback: ${w.windows} windows of 20 ms, ${w.gapped} with a gap (${w.silentMs} ms silent), worst level ` +
      `${w.worstDeviationDb.toFixed(2)} dB off`;
    if (w.gapped > 0) console.log(what);
    expect(w.windows, what).toBeGreaterThan(50);
    expect(w.levelsDbfs.length, what).toBeGreaterThanOrEqual(w.windows / 2);
    expect(w.worstDeviationDb, what).toBeLessThan(0.5);
  });
});

describe('lk-audio echo cancellation', () => {
  it('echo-test: reports the echo return of the room and an ERLE of at least 20 dB, after a notice', async () => {
    // The rig's virtual room: its speaker echoes into its microphone 50 ms later, -9 dB, reverberant.
    const out = mkdtempSync(join(dir, 'echo-room-'));
    const result = await lkAudio(
      'echo-test',
      '--input',
      room.mic,
      '--output',
      room.speaker,
      '--seconds',
      '5',
      '--json',
      '--out-dir',
      out,
    );
    expect(result.code, result.err).toBe(0);
    expect(result.err).toMatch(/^echo-test: playing 5 s of noise bursts .* twice/);
    const report = JSON.parse(result.out) as {
      echoHeard: boolean;
      echoReturnDb: number;
      erleDb: number;
    };
    // Judged from the audio it kept, not from its figures: levels from 2 s in (the canceller has converged) to
    // the end of the shortest recording.
    const [farHeard, off, on] = await Promise.all(
      ['far.wav', 'mic-aec-off.wav', 'mic-aec-on.wav'].map(
        async (f) => (await readWav(join(out, f))).samples,
      ),
    );
    const to = Math.min(farHeard!.length, off!.length, on!.length) - 48000 / 4;
    const echoReturnDb = rmsDbfs(off!, 48000 * 2, to) - rmsDbfs(farHeard!, 48000 * 2, to);
    const erleDb = rmsDbfs(off!, 48000 * 2, to) - rmsDbfs(on!, 48000 * 2, to);
    console.log(
      `echo-test: ${result.out.trim()}; from its recordings: echo return ${echoReturnDb.toFixed(2)} dB, ` +
        `ERLE ${erleDb.toFixed(2)} dB`,
    );
    // The room's direct echo is at -9 dB and its reverberant tail adds to it (-4.7 dB on speech).
    expect(echoReturnDb).toBeGreaterThanOrEqual(-7);
    expect(echoReturnDb).toBeLessThanOrEqual(-3);
    expect(erleDb).toBeGreaterThanOrEqual(20);
    // What it printed is what it recorded: to its rounding and the recordings' edges, and for the echo return
    // its far end's nominal level against the level the noise had over this span (0.2 dB apart, measured).
    expect(report.echoHeard).toBe(true);
    expect(Math.abs(report.echoReturnDb - echoReturnDb)).toBeLessThan(0.6);
    expect(Math.abs(report.erleDb - erleDb)).toBeLessThan(1);
    expect(Math.round(report.erleDb * 10) / 10).toBe(report.erleDb);
  });

  it('echo-test with no echo path: says no echo was heard, and --out-dir keeps the far end and both recordings', async () => {
    const out = mkdtempSync(join(dir, 'echo-'));
    const result = await lkAudio(
      'echo-test',
      '--input',
      rig.micB,
      '--output',
      rig.speakerB,
      '--seconds',
      '3',
      '--out-dir',
      out,
    );
    expect(result.code, result.err).toBe(0);
    expect(result.out).toMatch(/^no echo heard: .*ERLE not measured/);
    expect(result.out).not.toMatch(/removes/);
    const far = await readWav(join(out, 'far.wav'));
    expect(far.samples.length).toBe(48000 * 3);
    for (const name of ['mic-aec-off.wav', 'mic-aec-on.wav']) {
      const mic = await readWav(join(out, name));
      expect(mic.sampleRate, name).toBe(48000);
      // The microphone while the far end played: as long, give or take the frames in flight at either end, which
      // a loaded machine delivers late (80 ms seen at a load average of 4; the capture queue holds 500 ms). A
      // recording cut short or doubled (3 s) still fails.
      expect(Math.abs(mic.samples.length - far.samples.length), name).toBeLessThan(48000 / 2);
    }
  });

  it('aec: a far end at another rate is resampled, and its echo removed from the microphone recording', async () => {
    // The far end at 48 kHz; the microphone at 16 kHz heard it 40 ms later at -6 dB (so 6.04 s long).
    const farPath = join(dir, 'aec-far.wav');
    const echoPath = join(dir, 'aec-mic.wav');
    const outPath = join(dir, 'aec-out.wav');
    const far = whiteNoiseInt16(48000 * 6, -20, 7);
    await writeWav(farPath, { sampleRate: 48000, channels: 1, samples: far });
    execFileSync('sox', ['-D', farPath, '-r', '16000', echoPath, 'gain', '-6', 'delay', '0.04']);
    const result = await lkAudio('aec', '--mic', echoPath, '--far', farPath, '--out', outPath);
    expect(result.code, result.err).toBe(0);
    expect(result.out).toMatch(/^wrote .*aec-out\.wav \(604 frames of 10 ms processed\)/);
    const mic = await readWav(echoPath);
    const cleaned = await readWav(outPath);
    expect(cleaned.sampleRate).toBe(16000);
    expect(cleaned.samples.length).toBe(mic.samples.length);
    const from = 16000 * 2;
    expect(rmsDbfs(mic.samples, from) - rmsDbfs(cleaned.samples, from)).toBeGreaterThanOrEqual(20);
  });
});
