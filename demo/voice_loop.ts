/**
 * `npm run demo`: the voice loop this package exists for, measured. A remote participant talks; you hear them on
 * your speaker; your microphone hears the speaker too; echo cancellation keeps that echo out of what you publish.
 *
 * Two passes of the same scene, echo cancellation off then on: far-end speech arrives as an rtc-node track and
 * plays through an OutputPlayer; the microphone goes through openInput into an AudioSource, a LocalAudioTrack and
 * an AudioStream (what a room would carry); halfway through, a near-end talker joins. Then it prints how loud the
 * echo was, how much of it echo cancellation removed, how much of the near-end talker survived, and the latency,
 * and writes the recordings (WAV) and a plot of the levels (SVG).
 *
 * Runs on the machine's default devices when a sound server with real devices answers, otherwise on the virtual
 * room of a private sound server that it starts and stops (demo/sound_setting.ts).
 *
 * Usage: node --import tsx demo/voice_loop.ts [--rig] [--out <dir>] [--json]
 */
import { execFileSync, type ExecFileSyncOptions } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { dispose } from '@livekit/rtc-node';
import { readWav, writeWav } from '../src/index.js';
import { ERLE_FROM_S, passFigures, type PassFigures } from './echo_figures.js';
import { renderLevelPlot } from './level_plot.js';
import { chooseSoundSetting, type SoundSetting } from './sound_setting.js';
import { RATE, runPass } from './voice_loop_pass.js';

const FAR_TEXT =
  'Hello from the far end. You hear me on your speaker, and your microphone hears me too. ' +
  'Echo cancellation keeps my voice out of what you send back.';
const NEAR_TEXT =
  'And this is the near end, talking at the same time. My voice should reach the room, even while you talk.';
const FAR_RMS_DBFS = -20;
const NEAR_RMS_DBFS = -24;
// The near-end talker joins halfway through the far end, and talks on after it ends.
const NEAR_JOINS_AT = 0.5;
// Without a virtual talker, the user is asked to talk for this long (ms).
const USER_TALKS_MS = 5000;

const { values: args } = parseArgs({
  options: {
    rig: { type: 'boolean', default: false },
    out: { type: 'string', default: 'demo-output' },
    json: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (args.help) {
  console.log(
    'usage: npm run demo [-- --rig] [-- --out <dir>] [-- --json]\n' +
      '  --rig   run on the virtual room of a private sound server even when real devices are there\n' +
      '  --out   where to write the recordings and the plot (default demo-output)\n' +
      '  --json  print the figures as one JSON document',
  );
  process.exit(0);
}
const outDir = resolve(args.out);
const WIDTH = 80;

/** Prints text wrapped to 80 columns, continuation lines indented two more than the first (unless --json). */
function say(text: string): void {
  if (args.json) return;
  const indent = /^ */.exec(text)![0];
  const lines: string[] = [];
  let line = '';
  for (const word of text.trim().split(/\s+/)) {
    const start = lines.length === 0 ? indent : `${indent}  `;
    if (line && start.length + line.length + 1 + word.length > WIDTH) {
      lines.push(start + line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  lines.push((lines.length === 0 ? indent : `${indent}  `) + line);
  console.log(text.trim() ? lines.join('\n') : '');
}

/** Speech from espeak-ng at 48 kHz mono, scaled to an RMS level (dBFS). */
async function speech(
  text: string,
  voice: string,
  rmsDbfs: number,
  name: string,
): Promise<Int16Array> {
  const raw = join(outDir, `.${name}-espeak.wav`);
  const wav = join(outDir, `.${name}-48k.wav`);
  const quiet: ExecFileSyncOptions = { stdio: ['ignore', 'ignore', 'pipe'] };
  execFileSync('espeak-ng', ['-v', voice, '-s', '150', '-w', raw, text], quiet);
  // -G: sox guards against clipping itself.
  execFileSync('sox', ['-G', raw, '-r', String(RATE), '-c', '1', '-b', '16', wav], quiet);
  const { samples } = await readWav(wav);
  let sum = 0;
  for (const v of samples) sum += v * v;
  const gain = 10 ** (rmsDbfs / 20) / Math.sqrt(sum / samples.length / 32768 ** 2);
  return Int16Array.from(samples, (v) => Math.max(-32768, Math.min(32767, Math.round(v * gain))));
}

/** A figure for the user: `n/a` where it could not be measured (e.g. recordings that could not be aligned). */
function format(db: number, digits = 1): string {
  return Number.isFinite(db) ? db.toFixed(digits) : 'n/a';
}

/** The figures of both passes as the user reads them. */
function report(setting: SoundSetting, off: PassFigures, on: PassFigures): void {
  say('');
  say('What happened');
  say(
    `  Echo: the far end came back into the microphone ${format(-off.echoReturnDb)} dB quieter than it` +
      ` was played (${format(off.echoDbfs)} dBFS), ${off.farToEchoMs.toFixed(0)} ms after it was sent.`,
  );
  say(
    `  ERLE (echo return loss enhancement): how much quieter the echo is in what you publish than in the` +
      ` microphone, from ${ERLE_FROM_S} s in; 0 dB removes nothing, 25 dB and more leaves it inaudible.`,
  );
  say(`    echo cancellation off: ${format(off.erleDb)} dB (${off.erleBlocks} blocks of 20 ms)`);
  say(`    echo cancellation on:  ${format(on.erleDb)} dB (${on.erleBlocks} blocks of 20 ms)`);
  if (on.nearEnd && off.nearEnd) {
    say(
      `  Near-end talker: with echo cancellation on, ${format(on.nearEnd.aloneLossDb)} dB lost when` +
        ` talking alone, ${format(on.nearEnd.doubleTalkLossDb)} dB while the far end talks too (median per` +
        ` 20 ms); ${format(on.nearEnd.badlyCutShare * 100, 0)} % of the talker's blocks cut by more than 10 dB.`,
    );
  } else {
    say('  Near-end talker: not measured (on real devices the talker is you; listen to the WAVs).');
  }
  say(
    `  Latency: capture ${format(on.captureLatencyMs.median)} ms (median, p99 ${format(on.captureLatencyMs.p99)};` +
      ` ADC -> AudioSource, the 10 ms frame included), playout about ${on.playoutLatencyMs.toFixed(0)} ms` +
      ` (player -> DAC); the echo canceller was given a stream delay of ${on.streamDelayMs} ms.`,
  );
  if (!setting.hasVirtualTalker)
    say('  (Measured on your devices: figures depend on your room and volume.)');
  if (!Number.isFinite(on.erleDb) || !Number.isFinite(off.erleDb)) {
    say(
      '  n/a: what was published could not be lined up with the microphone (on real devices: talk when asked).',
    );
  }
}

async function main(): Promise<number> {
  mkdirSync(outDir, { recursive: true });
  const setting = await chooseSoundSetting(args.rig);
  try {
    say('livekit-media-devices demo: far end heard, echo removed');
    say(`Running on ${setting.description}.`);
    if (!setting.hasVirtualTalker) {
      say('(--rig runs it on the virtual room of a private sound server instead.)');
      say(
        'The far end will talk on your speaker; keep its volume up and stay near the microphone.',
      );
    } else {
      say('(No sound server with real devices here, or --rig: started a private one.)');
    }
    const far = await speech(FAR_TEXT, 'en-us', FAR_RMS_DBFS, 'far');
    const near = setting.hasVirtualTalker
      ? await speech(NEAR_TEXT, 'en-gb+f3', NEAR_RMS_DBFS, 'near')
      : undefined;
    const nearStartMs = Math.round(((far.length / RATE) * 1000 * NEAR_JOINS_AT) / 10) * 10;

    const passes: PassFigures[] = [];
    const recordings: { aec: boolean; raw: Int16Array; published: Int16Array }[] = [];
    for (const aec of [false, true]) {
      say(
        `Pass ${passes.length + 1} of 2: echo cancellation ${aec ? 'on' : 'off'}, ${(far.length / RATE + 1).toFixed(0)} s...`,
      );
      const recording = await runPass({
        aec,
        far,
        nearStartMs,
        speaker: setting.speaker,
        microphone: setting.microphone,
        nearEnd: near
          ? () => setting.playNearEnd(near)
          : async () => {
              say('  Now you talk: say something for a few seconds.');
              await new Promise((r) => setTimeout(r, USER_TALKS_MS));
            },
      });
      recordings.push(recording);
      passes.push(passFigures(recording, far, near));
    }
    const [off, on] = passes as [PassFigures, PassFigures];
    report(setting, off, on);

    const files: string[] = [];
    const write = async (name: string, samples: Int16Array): Promise<void> => {
      await writeWav(join(outDir, name), { sampleRate: RATE, channels: 1, samples });
      files.push(name);
    };
    await write('far_end.wav', far);
    if (near) await write('near_end.wav', near);
    for (const r of recordings) {
      const tag = r.aec ? 'aec_on' : 'aec_off';
      await write(`microphone_${tag}.wav`, r.raw);
      await write(`published_${tag}.wav`, r.published);
    }
    const span = (f: PassFigures): [number, number] | undefined =>
      f.nearEnd ? [f.nearEnd.startS, f.nearEnd.endS] : undefined;
    writeFileSync(
      join(outDir, 'levels.svg'),
      renderLevelPlot('What the room hears: echo cancellation off, then on', [
        {
          title: `Echo cancellation off: ERLE ${format(off.erleDb)} dB`,
          timeline: off.timeline,
          nearEndSpan: span(off),
        },
        {
          title: `Echo cancellation on: ERLE ${format(on.erleDb)} dB`,
          timeline: on.timeline,
          nearEndSpan: span(on),
        },
      ]),
    );
    files.push('levels.svg');
    const summary = {
      setting: setting.hasVirtualTalker ? 'virtual-room' : 'machine',
      outDir,
      files,
      passes: passes.map(({ timeline: _timeline, ...figures }) => figures),
    };
    writeFileSync(join(outDir, 'summary.json'), JSON.stringify(summary, null, 2) + '\n');
    files.push('summary.json');
    if (args.json) console.log(JSON.stringify(summary));
    say('');
    const wavs = files.filter((f) => f.endsWith('.wav'));
    say(
      `Wrote to ${relative(process.cwd(), outDir) || '.'}/: levels.svg (the plot; open it in a` +
        ` browser), summary.json and the recordings ${wavs.join(', ')}.`,
    );
    return 0;
  } finally {
    await setting.close();
    await dispose();
  }
}

try {
  process.exitCode = await main();
} catch (error) {
  console.error(`demo: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
}
