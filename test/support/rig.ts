/**
 * Helpers for tests that run against the audio rig (scripts/audio-rig.sh): a private PulseAudio server with
 * virtual speakers and microphones. They use only PulseAudio's own tools (pacat, parec, pactl) and sox, never
 * the package's code, so they can check the package from the outside.
 *
 * All samples are interleaved signed 16-bit (s16le). Every process a helper spawns is killed when the helper's
 * promise settles or its handle is stopped, and at the latest when the test process exits.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { performance } from 'node:perf_hooks';

/** Device names of the rig, and the server it runs on. */
export interface RigEnv {
  /** PulseAudio server address, `unix:<socket>`. */
  server: string;
  /** Rig directory (sockets, logs, pid files), when known. */
  dir: string | undefined;
  /** Virtual speakers (stereo sinks); record what they play from `<name>.monitor`. */
  speakerA: string;
  speakerB: string;
  /** Virtual microphones (mono sources). */
  micA: string;
  micB: string;
  /** Sinks whose input comes out of micA / micB. */
  micAFeed: string;
  micBFeed: string;
  /** A 2-channel virtual microphone (front-left, front-right) and its feed sink. */
  micStereo: string;
  micStereoFeed: string;
}

/** Default PCM format of the helpers: 48 kHz mono. */
export interface PcmOptions {
  /** Sample rate (Hz), default 48000. */
  rate?: number;
  /** Interleaved channel count, default 1. */
  channels?: number;
  /**
   * Latency requested from the server for this stream (ms). Default 100 for playback: a test signal need not be
   * early, but must not underrun (at 10 ms, a loaded 2-core machine put gaps into tones); 5 for recording.
   */
  latencyMs?: number;
}

const RIG_HINT =
  'The audio rig is not running. Run the tests with `npm test` (vitest starts the rig itself), or start it by ' +
  'hand: eval "$(scripts/audio-rig.sh start)"';

/**
 * The running rig's environment, from process.env (exported by scripts/audio-rig.sh, or by the vitest
 * globalSetup test/support/rig-setup.ts). Throws with instructions when no rig is configured.
 */
export function rigEnv(): RigEnv {
  const e = process.env;
  if (e.LK_AUDIO_RIG !== '1' || !e.PULSE_SERVER) throw new Error(RIG_HINT);
  return {
    server: e.PULSE_SERVER,
    dir: e.LK_AUDIO_RIG_DIR,
    speakerA: e.LK_RIG_SPEAKER_A ?? 'lk_speaker_a',
    speakerB: e.LK_RIG_SPEAKER_B ?? 'lk_speaker_b',
    micA: e.LK_RIG_MIC_A ?? 'lk_mic_a',
    micB: e.LK_RIG_MIC_B ?? 'lk_mic_b',
    micAFeed: e.LK_RIG_MIC_A_FEED ?? 'lk_mic_a_feed',
    micBFeed: e.LK_RIG_MIC_B_FEED ?? 'lk_mic_b_feed',
    micStereo: e.LK_RIG_MIC_STEREO ?? 'lk_mic_stereo',
    micStereoFeed: e.LK_RIG_MIC_STEREO_FEED ?? 'lk_mic_stereo_feed',
  };
}

/** The rig's virtual room (scripts/audio-rig.sh): sound-server modules only, so its echo path never changes. */
export interface RigRoom {
  /** What is played on it reaches `mic` as an echo: exactly {@link ROOM_ECHO_DELAY_MS} later, -9 dB, reverberant. */
  speaker: string;
  /** The room's microphone. */
  mic: string;
  /** A sink whose input comes out of `mic` as it is: the near end. */
  feed: string;
}

/** The room's direct echo comes this long after its speaker (ms), as scripts/audio-rig.sh builds it. */
export const ROOM_ECHO_DELAY_MS = 50;

/** The running rig's virtual room; throws with instructions when the rig has none. */
export function rigRoom(): RigRoom {
  rigEnv();
  const e = process.env;
  if (!e.LK_RIG_ROOM_SPEAKER || !e.LK_RIG_ROOM_MIC || !e.LK_RIG_ROOM_MIC_FEED) {
    throw new Error(
      "the rig has no virtual room (its LADSPA plugin, Debian's swh-plugins, is missing): run scripts/setup.sh",
    );
  }
  return { speaker: e.LK_RIG_ROOM_SPEAKER, mic: e.LK_RIG_ROOM_MIC, feed: e.LK_RIG_ROOM_MIC_FEED };
}

/** Environment for a child process that talks to the rig (and to nothing else). */
export function rigChildEnv(): NodeJS.ProcessEnv {
  rigEnv();
  const env = { ...process.env };
  // A stray PULSE_SINK / PULSE_SOURCE would redirect streams that name no device.
  delete env.PULSE_SINK;
  delete env.PULSE_SOURCE;
  return env;
}

// ---------------------------------------------------------------------------------------------------------------
// Process bookkeeping: everything spawned here is killed at the latest when the process exits.

const live = new Set<ChildProcess>();

function killTree(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    // Detached children lead their own process group: kill the whole pipeline.
    process.kill(-child.pid, signal);
  } catch {
    try {
      child.kill(signal);
    } catch {
      // already gone
    }
  }
}

process.once('exit', () => {
  for (const child of live) killTree(child, 'SIGKILL');
});

function track(child: ChildProcess): ChildProcess {
  live.add(child);
  child.once('exit', () => live.delete(child));
  return child;
}

/** Resolves when the child has exited (at once if it already has). */
function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

/** Kills a child (and its process group) and waits for it to go; SIGKILL after `graceMs`. */
async function stopChild(child: ChildProcess, graceMs = 1000): Promise<void> {
  killTree(child, 'SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    exited(child),
    new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        killTree(child, 'SIGKILL');
        resolve();
      }, graceMs);
    }),
  ]);
  clearTimeout(timer);
  await exited(child);
}

let streamCounter = 0;
function streamName(kind: string): string {
  streamCounter += 1;
  return `lk-test-${kind}-${process.pid}-${streamCounter}`;
}

function pcmArgs(rate: number, channels: number): string[] {
  return ['--raw', '--format=s16le', `--rate=${rate}`, `--channels=${channels}`];
}

function stderrOf(child: ChildProcess): () => string {
  let text = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (d: string) => {
    if (text.length < 4000) text += d;
  });
  return () => text.trim();
}

// ---------------------------------------------------------------------------------------------------------------
// Playback and recording.

/**
 * Plays interleaved s16le samples into a sink (for a virtual microphone: its feed, e.g. `lk_mic_a_feed`) and
 * resolves once pacat has handed all of it to the server and drained it (it has been rendered).
 */
export async function playIntoSink(
  sink: string,
  samples: Int16Array,
  { rate = 48000, channels = 1, latencyMs = 100 }: PcmOptions = {},
): Promise<void> {
  const child = track(
    spawn(
      'pacat',
      [
        '--playback',
        ...pcmArgs(rate, channels),
        `--device=${sink}`,
        `--latency-msec=${latencyMs}`,
        '--client-name=lk-test',
        `--stream-name=${streamName('play')}`,
      ],
      { env: rigChildEnv(), stdio: ['pipe', 'ignore', 'pipe'] },
    ),
  );
  const err = stderrOf(child);
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (c) => resolve(c));
    child.stdin!.on('error', () => {
      // pacat died early: reported through its exit code below
    });
    child.stdin!.end(Buffer.from(samples.buffer, samples.byteOffset, samples.byteLength));
  });
  if (code !== 0) throw new Error(`pacat into ${sink} failed (exit ${code}): ${err()}`);
}

/** A running {@link startUnderrunSentinel}. */
export interface UnderrunSentinel {
  /** Underruns the sound server reported to the sentinel's stream since it connected. */
  readonly underruns: number;
  /** Stops the sentinel's pacat and waits for it to go. */
  stop(): Promise<void>;
}

/**
 * Starts a sentinel: pacat playing digital silence into `sink` with a 10 ms buffer, at ordinary priority, counting
 * the underruns the sound server reports to it. An underrun means the machine kept an ordinary audio client from
 * refilling a 10 ms buffer: the starvation that puts gaps into a player's output which no counter of the player
 * sees (the server plays silence for a stream whose client was late, and PulseAudio's ALSA plugin does not tell
 * PortAudio). Silence adds nothing to what the sink plays, so the sentinel can share the speaker under test.
 * Resolves once its stream plays.
 */
export async function startUnderrunSentinel(sink: string): Promise<UnderrunSentinel> {
  const child = track(
    spawn(
      'pacat',
      [
        '--playback',
        '--verbose',
        ...pcmArgs(48000, 1),
        `--device=${sink}`,
        '--latency-msec=10',
        '--client-name=lk-test',
        `--stream-name=${streamName('sentinel')}`,
        '/dev/zero',
      ],
      { env: rigChildEnv(), stdio: ['ignore', 'ignore', 'pipe'] },
    ),
  );
  let underruns = 0;
  let connected = false;
  let tail = '';
  let onConnected: () => void = () => {};
  const ready = new Promise<void>((resolve) => (onConnected = resolve));
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (text: string) => {
    // Lines end in \n or in \r (pacat redraws its status line); count whole messages only.
    const lines = (tail + text).split(/[\r\n]/);
    tail = lines.pop()!;
    for (const line of lines) {
      if (line.includes('Stream underrun.') && connected) underruns++;
      if (line.startsWith('Connected to device')) {
        connected = true;
        onConnected();
      }
    }
  });
  const exit = exited(child);
  await Promise.race([
    ready,
    exit.then(() => {
      throw new Error(`the underrun sentinel on ${sink} exited before it played`);
    }),
    new Promise<never>((_, reject) =>
      setTimeout(
        () => reject(new Error(`the underrun sentinel on ${sink}: no stream in 5 s`)),
        5000,
      ).unref(),
    ),
  ]).catch(async (e: unknown) => {
    await stopChild(child);
    throw e;
  });
  return {
    get underruns() {
      return underruns;
    },
    stop: () => stopChild(child),
  };
}

/** A recording in progress; see {@link startRecording}. */
export interface Recording {
  /** Source being recorded. */
  readonly source: string;
  readonly rate: number;
  readonly channels: number;
  /** Samples per channel received so far. */
  readonly frames: number;
  /**
   * Estimated `performance.now()` (ms) at which the server produced the first recorded sample: the lower envelope
   * of (arrival time of each chunk - its end position). Two recordings' estimates are on the same clock, which
   * lets a test compare when something appeared in two different sources to within about a millisecond.
   */
  readonly startTimeMs: number;
  /** Resolves once at least this many frames (per channel) have been received. */
  waitForFrames(frames: number, timeoutMs?: number): Promise<void>;
  /** Stops parec and returns everything recorded (whole frames only). */
  stop(): Promise<Int16Array>;
}

/**
 * Starts recording a source (a virtual microphone such as `lk_mic_a`, or a speaker's monitor such as
 * `lk_speaker_a.monitor`) with parec. Resolves once the first data has arrived, so whatever is played after
 * that is captured.
 */
export async function startRecording(
  source: string,
  { rate = 48000, channels = 1, latencyMs = 5 }: PcmOptions = {},
): Promise<Recording> {
  const child = track(
    spawn(
      'parec',
      [
        '--record',
        ...pcmArgs(rate, channels),
        `--device=${source}`,
        `--latency-msec=${latencyMs}`,
        '--client-name=lk-test',
        `--stream-name=${streamName('rec')}`,
      ],
      { env: rigChildEnv(), stdio: ['ignore', 'pipe', 'pipe'] },
    ),
  );
  const err = stderrOf(child);
  const chunks: Buffer[] = [];
  let bytes = 0;
  let startTimeMs = Infinity;
  const frameBytes = 2 * channels;
  let waiters: Array<{ frames: number; resolve: () => void }> = [];
  let failure: Error | undefined;
  let stopping = false;
  let failed: (e: Error) => void = () => {};
  const failurePromise = new Promise<never>((_, reject) => {
    failed = reject;
  });
  failurePromise.catch(() => {});

  child.stdout!.on('data', (chunk: Buffer) => {
    const now = performance.now();
    chunks.push(chunk);
    bytes += chunk.length;
    const framesNow = Math.floor(bytes / frameBytes);
    startTimeMs = Math.min(startTimeMs, now - (framesNow / rate) * 1000);
    waiters = waiters.filter((w) => {
      if (framesNow >= w.frames) w.resolve();
      return framesNow < w.frames;
    });
  });
  child.once('error', (e) => {
    failure = e;
    failed(e);
  });
  child.once('exit', (code, signal) => {
    if (!stopping) {
      failure = new Error(`parec from ${source} exited (${code ?? signal}): ${err()}`);
      failed(failure);
    }
  });

  const rec: Recording = {
    source,
    rate,
    channels,
    get frames() {
      return Math.floor(bytes / frameBytes);
    },
    get startTimeMs() {
      return startTimeMs;
    },
    async waitForFrames(frames: number, timeoutMs = 5000) {
      if (failure) throw failure;
      if (Math.floor(bytes / frameBytes) >= frames) return;
      let timer: NodeJS.Timeout | undefined;
      try {
        await Promise.race([
          new Promise<void>((resolve) => waiters.push({ frames, resolve })),
          failurePromise,
          new Promise<never>((_, reject) => {
            timer = setTimeout(
              () =>
                reject(
                  new Error(
                    `recording from ${source}: ${Math.floor(bytes / frameBytes)} of ${frames} frames after ` +
                      `${timeoutMs} ms ${err()}`,
                  ),
                ),
              timeoutMs,
            );
          }),
        ]);
      } finally {
        clearTimeout(timer);
      }
    },
    async stop() {
      stopping = true;
      await stopChild(child);
      const all = Buffer.concat(chunks);
      const usable = all.length - (all.length % frameBytes);
      const out = new Int16Array(usable / 2);
      Buffer.from(out.buffer).set(all.subarray(0, usable));
      return out;
    },
  };
  try {
    await rec.waitForFrames(1);
  } catch (e) {
    await rec.stop();
    throw e;
  }
  return rec;
}

/**
 * Records `durationMs` of audio from a source and returns exactly that many frames (interleaved when
 * channels > 1). Recording starts when the first data arrives.
 */
export async function recordFromSource(
  source: string,
  durationMs: number,
  options: PcmOptions = {},
): Promise<Int16Array> {
  const rec = await startRecording(source, options);
  const frames = Math.round((durationMs / 1000) * rec.rate);
  try {
    await rec.waitForFrames(frames, durationMs + 5000);
  } catch (e) {
    await rec.stop();
    throw e;
  }
  const samples = await rec.stop();
  return samples.subarray(0, frames * rec.channels);
}

// ---------------------------------------------------------------------------------------------------------------
// Echo path: a room between a speaker and a microphone, built from real parts.

/** Reverberation of an echo path (sox `reverb`); numbers in sox's units. */
export interface ReverbOptions {
  /** Reverberance, 0-100 % (sox default 50). */
  reverberance?: number;
  /** High-frequency damping, 0-100 % (sox default 50). */
  hfDamping?: number;
  /** Room scale, 0-100 % (sox default 100). */
  roomScale?: number;
  /** Level of the reverberated (wet) part relative to the direct sound (dB, default 0). */
  wetGainDb?: number;
}

export interface EchoPathOptions {
  /** Source to pick the far end up from: a speaker's monitor. Default `lk_speaker_a.monitor`. */
  from?: string;
  /** Sink to deliver the echo into: a microphone's feed. Default `lk_mic_a_feed`. */
  to?: string;
  /**
   * Delay from `from` to `to` (ms), measured end to end: what the path's own processes add (see
   * {@link ECHO_PATH_BASE_LATENCY_MS}) is subtracted from the delay sox inserts. At least
   * ECHO_PATH_BASE_LATENCY_MS (plus ECHO_PATH_REVERB_LATENCY_MS with reverb).
   */
  delayMs: number;
  /** Gain of the direct echo (dB), default -9. */
  gainDb?: number;
  /** Add a room's reverberation after the direct echo: `true` for sox's defaults. Default off. */
  reverb?: boolean | ReverbOptions;
  /** Sample rate of the path (Hz), default 48000. */
  rate?: number;
}

/** A running echo path; see {@link startEchoPath}. */
export interface EchoPath {
  readonly from: string;
  readonly to: string;
  /** Requested end-to-end delay (ms). */
  readonly delayMs: number;
  /** Delay sox inserts (ms): delayMs minus the pipeline's own latency. */
  readonly soxDelayMs: number;
  readonly gainDb: number;
  /** Stops the path's processes (parec, sox, pacat) and waits for them to exit. Harmless twice. */
  stop(): Promise<void>;
}

/**
 * Latency (ms) of the path's own processes with no delay added: parec's fragment, sox's block and pacat's
 * prebuffer. startEchoPath subtracts it from the delay it asks sox for. Measured on the rig with
 * {@link measureEchoPath} (monitor to microphone, fresh paths): 21.2 ms or 23.7 ms (the fill pacat starts with
 * comes in 2.5 ms blocks; 21.2 in 13 of 16 paths), so the real delay is within about 1.5 ms of the request.
 */
export const ECHO_PATH_BASE_LATENCY_MS = 22.5;

/** What sox's reverb adds to the path's latency (ms): one 2.5 ms block (measured: 16 paths, all +2.5 ms). */
export const ECHO_PATH_REVERB_LATENCY_MS = 2.5;

/**
 * How the path's parts were chosen (measured on the rig, 2-core machine):
 * - sox's stdout is a pipe, which stdio buffers 4 KiB at a time (43 ms of mono audio, delivered in bursts that
 *   made pacat underrun): stdbuf makes sox write each processing block as it is done.
 * - The block is 120 samples (2.5 ms) because a null sink advances its clock by whole microseconds per chunk it
 *   renders: with 128-sample chunks (2666.67 us) the microphone's feed sink ran ~0.3 ms/s fast against the
 *   speaker, so the path's delay shrank steadily (63.5 -> 55.7 ms in 17 s) until pacat ran dry and its
 *   prebuffer added 40 ms at once. With 120 samples: 61.20 -> 61.19 ms over 25 s.
 * - pacat at 20 ms still underran now and then (each underrun adds to the delay for good); 40 ms did not in
 *   16 fresh paths. Under a CPU hog on both cores it still can: see measureEchoPath to check.
 */
const ECHO_PARAMS = { parecLatencyMs: 5, pacatLatencyMs: 40, soxBlockSamples: 120 } as const;

/**
 * Starts an acoustic echo path: parec records `from` (a speaker's monitor), sox applies gain, reverberation
 * and delay, and pacat plays the result into `to` (a microphone's feed), all connected by pipes (no JavaScript
 * in the audio path, so a busy event loop cannot stretch the delay). Resolves once audio flows.
 *
 * To keep the latency fixed, pacat connects first and parec starts only once pacat's stream exists, so no
 * backlog piles up in the pipes; sox runs with tiny buffers. Measure the real delay with
 * {@link measureEchoPath}.
 */
export async function startEchoPath(options: EchoPathOptions): Promise<EchoPath> {
  const from = options.from ?? 'lk_speaker_a.monitor';
  const to = options.to ?? 'lk_mic_a_feed';
  const rate = options.rate ?? 48000;
  const gainDb = options.gainDb ?? -9;
  const { delayMs } = options;
  const ownLatencyMs =
    ECHO_PATH_BASE_LATENCY_MS + (options.reverb ? ECHO_PATH_REVERB_LATENCY_MS : 0);
  const soxDelayMs = delayMs - ownLatencyMs;
  if (!(soxDelayMs >= 0)) {
    throw new RangeError(
      `echo path delay ${delayMs} ms is below the path's own latency (${ownLatencyMs} ms)`,
    );
  }
  const effects = ['gain', gainDb.toFixed(3)];
  // sox's delay effect pads the start with silence: the whole stream is shifted.
  if (soxDelayMs > 0) effects.push('delay', `${Math.round((soxDelayMs / 1000) * rate)}s`);
  if (options.reverb) {
    const r: ReverbOptions = options.reverb === true ? {} : options.reverb;
    effects.push(
      'reverb',
      String(r.reverberance ?? 50),
      String(r.hfDamping ?? 50),
      String(r.roomScale ?? 100),
      '100', // stereo depth
      '0', // pre-delay
      String(r.wetGainDb ?? 0),
      // reverb turns mono into stereo (equal direct sound, decorrelated tails): back to one channel
      'channels',
      '1',
    );
  }

  const name = streamName('echo');
  const raw = ['-t', 'raw', '-e', 'signed-integer', '-b', '16', '-c', '1', '-r', String(rate)];
  const pacat = [
    'pacat',
    '--playback',
    ...pcmArgs(rate, 1),
    `--device=${to}`,
    `--latency-msec=${ECHO_PARAMS.pacatLatencyMs}`,
    '--client-name=lk-test-echo',
    `--stream-name=${name}`,
  ];
  const sox = [
    'stdbuf',
    `-o${ECHO_PARAMS.soxBlockSamples * 2}`,
    'sox',
    '-q',
    '-D', // no dither: the echo is the far end, scaled, and nothing else
    '--buffer',
    String(ECHO_PARAMS.soxBlockSamples), // sox counts this in samples
    ...raw,
    '-',
    ...raw,
    '-',
  ];
  const parec = [
    'parec',
    '--record',
    ...pcmArgs(rate, 1),
    `--device=${from}`,
    `--latency-msec=${ECHO_PARAMS.parecLatencyMs}`,
    '--client-name=lk-test-echo',
    `--stream-name=${name}-in`,
  ];
  const q = (args: readonly string[]): string =>
    args.map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  // parec waits for pacat's stream to exist; the ready line on fd 3 tells us audio is about to flow.
  const script = [
    'set -o pipefail',
    // Where allowed (root, as in CI), run the path ahead of ordinary work: on a loaded machine a late pacat runs
    // dry, and each underrun adds to the delay for good.
    'renice -n -10 -p $$ >/dev/null 2>&1 || true',
    `{ for i in $(seq 400); do pactl list sink-inputs 2>/dev/null | grep -qF ${q([`"${name}"`])} && break; sleep 0.005; done`,
    `  echo ready >&3; exec ${q(parec)}; } | ${q(sox)} ${q(effects)} | exec ${q(pacat)}`,
  ].join('\n');
  const child = track(
    spawn('bash', ['-c', script], {
      env: rigChildEnv(),
      stdio: ['ignore', 'ignore', 'pipe', 'pipe'],
      detached: true,
    }),
  );
  const err = stderrOf(child);
  let stopped = false;
  const path: EchoPath = {
    from,
    to,
    delayMs,
    soxDelayMs,
    gainDb,
    async stop() {
      if (stopped) return;
      stopped = true;
      await stopChild(child);
    },
  };
  const ready = new Promise<void>((resolve, reject) => {
    const fd3 = child.stdio[3] as NodeJS.ReadableStream;
    fd3.once('data', () => resolve());
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`echo path exited (${code}): ${err()}`)));
  });
  try {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      ready,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`echo path did not start: ${err()}`)), 5000);
      }),
    ]).finally(() => clearTimeout(timer));
  } catch (e) {
    await path.stop();
    throw e;
  }
  return path;
}

/** What {@link measureEchoPath} found. */
export interface EchoPathMeasurement {
  /** Delay of each click from `from` to the microphone (ms). */
  delaysMs: number[];
  medianDelayMs: number;
  /** Largest minus smallest delay (ms). */
  jitterMs: number;
  /** Gain of each click's direct echo (dB, peak to peak). */
  gainsDb: number[];
  medianGainDb: number;
}

/**
 * Measures a path from a speaker's monitor to a microphone with clicks: records `from` and `mic` at once, plays
 * `clicks` single-sample clicks into the speaker behind `from`, and compares when and how loud each shows up in
 * both recordings (times from {@link Recording.startTimeMs}, so on one clock). Plays into the speaker: run it
 * before the test's own audio.
 */
export async function measureEchoPath({
  from = 'lk_speaker_a.monitor',
  mic = 'lk_mic_a',
  clicks = 6,
  intervalMs = 400,
  clickDbfs = -3,
  rate = 48000,
}: {
  from?: string;
  /** Source that receives the echo (the microphone, or the feed's monitor). */
  mic?: string;
  clicks?: number;
  intervalMs?: number;
  clickDbfs?: number;
  rate?: number;
} = {}): Promise<EchoPathMeasurement> {
  const speaker = from.replace(/\.monitor$/, '');
  const interval = Math.round((intervalMs / 1000) * rate);
  const lead = Math.round(0.1 * rate);
  const signal = new Int16Array(lead + clicks * interval);
  const peak = Math.round(32767 * 10 ** (clickDbfs / 20));
  for (let k = 0; k < clicks; k++) signal[lead + k * interval] = peak;

  const [recFrom, recMic] = await Promise.all([
    startRecording(from, { rate }),
    startRecording(mic, { rate }),
  ]);
  let a: Int16Array;
  let b: Int16Array;
  try {
    await playIntoSink(speaker, signal, { rate });
    await new Promise((r) => setTimeout(r, 300));
  } finally {
    [a, b] = await Promise.all([recFrom.stop(), recMic.stop()]);
  }
  const findPeaks = (x: Int16Array): number[] => {
    // Each click: the first sample above half of the loudest sample, then skip most of the interval.
    let max = 0;
    for (const v of x) max = Math.max(max, Math.abs(v));
    const out: number[] = [];
    if (max === 0) return out;
    for (let i = 0; i < x.length;) {
      let j = i;
      while (j < x.length && Math.abs(x[j]!) < max / 2) j++;
      if (j >= x.length) break;
      out.push(j);
      i = j + Math.round(interval * 0.75);
    }
    return out;
  };
  const pa = findPeaks(a);
  const pb = findPeaks(b);
  if (pa.length !== clicks || pb.length !== clicks) {
    throw new Error(
      `measureEchoPath: found ${pa.length} clicks on ${from} and ${pb.length} on ${mic}, expected ${clicks}`,
    );
  }
  const delaysMs = pa.map(
    (ia, k) =>
      recMic.startTimeMs + (pb[k]! / rate) * 1000 - (recFrom.startTimeMs + (ia / rate) * 1000),
  );
  const gainsDb = pa.map((ia, k) => 20 * Math.log10(Math.abs(b[pb[k]!]!) / Math.abs(a[ia]!)));
  const median = (v: number[]): number => {
    const s = [...v].sort((x, y) => x - y);
    return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
  };
  return {
    delaysMs,
    medianDelayMs: median(delaysMs),
    jitterMs: Math.max(...delaysMs) - Math.min(...delaysMs),
    gainsDb,
    medianGainDb: median(gainsDb),
  };
}

/** Runs pactl against the rig and returns its stdout. */
export async function pactl(...args: string[]): Promise<string> {
  const child = track(
    spawn('pactl', args, { env: rigChildEnv(), stdio: ['ignore', 'pipe', 'pipe'] }),
  );
  const err = stderrOf(child);
  let out = '';
  child.stdout!.setEncoding('utf8');
  child.stdout!.on('data', (d: string) => (out += d));
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (c) => resolve(c));
  });
  if (code !== 0) throw new Error(`pactl ${args.join(' ')} failed (exit ${code}): ${err()}`);
  return out;
}
