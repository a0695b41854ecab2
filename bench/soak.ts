/**
 * Soak benchmark: a long full-duplex run against the rig (scripts/audio-rig.sh must be running), reported window by
 * window (a minute by default), to show what holds over time: xruns, lost audio, latency and memory.
 *
 * The run, all in this process unless said:
 * - `openInput` on a rig microphone with echo cancellation, noise suppression, high-pass filter and gain control on.
 *   With the rig's virtual room (lk_room_speaker -> lk_room_mic, an echo path inside the sound server) the player's
 *   audio reaches the microphone as a real echo and pacat (another process) plays a near-end talker into the room's
 *   microphone feed; without the room, the microphone A feed gets speech plus a computed echo of the far end.
 * - `openOutput` on the room speaker (or speaker A), mixing a live track (an AudioSource -> LocalAudioTrack fed in
 *   real time, added with addTrack) and a pulled stream (addStream of a 45 s generator, added again each time it
 *   ends).
 * - The capture's AudioSource published through LocalAudioTrack -> AudioStream and read, as a subscriber would.
 * - A second process spinning on one core for the whole run (it stops by itself a little after the run's end, and
 *   is ended when the run is done). `--no-load` leaves it out.
 * All speech comes from espeak-ng (resampled by sox).
 *
 * Each window reports (counters are what happened in the window):
 * - `deviceXruns`: PortAudio's callback flags: input overflows/underflows, output underflows/overflows (the device
 *   or the sound server missed its deadline: the scheduler's doing, or the host's);
 * - `rings`: the lock-free rings between the audio thread and JavaScript: input overruns and the samples they lost,
 *   output underruns (the player's underruns: callbacks in which a source of the mix was short) and the silence
 *   that left in the mix (per underrun, the longest shortfall), rendered-audio
 *   overruns (blocks the echo canceller never saw) - JavaScript starvation, or a burst from a stalled sound server;
 * - `capture`: 10 ms frames published, frames the subscriber received, frames dropped from the capture queue and
 *   how many of them the device's bursts forced (`burstExcessFrames`: frames beyond the queue's capacity delivered
 *   in one wake-up, as after a sound-server stall; `inputBurstMaxMs` is the largest burst), processing errors, and
 *   the capture latency p50/p99/max (ADC time of a frame's first sample -> its captureFrame call, device clock, from
 *   the `frame` event; includes the frame's own 10 ms), and `captureFrameResolveMs`: how long each
 *   `source.captureFrame` call took to resolve (p50/p99/max; the capture has one call in flight at a time);
 * - `player`: audio the device played (ms, silence included: less than the window's length when the sound server
 *   fell behind real time), the live track's audio dropped at the latency cap, corrected (spare backlog dropped), starved
 *   (silence mixed in for a source with nothing ready), reverse frames fed to the echo canceller, errors, 10 ms
 *   frames fed into the live track (fewer than 100 a second: its feeder, on this event loop, fell behind), restarts
 *   of the pulled stream;
 * - `queuedOutputMs`: the live track's ring in the device's mixer, and `liveBacklogMs`: the live track's own
 *   backlog (what it delivered that waits for room in that ring), each sampled right after every wake-up, max and
 *   mean, against `latencyCapMs`;
 * - `memoryMB` (RSS, V8 heap used) at the window's end; `eventLoopDelayMs` p99/max (perf_hooks, 1 ms resolution);
 *   `eventLoopStalledMs`: the event loop's time lost in stalls (a 1 ms timer's gaps beyond 10 ms, summed), which
 *   the player's 20 ms mixed ahead does not cover: what a loaded machine costs it in silence;
 *   `cpuPercent` of one core used by this process and by the load process.
 * Then totals over all windows, what happened in the start-up second before the first window (`startup`), and a
 * verdict per threshold: device xruns, audio dropped (ms: capture queue, input ring, rendered ring, live-track cap),
 * RSS growth from the end of the first window to the end, queued output never above the cap.
 *
 * Prints one JSON document on stdout; progress goes to stderr. Exits 0 whatever the verdict, which is in the JSON:
 * a fatal `error` event of the capture or player (the run then ends early) and a part that failed to close are
 * listed under `errors` and fail the verdict. Only a crash of the benchmark itself exits otherwise.
 *
 * Usage: node --import tsx bench/soak.ts [--minutes 10] [--window-seconds 60] [--no-load]
 *        [--max-device-xruns 0] [--max-dropped-ms 0] [--max-rss-growth-mb 20]
 */
import { AudioFrame, dispose } from '@livekit/rtc-node';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import {
  MediaDevices,
  type DeviceStreamStats,
  type InputCapture,
  type InputCaptureStats,
  type OutputPlayer,
  type OutputPlayerStats,
} from '../src/index.js';
import { speech } from '../test/support/aec_rig.js';
import { starvationProbe } from '../test/support/continuity.js';
import { applyEchoPath, mixInt16, scaleToRmsDbfs } from '../test/support/signal.js';
import { startCpuLoad, type CpuLoad } from './soak/cpu_load.js';
import { startLoopedFeed, type LoopedFeed } from './soak/looped_feed.js';
import { LoopedTrack } from './soak/looped_track.js';
import { PublishedReader } from './soak/published_reader.js';
import { MaxMean, quantiles, round } from './soak/series.js';

const RATE = 48000;
const FRAME = RATE / 100;
const STARTUP_MS = 1000;
const PULLED_STREAM_SECONDS = 45;
// The load process outlives the run by at most this (it is ended at the run's end; this bounds an orphan).
const LOAD_MARGIN_SECONDS = 30;

const { values: args } = parseArgs({
  options: {
    minutes: { type: 'string', default: '10' },
    'window-seconds': { type: 'string', default: '60' },
    'no-load': { type: 'boolean', default: false },
    'max-device-xruns': { type: 'string', default: '0' },
    'max-dropped-ms': { type: 'string', default: '0' },
    'max-rss-growth-mb': { type: 'string', default: '20' },
  },
});

/** A non-negative number from an option, or exit 2 naming it. */
function numberOption(name: keyof typeof args, positive = false): number {
  const value = Number(args[name]);
  if (!Number.isFinite(value) || value < 0 || (positive && value === 0)) {
    console.error(
      `bench/soak.ts: --${name} must be a ${positive ? 'positive' : 'non-negative'} number`,
    );
    process.exit(2);
  }
  return value;
}
const minutes = numberOption('minutes', true);
const windowSeconds = numberOption('window-seconds', true);
const thresholds = {
  maxDeviceXruns: numberOption('max-device-xruns'),
  maxDroppedMs: numberOption('max-dropped-ms'),
  maxRssGrowthMB: numberOption('max-rss-growth-mb'),
};
const totalSeconds = minutes * 60;
const windowCount = Math.max(1, Math.round(totalSeconds / windowSeconds));

const env = process.env;
const room = env.LK_RIG_ROOM_SPEAKER !== undefined && env.LK_RIG_ROOM_MIC !== undefined;
const SPEAKER = room ? env.LK_RIG_ROOM_SPEAKER! : (env.LK_RIG_SPEAKER_A ?? 'lk_speaker_a');
const MIC = room ? env.LK_RIG_ROOM_MIC! : (env.LK_RIG_MIC_A ?? 'lk_mic_a');
const MIC_FEED = room
  ? (env.LK_RIG_ROOM_MIC_FEED ?? 'lk_room_mic_feed')
  : (env.LK_RIG_MIC_A_FEED ?? 'lk_mic_a_feed');

const progress = (line: string) => console.error(`soak: ${line}`);
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const mb = (bytes: number) => round(bytes / 2 ** 20, 1);

/** Far ends and near-end talker: speech at call levels; the talker speaks about half of the time. */
async function signals() {
  const dir = mkdtempSync(join(tmpdir(), 'lk-soak-'));
  try {
    const farLive = scaleToRmsDbfs(
      await speech(
        dir,
        'far-live',
        'The quarterly figures arrive on Thursday, and the team will review them together before the call.',
        'en',
      ),
      -26,
    );
    const farPulled = scaleToRmsDbfs(
      await speech(
        dir,
        'far-pulled',
        'Please hold on while I look that up for you. I found three matching orders from last week.',
        'en+f3',
      ),
      -26,
    );
    const talk = scaleToRmsDbfs(
      await speech(
        dir,
        'near',
        'Can you hear me clearly now? I think the line is better today.',
        'en-us',
      ),
      -30,
    );
    // The talker, then as long a pause.
    const near = new Int16Array(talk.length * 2);
    near.set(talk);
    if (room) return { farLive, farPulled, near };
    // No room: the microphone hears the live far end's echo (a computed one, not aligned with what plays) and the
    // talker, so the processing has the same kind of work.
    const echo = applyEchoPath(farLive, RATE, {
      delayMs: 50,
      directGainDb: -9,
      tailMs: 150,
      reflections: 16,
      seed: 2,
    });
    const length = Math.max(echo.length, near.length);
    const pad = (x: Int16Array) => {
      const out = new Int16Array(length);
      out.set(x);
      return out;
    };
    return { farLive, farPulled, near: mixInt16(pad(near), pad(echo)) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A pulled stream: `seconds` of `samples`, looped, in 10 ms frames (each on its own buffer). */
async function* pulledSpeech(samples: Int16Array, seconds: number): AsyncGenerator<AudioFrame> {
  const frames = Math.floor(samples.length / FRAME);
  for (let n = 0; n < seconds * 100; n++) {
    const at = (n % frames) * FRAME;
    yield new AudioFrame(samples.slice(at, at + FRAME), RATE, 1, FRAME);
  }
}

/**
 * A track's audio waiting in the player (private, read for the benchmark only), samples per channel: its backlog
 * and what its ring in the device's mixer holds (at the device's rate, which is the player's here).
 */
function trackQueueOf(
  player: OutputPlayer,
  track: LoopedTrack,
): { backlog: number; ring: number } | undefined {
  const internals = player as unknown as {
    tracks: Map<unknown, { bufferedFrames: number }>;
    link: {
      mixer: { bufferedFrames(slot: number): number };
      feeds: Map<unknown, { slot: number }>;
    };
  };
  const source = internals.tracks.get(track.track);
  const feed = source && internals.link.feeds.get(source);
  if (!source || !feed) return undefined;
  return { backlog: source.bufferedFrames, ring: internals.link.mixer.bufferedFrames(feed.slot) };
}

/** Every cumulative counter the run reports, read at one moment. */
interface Snapshot {
  at: number;
  input: DeviceStreamStats;
  output: DeviceStreamStats;
  capture: InputCaptureStats;
  player: OutputPlayerStats;
  published: number;
  burstExcessFrames: number;
  liveFed: number;
  pulledRestarts: number;
  cpuMicros: number;
  loadCpuSeconds: number | undefined;
  stalledMs: number;
}

/** What happened between two snapshots. */
function difference(a: Snapshot, b: Snapshot, blockMs: number) {
  const d = <T extends object>(x: T, y: T, key: keyof T) => (y[key] as number) - (x[key] as number);
  const inp = (key: keyof DeviceStreamStats) => d(a.input, b.input, key);
  const out = (key: keyof DeviceStreamStats) => d(a.output, b.output, key);
  const cap = (key: keyof InputCaptureStats) => d(a.capture, b.capture, key);
  const ply = (key: keyof OutputPlayerStats) => d(a.player, b.player, key);
  const seconds = (b.at - a.at) / 1000;
  const deviceXruns = {
    inputOverflows: inp('inputOverflows'),
    inputUnderflows: inp('inputUnderflows'),
    outputUnderflows: out('outputUnderflows'),
    outputOverflows: out('outputOverflows'),
  };
  const rings = {
    inputOverruns: inp('inputRingOverruns'),
    inputDroppedMs: round(inp('inputDroppedFrames') / (RATE / 1000), 1),
    outputUnderruns: ply('underruns'),
    outputSilenceMs: round(ply('underrunFrames') / (RATE / 1000), 1),
    renderedOverruns: out('renderedRingOverruns'),
  };
  const capture = {
    framesCaptured: cap('framesCaptured'),
    framesPublishedReceived: b.published - a.published,
    framesDropped: cap('framesDropped'),
    burstExcessFrames: b.burstExcessFrames - a.burstExcessFrames,
    processingErrors: cap('processingErrors'),
  };
  const player = {
    renderedMs: round(ply('renderedFrames') / (RATE / 1000), 1),
    droppedMs: round(ply('droppedFrames') / (RATE / 1000), 1),
    correctedMs: round(ply('correctedFrames') / (RATE / 1000), 1),
    starvedMs: round(ply('starvedFrames') / (RATE / 1000), 1),
    reverseFrames: ply('reverseFrames'),
    processingErrors: ply('processingErrors'),
    sourceErrors: ply('sourceErrors'),
    liveTrackFramesFed: b.liveFed - a.liveFed,
    pulledStreamRestarts: b.pulledRestarts - a.pulledRestarts,
  };
  const loadSeconds =
    a.loadCpuSeconds === undefined || b.loadCpuSeconds === undefined
      ? undefined
      : b.loadCpuSeconds - a.loadCpuSeconds;
  return {
    seconds: round(seconds, 1),
    eventLoopStalledMs: round(b.stalledMs - a.stalledMs, 1),
    deviceXruns,
    deviceXrunsTotal: Object.values(deviceXruns).reduce((s, v) => s + v, 0),
    rings,
    capture,
    player,
    droppedMs: round(
      capture.framesDropped * 10 +
        rings.inputDroppedMs +
        rings.renderedOverruns * blockMs +
        player.droppedMs,
      1,
    ),
    cpuPercent: {
      thisProcess: round(((b.cpuMicros - a.cpuMicros) / 1e6 / seconds) * 100, 1),
      loadProcess: loadSeconds === undefined ? null : round((loadSeconds / seconds) * 100, 1),
    },
  };
}

const errors: string[] = [];
const describe = (error: unknown) =>
  error instanceof Error ? `${error.name}: ${error.message}` : String(error);
/** Runs a closing step; a failure is recorded under `errors`, and the next step still runs. */
async function closeStep(what: string, step: () => Promise<void> | void): Promise<void> {
  try {
    await step();
  } catch (error) {
    errors.push(`${what}: ${describe(error)}`);
  }
}

const { farLive, farPulled, near } = await signals();
progress(
  `${minutes} min in ${windowCount} windows of ${windowSeconds} s, ${SPEAKER} -> ${MIC}` +
    (room ? ' (the rig room: a real echo path)' : ' (no room: a computed echo in the feed)') +
    (args['no-load'] ? ', no load' : ', one core loaded by a second process'),
);

const load: CpuLoad | undefined = args['no-load']
  ? undefined
  : startCpuLoad(totalSeconds + STARTUP_MS / 1000 + LOAD_MARGIN_SECONDS);
let feed: LoopedFeed | undefined;
let devices: MediaDevices | undefined;
let capture: InputCapture | undefined;
let player: OutputPlayer | undefined;
let live: LoopedTrack | undefined;
let published: PublishedReader | undefined;
const eventLoop = monitorEventLoopDelay({ resolution: 1 });
const stalls = starvationProbe();
const warnings: Record<string, number> = {};
const firstWarnings: string[] = [];
const windows: (ReturnType<typeof difference> & Record<string, unknown>)[] = [];
let startup: ReturnType<typeof difference> | undefined;
let totals: ReturnType<typeof difference> | undefined;
let rssAfterFirstWindow: number | undefined;
let rssAtEnd: number | undefined;
let latencyCapMs = NaN;
let maxQueuedMs = -Infinity;
let maxLiveBacklogMs = -Infinity;
let host: { inputMs: number; outputMs: number } | undefined;

try {
  feed = startLoopedFeed(MIC_FEED, near);
  devices = new MediaDevices();
  capture = devices.openInput({
    inputDevice: MIC,
    enableAec: true,
    noiseSuppression: true,
    highPassFilter: true,
    autoGainControl: true,
  });
  player = devices.openOutput({ outputDevice: SPEAKER });
  latencyCapMs = player.latencyCapMs;
  const blockMs = (devices.blocksize / RATE) * 1000;
  const playing = player;
  const capturing = capture;

  // A fatal error ends the run early; it is reported.
  let fatal: ((error: Error) => void) | undefined;
  const ended = new Promise<void>((resolve) => {
    fatal = (error) => {
      errors.push(describe(error));
      resolve();
    };
  });
  capture.on('error', (error) => fatal!(error));
  player.on('error', (error) => fatal!(error));
  const warn = (who: string) => (w: { code: string; message: string }) => {
    const key = `${who}:${w.code}`;
    warnings[key] = (warnings[key] ?? 0) + 1;
    if (firstWarnings.length < 10) firstWarnings.push(`${key}: ${w.message}`);
  };
  capture.on('warning', warn('capture'));
  player.on('warning', warn('player'));

  let latencies: number[] = [];
  capture.on('frame', (_frame, timing) =>
    latencies.push((timing.capturedAt - timing.adcTime) * 1000),
  );
  // The device's bursts: audio that reaches JavaScript in one wake-up (after the sound server stalled, it delivers
  // what it held all at once). Frames of a burst beyond the queue's capacity are dropped by design, whatever
  // JavaScript does; drops beyond those mean the queue was not drained in time.
  let burstMaxMs = 0;
  let burstExcessFrames = 0;
  capture.deviceStream.prependListener('input', (audio) => {
    const frames = audio.samples.length / audio.channels;
    const rate = capturing.deviceStream.sampleRate;
    burstMaxMs = Math.max(burstMaxMs, (frames / rate) * 1000);
    burstExcessFrames += Math.max(0, Math.ceil(frames / (rate / 100)) - capturing.queueCapacity);
  });
  // How long each captureFrame call takes to resolve (rtc-node's round trip): the capture sends one frame at a time,
  // so calls slower than 10 ms on average make its queue grow even while the event loop is on time.
  let captureFrameMs: number[] = [];
  const source = capture.source;
  const captureFrame = source.captureFrame.bind(source);
  source.captureFrame = async (frame: AudioFrame) => {
    const start = performance.now();
    try {
      await captureFrame(frame);
    } finally {
      captureFrameMs.push(performance.now() - start);
    }
  };
  let queued = new MaxMean();
  let liveBacklog = new MaxMean();
  live = new LoopedTrack('soak-far-live', farLive);
  const liveTrack = live;
  // Sampled after the player's own 'writable' listener has topped up the track's ring (it was added first).
  player.deviceStream.on('writable', () => {
    const queue = trackQueueOf(playing, liveTrack);
    if (!queue) return;
    const ringMs = queue.ring / (RATE / 1000);
    queued.add(ringMs);
    maxQueuedMs = Math.max(maxQueuedMs, ringMs);
    const backlogMs = queue.backlog / (RATE / 1000);
    liveBacklog.add(backlogMs);
    maxLiveBacklogMs = Math.max(maxLiveBacklogMs, backlogMs);
  });

  await player.addTrack(live.track);
  let pulled = pulledSpeech(farPulled, PULLED_STREAM_SECONDS);
  let pulledRestarts = 0;
  player.addStream(pulled);
  player.on('streamEnded', (stream) => {
    if (stream !== pulled || playing.closed) return;
    pulled = pulledSpeech(farPulled, PULLED_STREAM_SECONDS);
    playing.addStream(pulled);
    pulledRestarts++;
  });
  published = new PublishedReader(capture.source, capture.sampleRate, capture.numChannels);
  const reader = published;
  await player.start();

  const snapshot = (): Snapshot => ({
    at: performance.now(),
    input: capturing.deviceStream.stats,
    output: playing.deviceStream.stats,
    capture: capturing.stats,
    player: playing.stats,
    published: reader.frames,
    burstExcessFrames,
    liveFed: liveTrack.framesSent,
    pulledRestarts,
    cpuMicros: (() => {
      const u = process.cpuUsage();
      return u.user + u.system;
    })(),
    loadCpuSeconds: load?.cpuSeconds(),
    stalledMs: stalls.read().starvedMs,
  });

  const opened = snapshot();
  await Promise.race([sleep(STARTUP_MS), ended]);
  const first = snapshot();
  startup = difference(opened, first, blockMs);
  host = {
    inputMs: round(capture.deviceStream.latency.inputMs, 1),
    outputMs: round(player.deviceStream.latency.outputMs, 1),
  };
  latencies = [];
  captureFrameMs = [];
  burstMaxMs = 0;
  queued = new MaxMean();
  liveBacklog = new MaxMean();
  maxQueuedMs = -Infinity;
  maxLiveBacklogMs = -Infinity;
  eventLoop.enable();

  let previous = first;
  const windowMs = (totalSeconds * 1000) / windowCount;
  for (let w = 1; w <= windowCount; w++) {
    const wait = first.at + w * windowMs - performance.now();
    const stopped = await Promise.race([
      sleep(Math.max(0, wait)).then(() => false),
      ended.then(() => true),
    ]);
    const now = snapshot();
    const memory = process.memoryUsage();
    const window = {
      window: w,
      endSeconds: round((now.at - first.at) / 1000, 1),
      ...difference(previous, now, blockMs),
      captureLatencyMs: quantiles(latencies),
      captureFrameResolveMs: quantiles(captureFrameMs),
      inputBurstMaxMs: round(burstMaxMs, 1),
      queuedOutputMs: queued.summary(),
      liveBacklogMs: liveBacklog.summary(),
      memoryMB: { rss: mb(memory.rss), heapUsed: mb(memory.heapUsed) },
      eventLoopDelayMs: {
        p99: round(eventLoop.percentile(99) / 1e6),
        max: round(eventLoop.max / 1e6),
      },
      loadAverage1m: round(loadavg()[0]!),
    };
    windows.push(window);
    if (w === 1) rssAfterFirstWindow = memory.rss;
    rssAtEnd = memory.rss;
    progress(
      `window ${w}/${windowCount}: xruns ${window.deviceXrunsTotal}, dropped ${window.droppedMs} ms, ` +
        `underruns ${window.rings.outputUnderruns}, capture p99 ${window.captureLatencyMs.p99} ms, ` +
        `queued max ${window.queuedOutputMs.max} ms, live backlog max ${window.liveBacklogMs.max} ms, ` +
        `rss ${window.memoryMB.rss} MB, loop max ${window.eventLoopDelayMs.max} ms`,
    );
    previous = now;
    latencies = [];
    captureFrameMs = [];
    burstMaxMs = 0;
    queued = new MaxMean();
    liveBacklog = new MaxMean();
    eventLoop.reset();
    if (stopped) break;
  }
  eventLoop.disable();
  totals = difference(first, previous, blockMs);
} finally {
  await closeStep('closing the published stream reader', () => published?.close());
  await closeStep('closing the capture', () => capture?.aclose());
  await closeStep('closing the player', () => player?.aclose());
  await closeStep('closing the live track', () => live?.close());
  await closeStep('stopping the near-end feed', () => feed?.stop());
  await closeStep('stopping the CPU load', () => load?.stop());
  stalls.stop();
}

const rssGrowthMB =
  rssAfterFirstWindow === undefined || rssAtEnd === undefined
    ? null
    : mb(rssAtEnd - rssAfterFirstWindow);
const verdict = {
  deviceXruns: {
    value: totals?.deviceXrunsTotal ?? null,
    max: thresholds.maxDeviceXruns,
    pass: totals !== undefined && totals.deviceXrunsTotal <= thresholds.maxDeviceXruns,
  },
  droppedMs: {
    value: totals?.droppedMs ?? null,
    max: thresholds.maxDroppedMs,
    pass: totals !== undefined && totals.droppedMs <= thresholds.maxDroppedMs,
  },
  rssGrowthAfterFirstWindowMB: {
    value: rssGrowthMB,
    max: thresholds.maxRssGrowthMB,
    // One window has no growth after it to judge.
    pass: windows.length >= 2 && rssGrowthMB !== null && rssGrowthMB < thresholds.maxRssGrowthMB,
  },
  queuedOutputWithinCap: {
    maxQueuedOutputMs: Number.isFinite(maxQueuedMs) ? round(maxQueuedMs) : null,
    maxLiveBacklogMs: Number.isFinite(maxLiveBacklogMs) ? round(maxLiveBacklogMs) : null,
    latencyCapMs,
    pass:
      Number.isFinite(maxQueuedMs) &&
      maxQueuedMs <= latencyCapMs &&
      Number.isFinite(maxLiveBacklogMs) &&
      maxLiveBacklogMs <= latencyCapMs,
  },
  noErrors: { value: errors.length, pass: errors.length === 0 },
};
const pass = Object.values(verdict).every((v) => v.pass);
progress(`done: ${pass ? 'pass' : 'FAIL'}`);

console.log(
  JSON.stringify(
    {
      benchmark: 'soak',
      node: process.version,
      minutes,
      windowSeconds,
      windowsRun: windows.length,
      cpuLoad: args['no-load'] ? 'none' : 'one core (a second process spinning)',
      devices: {
        speaker: SPEAKER,
        microphone: MIC,
        echoPath: room ? 'rig room' : 'computed, in the feed',
      },
      hostLatencyMs: host ?? null,
      latencyCapMs,
      thresholds,
      windows,
      totals: totals ?? null,
      startup: startup ?? null,
      warnings,
      firstWarnings,
      errors,
      verdict,
      pass,
    },
    null,
    2,
  ),
);
await dispose();
