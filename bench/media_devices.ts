/**
 * MediaDevices benchmark against the rig (scripts/audio-rig.sh must be running). Runs these configurations in one
 * process and prints JSON with the figures of each and their ratios:
 * - `ours`: MediaDevices defaults (10 ms device blocks, the host's 'low' latency, sound-server devices through
 *   libpulse);
 * - `oursPortaudio`: the same through PortAudio and ALSA's `pulse` plugin (`soundServerBackend: 'portaudio'`);
 * - `oursBlocks5ms`: `new MediaDevices({ blocksize: 240 })` (5 ms device blocks);
 * - `oursBuffer10`: defaults with `openOutput({ bufferMs: 10 })`, playout only;
 * - `pythonOriginal`: `new MediaDevices({ blocksize: 4800, latencyMs: 'high' })` (100 ms blocks, 'high' latency).
 *
 * For each configuration, two phases, both full duplex (openInput on microphone A with all four processing
 * options on, openOutput on speaker A):
 * 1. Playout (`latencySeconds`): frames with coded clicks are handed to the player, first as a live stream (a
 *    10 ms timer, like a remote track: `addStream(..., { live: true })`), then as short pulled streams that start
 *    with a click (an agent's reply, a file: how soon a new stream is heard; later frames of a pulled stream are
 *    read ahead on purpose, so their yield time says nothing about latency). `playoutLatencyMs` = time a click frame was handed to the player (the generator yields it; device clock)
 *    -> DAC time of its first sample, taken as the ADC time of the click on speaker A's monitor, captured by a
 *    separate low-latency DeviceStream (the rig's monitor loopback adds ~0.2-0.7 ms: bench/engine.ts dacToAdc).
 *    `portAudioDacMs` is the same interval to the DAC time PortAudio reports for the rendered click, as a check.
 * 2. CPU (`cpuSeconds`): microphone A is fed far-end echo plus noise by pacat, looped by a shell (other processes:
 *    bench/soak/looped_feed.ts); the player plays the far end as a pulled stream. `captureLatencyMs` = per 10 ms frame, ADC time of the frame's FIRST sample
 *    -> the captureFrame call (InputCapture's 'frame' event), so it includes the frame's own 10 ms.
 *    `cpu.percent` = process.cpuUsage() (user+system, all threads) over wall time of the window; `bareApm` is the
 *    cost of setStreamDelayMs + processReverseStream + processStream on the same audio and number of 10 ms frames
 *    in a fresh AudioProcessingModule, timed offline afterwards; `cpu.overBareApm` is their ratio. Then, for
 *    `cpuSeconds / 2` each, the floors under any pipeline: the same device streams with JavaScript doing nothing
 *    but moving silence (`devicesOnly`), and AudioSource.captureFrame at real-time pace, as many frames per timer
 *    wake-up as the configuration's device block holds (`captureFrameAtPace`);
 *    `cpu.pipelineOverBareApm` is what remains over the bare processing module. `cpu.floorPercent` adds the
 *    processing module's and captureFrame's calls at the same pace without devices (`processingAndCaptureFrameAtPace`)
 *    to `devicesOnly`: the least any pipeline waking as often can cost. `cpu.byThreadPercent` splits the full-duplex
 *    window by thread (bench/thread_cpu.ts).
 *
 * `ours` and `oursPortaudio` also run a third phase, `underrunsUnderLoad`: full duplex with all processing for `underrunSeconds`
 * while another process keeps one core busy (bounded: it stops by itself), counting what the device and the rings
 * lost. `soundServerPaths` puts the two side by side with their ratios.
 *
 * Usage: node --import tsx bench/media_devices.ts [cpuSeconds, default 30] [latencySeconds per stream kind, default 10]
 *        [underrunSeconds, default 60]; LK_BENCH_CONFIGS=ours,oursPortaudio runs only the named configurations.
 */
import { AudioFrame, AudioSource, dispose } from '@livekit/rtc-node';
import { loadavg } from 'node:os';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { AudioProcessingModule } from '../src/apm.js';
import {
  DeviceStream,
  MediaDevices,
  type MediaDevicesOptions,
  type OpenOutputOptions,
  type OutputPlayer,
  type TimedAudio,
} from '../src/index.js';
import { applyEchoPath, mixInt16, seededRandom, whiteNoiseInt16 } from '../test/support/signal.js';
import { startCpuLoad } from './soak/cpu_load.js';
import { startLoopedFeed } from './soak/looped_feed.js';
import { readThreadCpu, threadCpuPercent } from './thread_cpu.js';

const RATE = 48000;
const FRAME = RATE / 100;
const cpuSeconds = Number(process.argv[2] ?? 30);
const latencySeconds = Number(process.argv[3] ?? 10);
const underrunSeconds = Number(process.argv[4] ?? 60);
// LK_BENCH_CONFIGS=ours,oursPortaudio runs only those (comma-separated names), in that order.
const onlyConfigs = process.env.LK_BENCH_CONFIGS?.split(',').filter((n) => n !== '');
const SPEAKER = process.env.LK_RIG_SPEAKER_A ?? 'lk_speaker_a';
const MIC = process.env.LK_RIG_MIC_A ?? 'lk_mic_a';
const MIC_FEED = process.env.LK_RIG_MIC_A_FEED ?? 'lk_mic_a_feed';
const WARMUP_MS = 1000;

interface Config {
  name: string;
  description: string;
  options: MediaDevicesOptions;
  output: OpenOutputOptions;
  /** Skip the CPU phase (a variant that differs only in playback). */
  playoutOnly?: boolean;
  /** Also run the underrun phase (full duplex under one core of load). */
  underrunPhase?: boolean;
}
const CONFIGS: Config[] = [
  {
    name: 'ours',
    description:
      'MediaDevices defaults: 10 ms blocks, low latency, sound-server devices through libpulse; openOutput defaults',
    options: {},
    output: {},
    underrunPhase: true,
  },
  {
    name: 'oursPortaudio',
    description:
      "as ours, sound-server devices through PortAudio and ALSA's pulse plugin (soundServerBackend: 'portaudio') " +
      'instead of libpulse',
    options: { soundServerBackend: 'portaudio' },
    output: {},
    underrunPhase: true,
  },
  {
    name: 'oursBlocks5ms',
    description:
      'blocksize 240 (5 ms device blocks): the host buffers two blocks, so 10 ms less each way, for more wake-ups',
    options: { blocksize: 240 },
    output: {},
  },
  {
    name: 'oursBuffer10',
    description:
      'as ours with openOutput bufferMs 10 (one block mixed ahead instead of two): playout phase only',
    options: {},
    output: { bufferMs: 10 },
    playoutOnly: true,
  },
  {
    name: 'pythonOriginal',
    description:
      "blocksize 4800 (100 ms blocks), latencyMs 'high'; openOutput defaults, which grow with the block " +
      '(bufferMs 110, latencyCapMs 150); the Python original has no cap at all',
    options: { blocksize: 4800, latencyMs: 'high' },
    output: {},
  },
];

// Far end: noise; near end: its echo plus quieter near-end noise (as bench/apm.ts), so every stage has work.
const SOURCE_FRAMES = 1000;
const far = whiteNoiseInt16(SOURCE_FRAMES * FRAME, -30, 1);
const mic = mixInt16(
  applyEchoPath(far, RATE, {
    delayMs: 40,
    directGainDb: -9,
    tailMs: 100,
    reflections: 16,
    seed: 2,
  }),
  whiteNoiseInt16(far.length, -50, 3),
);

// Clicks: a 1 ms pulse at the start of a frame; its amplitude codes the click's number modulo CODES.
const CODES = 8;
const clickAmplitude = (code: number) => 8000 + 3000 * code;
const CLICK_THRESHOLD = 5000;

const round = (v: number, digits = 3) => Math.round(v * 10 ** digits) / 10 ** digits;
const ratio = (a: number, b: number) => round(a / b);
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function quantiles(values: number[]) {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number) =>
    sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
  return {
    median: round(at(0.5)),
    p99: round(at(0.99)),
    min: round(sorted[0] ?? NaN),
    max: round(sorted[sorted.length - 1] ?? NaN),
    n: values.length,
  };
}

/** The player's private buffer of one stream, for diagnostics only. */
const sourceOf = (player: OutputPlayer, stream: AsyncIterable<AudioFrame>) =>
  (
    player as unknown as {
      streams: Map<
        AsyncIterable<AudioFrame>,
        { bufferedFrames: number; stats: { starvedFrames: number } }
      >;
    }
  ).streams.get(stream);

/** Clicks found in captured or rendered audio: code and time (s) of the first sample above the threshold. */
function findClicks(
  audio: TimedAudio,
  clock: 'adcTime' | 'dacTime',
  state: { lastClick: number },
): { code: number; time: number }[] {
  const found: { code: number; time: number }[] = [];
  let offset = 0;
  for (const block of audio.blocks) {
    for (let i = 0; i < block.frames; i++) {
      const v = Math.abs(audio.samples[(offset + i) * audio.channels]!);
      if (v < CLICK_THRESHOLD) continue;
      const time = block[clock] + i / RATE;
      // One detection per pulse (a pulse may straddle two blocks).
      if (time - state.lastClick < 0.05) continue;
      state.lastClick = time;
      found.push({ code: Math.round((v - clickAmplitude(0)) / 3000), time });
    }
    offset += block.frames;
  }
  return found;
}

interface Handed {
  code: number;
  handedAt: number;
  dac?: number;
  monitorAdc?: number;
}

/** Matches a detected click to the latest handed click with its code, handed before it was heard. */
function match(handed: Handed[], code: number, time: number, key: 'dac' | 'monitorAdc'): void {
  for (let i = handed.length - 1; i >= 0; i--) {
    const h = handed[i]!;
    if (h.code === code && h.handedAt < time && h[key] === undefined) {
      h[key] = time;
      return;
    }
  }
}

/** A 10 ms frame with the click of `code` at its start (marked handed now), or silence. */
function clickFrame(clock: DeviceStream, handed: Handed[], code: number | undefined): AudioFrame {
  const data = new Int16Array(FRAME);
  if (code !== undefined) {
    data.fill(clickAmplitude(code), 0, RATE / 1000);
    handed.push({ code, handedAt: clock.time() });
  }
  return new AudioFrame(data, RATE, 1, FRAME);
}

/**
 * A live stream: 10 ms frames yielded at real-time pace from a timer (a late timer yields the missed frames back
 * to back, like a remote track after a stall), with a click every 250-350 ms.
 */
async function* clickFrames(
  clock: DeviceStream,
  handed: Handed[],
  seed: number,
): AsyncGenerator<AudioFrame> {
  const random = seededRandom(seed);
  let nextClick = 10;
  let clicks = 0;
  let due = performance.now();
  for (let n = 0; ; n++) {
    due += 10;
    const wait = due - performance.now();
    if (wait > 0) await sleep(wait);
    const click = n === nextClick ? clicks++ % CODES : undefined;
    if (click !== undefined) nextClick += 25 + Math.floor(random() * 11);
    yield clickFrame(clock, handed, click);
  }
}

/**
 * A short pulled stream that starts with a click (an agent's reply, a sound effect): 100 ms, yielded as fast as
 * the player pulls. Its click measures how soon a new stream is heard.
 */
async function* clickStream(
  clock: DeviceStream,
  handed: Handed[],
  n: number,
): AsyncGenerator<AudioFrame> {
  yield clickFrame(clock, handed, n % CODES);
  for (let i = 1; i < 10; i++) yield clickFrame(clock, handed, undefined);
}

/** An endless pulled stream of the far-end signal, in 10 ms frames. */
async function* farEnd(): AsyncGenerator<AudioFrame> {
  for (let n = 0; ; n++) {
    const at = (n % SOURCE_FRAMES) * FRAME;
    yield new AudioFrame(far.slice(at, at + FRAME), RATE, 1, FRAME);
  }
}

/** The configuration's MediaDevices with microphone A captured (all four processing options) and speaker A. */
function openFullDuplex(config: Config) {
  const devices = new MediaDevices(config.options);
  const capture = devices.openInput({
    inputDevice: MIC,
    enableAec: true,
    noiseSuppression: true,
    highPassFilter: true,
    autoGainControl: true,
  });
  const player = devices.openOutput({ ...config.output, outputDevice: SPEAKER });
  return { devices, capture, player };
}

async function playoutPhase(config: Config) {
  const devices = new MediaDevices(config.options);
  const capture = devices.openInput({ inputDevice: MIC });
  const player = devices.openOutput({ ...config.output, outputDevice: SPEAKER });
  const load = loadavg()[0]!;
  // The measuring instrument: the same low-latency capture of the monitor for both configurations.
  const monitor = DeviceStream.open({
    input: { device: `${SPEAKER}.monitor`, channels: 1, latencyMs: 'low' },
    sampleRate: RATE,
    framesPerBuffer: FRAME,
    // The same instrument for every configuration (its clock is the wall clock, as libpulse streams' times).
    soundServerBackend: 'portaudio',
  });
  let handed: Handed[] = [];
  const monitorState = { lastClick: -1 };
  const renderState = { lastClick: -1 };
  monitor.on('input', (audio) => {
    for (const c of findClicks(audio, 'adcTime', monitorState))
      match(handed, c.code, c.time, 'monitorAdc');
  });
  player.deviceStream.on('rendered', (audio) => {
    for (const c of findClicks(audio, 'dacTime', renderState)) match(handed, c.code, c.time, 'dac');
  });
  // Where a handed frame waits: the source's own buffer (a live source keeps up to its cap), then the ring.
  const buffered: number[] = [];
  const backlog: number[] = [];
  let current: AsyncIterable<AudioFrame> | undefined;
  const sampler = setInterval(() => {
    buffered.push((player.bufferedFrames / RATE) * 1000);
    const source = current && sourceOf(player, current);
    if (source) backlog.push((source.bufferedFrames / RATE) * 1000);
  }, 3);
  monitor.start();
  await player.start();
  await sleep(WARMUP_MS);

  const results: Record<string, unknown> = {};
  for (const kind of ['liveStream', 'pulledStreamStart'] as const) {
    handed = [];
    buffered.length = 0;
    backlog.length = 0;
    const before = player.stats;
    if (kind === 'liveStream') {
      const stream = clickFrames(monitor, handed, 1);
      player.addStream(stream, { live: true });
      current = stream;
      await sleep(latencySeconds * 1000);
      await player.removeStream(stream);
    } else {
      current = undefined;
      const until = performance.now() + latencySeconds * 1000;
      for (let n = 0; performance.now() < until; n++) {
        player.addStream(clickStream(monitor, handed, n));
        await sleep(250 + (n % 5) * 23);
      }
    }
    await sleep(300); // let clicks in flight play out
    const after = player.stats;
    const heard = handed.filter((h) => h.monitorAdc !== undefined);
    results[kind] = {
      playoutLatencyMs: quantiles(heard.map((h) => (h.monitorAdc! - h.handedAt) * 1000)),
      portAudioDacMs: quantiles(
        handed.filter((h) => h.dac !== undefined).map((h) => (h.dac! - h.handedAt) * 1000),
      ),
      dacToMonitorAdcMs: quantiles(
        heard.filter((h) => h.dac !== undefined).map((h) => (h.monitorAdc! - h.dac!) * 1000),
      ),
      clicksHanded: handed.length,
      clicksHeard: heard.length,
      ...(kind === 'liveStream' ? { sourceBacklogMs: quantiles(backlog) } : {}),
      playerRingMs: quantiles(buffered),
      underruns: after.underruns - before.underruns,
      underrunMs: round(((after.underrunFrames - before.underrunFrames) / RATE) * 1000, 1),
      droppedMs: round(((after.droppedFrames - before.droppedFrames) / RATE) * 1000, 1),
      starvedMs: round(((after.starvedFrames - before.starvedFrames) / RATE) * 1000, 1),
    };
  }
  clearInterval(sampler);
  const host = {
    inputMs: round(capture.deviceStream.latency.inputMs),
    outputMs: round(player.deviceStream.latency.outputMs),
  };
  monitor.close();
  await player.aclose();
  await capture.aclose();
  return { loadAverage1m: [load, loadavg()[0]!], hostLatencyMs: host, ...results };
}

async function cpuPhase(config: Config) {
  const feed = startLoopedFeed(MIC_FEED, mic);
  const { devices, capture, player } = openFullDuplex(config);
  player.addStream(farEnd());
  await player.start();

  // Diagnostics: how long each captureFrame call takes to resolve, and the queue ahead of the AudioSource.
  const captureFrameMs: number[] = [];
  const queueLength: number[] = [];
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
  // The capture latency split: ADC time of a block's first sample -> its callback (host), callback -> JavaScript.
  const hostPart: number[] = [];
  const wake: number[] = [];
  const input = capture.deviceStream;
  input.prependListener('input', (audio) => {
    if (!measuring) return;
    const now = input.time();
    for (const block of audio.blocks) hostPart.push((block.currentTime - block.adcTime) * 1000);
    wake.push((now - audio.blocks[audio.blocks.length - 1]!.currentTime) * 1000);
  });
  const latency: number[] = [];
  let measuring = false;
  capture.on('frame', (_frame, timing) => {
    if (!measuring) return;
    latency.push((timing.capturedAt - timing.adcTime) * 1000);
    queueLength.push(capture.stats.queueLength);
  });
  await sleep(WARMUP_MS);

  const loop = monitorEventLoopDelay({ resolution: 1 });
  captureFrameMs.length = 0;
  measuring = true;
  const capture0 = capture.stats;
  const player0 = player.stats;
  loop.enable();
  const load = loadavg()[0]!;
  const threads0 = readThreadCpu();
  const cpu0 = process.cpuUsage();
  const wall0 = performance.now();
  await sleep(cpuSeconds * 1000);
  const cpu = process.cpuUsage(cpu0);
  const wallMs = performance.now() - wall0;
  const byThread = threadCpuPercent(threads0, readThreadCpu(), wallMs);
  loop.disable();
  measuring = false;
  const capture1 = capture.stats;
  const player1 = player.stats;

  await player.aclose();
  await capture.aclose();
  await feed.stop();

  const forwardFrames = capture1.framesCaptured - capture0.framesCaptured;
  const reverseFrames = player1.reverseFrames - player0.reverseFrames;
  const cpuMs = (cpu.user + cpu.system) / 1000;
  const bare = bareApm(forwardFrames, reverseFrames, capture1.streamDelayMs);
  const sourceCost = await bareCaptureFrame(forwardFrames);
  const devicesPercent = await devicesOnlyPercent(devices, cpuSeconds / 2);
  // The capture hands over its frames as the device delivers them: one per wake-up at 10 ms blocks, ten back to
  // back at 100 ms blocks.
  const framesPerWake = Math.max(1, Math.round(devices.blocksize / FRAME));
  const captureFramePercent = await callsAtPacePercent(cpuSeconds / 2, framesPerWake, false);
  const callsPercent = await callsAtPacePercent(cpuSeconds / 2, framesPerWake, true);
  const percent = (cpuMs / wallMs) * 100;
  const bareApmPercent = (bare.cpuMs / wallMs) * 100;
  return {
    loadAverage1m: [load, loadavg()[0]!],
    captureLatencyMs: quantiles(latency),
    captureLatencyFromLastSampleMs: quantiles(latency.map((v) => v - 10)),
    cpu: {
      wallMs: round(wallMs, 0),
      userMs: round(cpu.user / 1000, 0),
      systemMs: round(cpu.system / 1000, 0),
      percent: round(percent, 2),
      bareApmPercentOfWall: round(bareApmPercent, 2),
      overBareApm: ratio(cpuMs, bare.cpuMs),
      bareCaptureFramePercentOfWall: round((sourceCost.cpuMs / wallMs) * 100, 2),
      breakdownPercent: {
        devicesOnly: round(devicesPercent, 2),
        captureFrameAtPace: round(captureFramePercent, 2),
        bareApm: round(bareApmPercent, 2),
        rest: round(percent - devicesPercent - captureFramePercent - bareApmPercent, 2),
      },
      pipelineOverBareApm: ratio(percent - devicesPercent - captureFramePercent, bareApmPercent),
      byThreadPercent: byThread,
      // The floor of any pipeline at this block size: the devices alone plus the per-frame calls alone, at pace.
      floorPercent: {
        processingAndCaptureFrameAtPace: round(callsPercent, 2),
        withDevices: round(devicesPercent + callsPercent, 2),
      },
    },
    bareApm: { ...bare, cpuMs: round(bare.cpuMs, 1), wallMs: round(bare.wallMs, 1) },
    bareCaptureFrame: {
      ...sourceCost,
      cpuMs: round(sourceCost.cpuMs, 1),
      wallMs: round(sourceCost.wallMs, 1),
    },
    frames: { forward: forwardFrames, reverse: reverseFrames },
    diagnostics: {
      callbackAfterFirstSampleAdcMs: quantiles(hostPart),
      javaScriptWakeAfterCallbackMs: quantiles(wake),
      captureFrameResolveMs: quantiles(captureFrameMs),
      queueLengthAtCapture: quantiles(queueLength),
      eventLoopDelayMs: {
        median: round(loop.percentile(50) / 1e6),
        p99: round(loop.percentile(99) / 1e6),
        max: round(loop.max / 1e6),
      },
      input: {
        framesDropped: capture1.framesDropped - capture0.framesDropped,
        deviceOverflows: capture1.deviceOverflows - capture0.deviceOverflows,
        deviceDroppedFrames: capture1.deviceDroppedFrames - capture0.deviceDroppedFrames,
        processingErrors: capture1.processingErrors - capture0.processingErrors,
        streamDelayMs: capture1.streamDelayMs,
      },
      output: {
        underruns: player1.underruns - player0.underruns,
        underrunMs: round(((player1.underrunFrames - player0.underrunFrames) / RATE) * 1000, 1),
        deviceUnderflows: player1.deviceUnderflows - player0.deviceUnderflows,
        starvedMs: round(((player1.starvedFrames - player0.starvedFrames) / RATE) * 1000, 1),
      },
    },
  };
}

/**
 * Full duplex with all processing, the player mixing the far end (pulled) and a live click stream, for
 * `underrunSeconds` while another process keeps one core busy (bounded: it stops by itself): what the device and
 * the rings lost.
 */
async function underrunPhase(config: Config) {
  const feed = startLoopedFeed(MIC_FEED, mic);
  const load = startCpuLoad(underrunSeconds + 30);
  const { capture, player } = openFullDuplex(config);
  const pulled = farEnd();
  player.addStream(pulled);
  const live = clickFrames(player.deviceStream, [], 2);
  player.addStream(live, { live: true });
  await player.start();
  const starved = () => ({
    live: sourceOf(player, live)?.stats.starvedFrames ?? NaN,
    pulled: sourceOf(player, pulled)?.stats.starvedFrames ?? NaN,
  });
  const loop = monitorEventLoopDelay({ resolution: 1 });
  const latency: number[] = [];
  capture.on('frame', (_frame, timing) =>
    latency.push((timing.capturedAt - timing.adcTime) * 1000),
  );
  await sleep(WARMUP_MS);
  latency.length = 0;
  const load0 = loadavg()[0]!;
  const c0 = capture.stats;
  const p0 = player.stats;
  const in0 = capture.deviceStream.stats;
  const out0 = player.deviceStream.stats;
  const starved0 = starved();
  loop.enable();
  await sleep(underrunSeconds * 1000);
  loop.disable();
  const starved1 = starved();
  const c1 = capture.stats;
  const p1 = player.stats;
  const in1 = capture.deviceStream.stats;
  const out1 = player.deviceStream.stats;
  const loadCpuSeconds = load.cpuSeconds();
  await player.aclose();
  await capture.aclose();
  await load.stop();
  await feed.stop();
  return {
    seconds: underrunSeconds,
    loadAverage1m: [load0, loadavg()[0]!],
    loadProcessCpuSeconds: loadCpuSeconds === undefined ? null : round(loadCpuSeconds, 1),
    deviceOutputUnderflows: out1.outputUnderflows - out0.outputUnderflows,
    deviceInputOverflows: in1.inputOverflows - in0.inputOverflows,
    playerUnderruns: p1.underruns - p0.underruns,
    playerUnderrunMs: round(((p1.underrunFrames - p0.underrunFrames) / RATE) * 1000, 1),
    // Which source ran short in the mix: the live one (frames from a 10 ms timer of this process) or the pulled one.
    starvedMs: {
      live: round(((starved1.live - starved0.live) / RATE) * 1000, 1),
      pulled: round(((starved1.pulled - starved0.pulled) / RATE) * 1000, 1),
    },
    eventLoopDelayMs: {
      p99: round(loop.percentile(99) / 1e6),
      max: round(loop.max / 1e6),
    },
    inputRingOverruns: in1.inputRingOverruns - in0.inputRingOverruns,
    renderedRingOverruns: out1.renderedRingOverruns - out0.renderedRingOverruns,
    captureFramesDropped: c1.framesDropped - c0.framesDropped,
    captureDeviceDroppedFrames: c1.deviceDroppedFrames - c0.deviceDroppedFrames,
    captureLatencyMs: quantiles(latency),
  };
}

/** A processing module with all four options on, as the pipelines measured here. */
const allProcessing = () =>
  new AudioProcessingModule({
    echoCancellation: true,
    noiseSuppression: true,
    highPassFilter: true,
    autoGainControl: true,
  });

/** The same work in a bare AudioProcessingModule, offline: what the processing itself costs. */
function bareApm(forwardFrames: number, reverseFrames: number, delayMs: number) {
  const apm = allProcessing();
  const frame = (data: Int16Array) => ({
    data,
    sampleRate: RATE,
    channels: 1,
    samplesPerChannel: FRAME,
  });
  const farFrame = new Int16Array(FRAME);
  const micFrame = new Int16Array(FRAME);
  const cpu0 = process.cpuUsage();
  const wall0 = performance.now();
  for (let n = 0; n < Math.max(forwardFrames, reverseFrames); n++) {
    const at = (n % SOURCE_FRAMES) * FRAME;
    if (n < reverseFrames) {
      farFrame.set(far.subarray(at, at + FRAME));
      apm.processReverseStream(frame(farFrame));
    }
    if (n < forwardFrames) {
      micFrame.set(mic.subarray(at, at + FRAME));
      apm.setStreamDelayMs(delayMs);
      apm.processStream(frame(micFrame));
    }
  }
  const cpu = process.cpuUsage(cpu0);
  const wallMs = performance.now() - wall0;
  apm.close();
  return { cpuMs: (cpu.user + cpu.system) / 1000, wallMs, forwardFrames, reverseFrames };
}

/** What rtc-node's AudioSource.captureFrame alone costs for the same number of 10 ms frames (queue 0, as ours). */
async function bareCaptureFrame(frames: number) {
  const source = new AudioSource(RATE, 1, 0);
  const data = new Int16Array(FRAME);
  const cpu0 = process.cpuUsage();
  const wall0 = performance.now();
  for (let n = 0; n < frames; n++) await source.captureFrame(new AudioFrame(data, RATE, 1, FRAME));
  const cpu = process.cpuUsage(cpu0);
  const wallMs = performance.now() - wall0;
  await source.close();
  return { cpuMs: (cpu.user + cpu.system) / 1000, wallMs, frames };
}

/** CPU % of one core while `run` goes on for `seconds`. */
async function cpuPercentDuring(seconds: number, run: () => () => Promise<void> | void) {
  const stop = run();
  await sleep(WARMUP_MS);
  const cpu0 = process.cpuUsage();
  const wall0 = performance.now();
  await sleep(seconds * 1000);
  const cpu = process.cpuUsage(cpu0);
  const wallMs = performance.now() - wall0;
  await stop();
  return ((cpu.user + cpu.system) / 1000 / wallMs) * 100;
}

/**
 * The device I/O alone: the same microphone and speaker streams at the same block size and latency, JavaScript
 * only draining the input and what was rendered and writing silence. The floor under any pipeline on this host.
 */
function devicesOnlyPercent(devices: MediaDevices, seconds: number) {
  return cpuPercentDuring(seconds, () => {
    const direction = { channels: 1, latencyMs: devices.latencyMs };
    const input = DeviceStream.open({
      input: { ...direction, device: MIC },
      sampleRate: RATE,
      framesPerBuffer: devices.blocksize,
      soundServerBackend: devices.soundServerBackend,
    });
    const output = DeviceStream.open({
      output: { ...direction, device: SPEAKER },
      sampleRate: RATE,
      framesPerBuffer: devices.blocksize,
      captureRendered: true,
      soundServerBackend: devices.soundServerBackend,
    });
    const silence = new Int16Array(FRAME);
    input.on('input', () => {});
    output.on('rendered', () => {});
    output.on('writable', () => {
      while (output.outputBufferedFrames < devices.blocksize + FRAME) output.write(silence);
    });
    input.start();
    output.start();
    return () => {
      input.close();
      output.close();
    };
  });
}

/**
 * The calls every pipeline makes per 10 ms frame, at real-time pace, without devices: rtc-node's
 * AudioSource.captureFrame (queue 0), and with `withApm` first the processing module's setStreamDelayMs,
 * processReverseStream and processStream on the bench's far-end and microphone signals (all four options on). A
 * timer wakes every `framesPerWake` * 10 ms and handles that many frames back to back: what waking as often as the
 * configuration's device blocks costs these calls alone.
 */
function callsAtPacePercent(seconds: number, framesPerWake: number, withApm: boolean) {
  return cpuPercentDuring(seconds, () => {
    const source = new AudioSource(RATE, 1, 0);
    const apm = withApm ? allProcessing() : undefined;
    let running = true;
    const done = (async () => {
      let due = performance.now();
      for (let n = 0; running;) {
        due += 10 * framesPerWake;
        const wait = due - performance.now();
        if (wait > 0) await sleep(wait);
        for (let k = 0; k < framesPerWake; k++, n++) {
          const at = (n % SOURCE_FRAMES) * FRAME;
          const frame = new AudioFrame(mic.slice(at, at + FRAME), RATE, 1, FRAME);
          if (apm) {
            apm.setStreamDelayMs(40);
            apm.processReverseStream(new AudioFrame(far.slice(at, at + FRAME), RATE, 1, FRAME));
            apm.processStream(frame);
          }
          await source.captureFrame(frame);
        }
      }
    })();
    return async () => {
      running = false;
      await done;
      apm?.close();
      await source.close();
    };
  });
}

const results: Record<
  string,
  Partial<Awaited<ReturnType<typeof cpuPhase>>> & Record<string, unknown>
> = {};
const selected = onlyConfigs
  ? onlyConfigs.map((name) => {
      const config = CONFIGS.find((c) => c.name === name);
      if (!config) throw new Error(`LK_BENCH_CONFIGS: no configuration ${name}`);
      return config;
    })
  : CONFIGS;
for (const config of selected) {
  console.error(`media_devices: ${config.name}`);
  const playout = await playoutPhase(config);
  const cpu = config.playoutOnly ? {} : await cpuPhase(config);
  const underruns = config.underrunPhase ? { underrunsUnderLoad: await underrunPhase(config) } : {};
  results[config.name] = { description: config.description, ...cpu, playout, ...underruns };
}

type Full = Awaited<ReturnType<typeof cpuPhase>>;
type Playout = Awaited<ReturnType<typeof playoutPhase>> & {
  liveStream: { playoutLatencyMs: { median: number; p99: number } };
  pulledStreamStart: { playoutLatencyMs: { median: number; p99: number } };
};
type Underruns = Awaited<ReturnType<typeof underrunPhase>>;
const full = (name: string) =>
  results[name] as (Full & { playout: Playout; underrunsUnderLoad?: Underruns }) | undefined;

/** Ratios of configuration `a` over `b` (below 1: `a` is lower). */
function ratios(a: string, b: string) {
  const x = full(a);
  const y = full(b);
  if (!x || !y || !x.cpu || !y.cpu) return undefined;
  return {
    captureLatencyMedian: ratio(x.captureLatencyMs.median, y.captureLatencyMs.median),
    captureLatencyP99: ratio(x.captureLatencyMs.p99, y.captureLatencyMs.p99),
    livePlayoutLatencyMedian: ratio(
      x.playout.liveStream.playoutLatencyMs.median,
      y.playout.liveStream.playoutLatencyMs.median,
    ),
    livePlayoutLatencyP99: ratio(
      x.playout.liveStream.playoutLatencyMs.p99,
      y.playout.liveStream.playoutLatencyMs.p99,
    ),
    pulledStreamStartLatencyMedian: ratio(
      x.playout.pulledStreamStart.playoutLatencyMs.median,
      y.playout.pulledStreamStart.playoutLatencyMs.median,
    ),
    cpuPercent: ratio(x.cpu.percent, y.cpu.percent),
    devicesOnlyCpuPercent: ratio(
      x.cpu.breakdownPercent.devicesOnly,
      y.cpu.breakdownPercent.devicesOnly,
    ),
  };
}

/** The two sound-server paths side by side: the figures the choice of the default rests on. */
function soundServerPaths() {
  const pick = (name: string) => {
    const r = full(name);
    if (!r) return undefined;
    return {
      captureLatencyMs: r.captureLatencyMs && {
        median: r.captureLatencyMs.median,
        p99: r.captureLatencyMs.p99,
      },
      livePlayoutLatencyMs: {
        median: r.playout.liveStream.playoutLatencyMs.median,
        p99: r.playout.liveStream.playoutLatencyMs.p99,
      },
      pulledStreamStartMs: r.playout.pulledStreamStart.playoutLatencyMs.median,
      hostLatencyMs: r.playout.hostLatencyMs,
      cpuPercent: r.cpu?.percent,
      devicesOnlyCpuPercent: r.cpu?.breakdownPercent.devicesOnly,
      underrunsUnderLoad: r.underrunsUnderLoad,
    };
  };
  return {
    libpulse: pick('ours'),
    portaudio: pick('oursPortaudio'),
    libpulseOverPortaudio: ratios('ours', 'oursPortaudio'),
  };
}

/**
 * The must-holds of issue 11 ("latency at the floor") for a configuration, against the Python original's
 * configuration measured in the same run.
 */
function issueTargets(r: NonNullable<ReturnType<typeof full>>) {
  const python = full('pythonOriginal');
  const live = r.playout.liveStream.playoutLatencyMs;
  const load = r.underrunsUnderLoad;
  return {
    captureLatencyMedianAtMost10Ms: r.captureLatencyMs.median <= 10,
    captureLatencyP99AtMost20Ms: r.captureLatencyMs.p99 <= 20,
    livePlayoutLatencyMedianAtMost25Ms: live.median <= 25,
    livePlayoutLatencyP99AtMost35Ms: live.p99 <= 35,
    pulledStreamStartMedianAtMost25Ms: r.playout.pulledStreamStart.playoutLatencyMs.median <= 25,
    cpuAtMost10Percent: r.cpu.percent <= 10,
    cpuAtMost1point1xPython: python?.cpu ? r.cpu.percent <= 1.1 * python.cpu.percent : undefined,
    noUnderrunUnderLoad:
      load &&
      load.deviceOutputUnderflows +
        load.deviceInputOverflows +
        load.playerUnderruns +
        load.inputRingOverruns +
        load.renderedRingOverruns +
        load.captureFramesDropped +
        load.captureDeviceDroppedFrames ===
        0,
  };
}

const ours = full('ours');
console.log(
  JSON.stringify(
    {
      benchmark: 'media_devices',
      sampleRate: RATE,
      channels: 1,
      node: process.version,
      cpuSeconds,
      latencySecondsPerStreamKind: latencySeconds,
      definitions: {
        captureLatencyMs:
          "ADC time of a 10 ms frame's first sample -> captureFrame call (device clock); includes the frame's 10 ms",
        captureLatencyFromLastSampleMs: 'the same minus 10 ms: from the last sample of the frame',
        playoutLatencyMs:
          "click frame yielded to the player (device clock) -> its first sample's ADC time on the speaker monitor (= DAC time)",
        liveStream: 'addStream(..., { live: true }) fed by a 10 ms timer, like a remote track',
        pulledStreamStart:
          'a new pulled stream (an agent reply, a file) added every ~300 ms: its first frame yielded -> its DAC time',
        cpuPercent:
          'process.cpuUsage() user+system over the wall time of the full-duplex run (all threads), % of one core',
        bareApm:
          'setStreamDelayMs + processReverseStream + processStream on the same audio and frame counts, offline',
        breakdownPercent:
          'devicesOnly: the same device streams with JavaScript only draining/writing silence; captureFrameAtPace: ' +
          'AudioSource.captureFrame of silence at real-time pace, as many frames per timer wake-up as the ' +
          "configuration's device block holds (1 at 10 ms, 10 back to back at 100 ms); bareApm as above; rest: what " +
          'remains (our pipeline)',
        pipelineOverBareApm:
          '(percent - devicesOnly - captureFrameAtPace) / bareApm: the pipeline with its processing, over the processing',
        underrunsUnderLoad:
          'full duplex, all processing, the player mixing a pulled and a live stream, for underrunSeconds while ' +
          'another process spins on one core: device underflows/overflows (the sound server found the stream ' +
          'late), player underruns (the ring ran dry), ring overruns, capture drops',
        soundServerPaths:
          "ours (libpulse) and oursPortaudio (PortAudio through ALSA's pulse plugin) side by side; ratios below 1 " +
          'favour libpulse',
        bareCaptureFrame:
          'rtc-node AudioSource.captureFrame (queue 0) on the same number of 10 ms frames, back to back, ' +
          'offline: the work only; at real-time pace each call also pays thread wake-ups and costs several times more',
      },
      results,
      soundServerPaths: soundServerPaths(),
      oursOverPython: ratios('ours', 'pythonOriginal'),
      targets: ours && issueTargets(ours),
    },
    null,
    2,
  ),
);
await dispose();
