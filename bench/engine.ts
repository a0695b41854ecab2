/**
 * Native audio engine benchmark against the rig (scripts/audio-rig.sh must be running; `npm run bench` starts it).
 * Prints JSON: for 10 ms and 100 ms device buffers,
 * - wakeMs: callback-to-JavaScript wake-up latency (stream clock when the 'input' event runs minus the newest
 *   block's callback time), median and p99;
 * - roundTripMs: a click written to virtual speaker A, captured back from its monitor: time from write() to the
 *   moment JavaScript holds the captured click, split into write->DAC, DAC->ADC and ADC->JavaScript.
 * Usage: node --import tsx bench/engine.ts [seconds per configuration, default 10]
 */
import { DeviceStream, type TimedAudio } from '../src/index.js';

const RATE = 48000;
const seconds = Number(process.argv[2] ?? 10);
const speaker = process.env.LK_RIG_SPEAKER_A ?? 'lk_speaker_a';

const quantiles = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number) =>
    sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
  const round = (v: number) => Math.round(v * 1000) / 1000;
  return { median: round(at(0.5)), p99: round(at(0.99)), n: values.length };
};

/** Time (stream clock, s) of the first sample above the threshold in a chunk, from its block timing. */
function clickTime(audio: TimedAudio, clock: 'adcTime' | 'dacTime'): number | null {
  let offset = 0;
  for (const block of audio.blocks) {
    for (let i = 0; i < block.frames; i++) {
      if (Math.abs(audio.samples[offset + i]!) > 8000) return block[clock] + i / RATE;
    }
    offset += block.frames;
  }
  return null;
}

async function run(bufferMs: number) {
  const framesPerBuffer = (RATE * bufferMs) / 1000;
  // The low-latency configuration against the Python original's: 100 ms blocks at the host's 'high' latency.
  const latencyMs = bufferMs === 10 ? ('low' as const) : ('high' as const);
  const input = DeviceStream.open({
    input: { device: `${speaker}.monitor`, channels: 1, latencyMs },
    sampleRate: RATE,
    framesPerBuffer,
  });
  const output = DeviceStream.open({
    output: { device: speaker, channels: 1, latencyMs },
    sampleRate: RATE,
    framesPerBuffer,
    captureRendered: true,
  });
  const wake: number[] = [];
  const writeToDac: number[] = [];
  const dacToAdc: number[] = [];
  const adcToJs: number[] = [];
  const writeToJs: number[] = [];
  let pending: { writtenAt: number; dac?: number } | null = null;
  input.on('input', (audio) => {
    const now = input.time();
    wake.push((now - audio.blocks[audio.blocks.length - 1]!.currentTime) * 1000);
    const adc = pending ? clickTime(audio, 'adcTime') : null;
    if (pending && adc !== null && pending.dac !== undefined) {
      writeToDac.push((pending.dac - pending.writtenAt) * 1000);
      dacToAdc.push((adc - pending.dac) * 1000);
      adcToJs.push((now - adc) * 1000);
      writeToJs.push((now - pending.writtenAt) * 1000);
      pending = null;
    }
  });
  output.on('rendered', (audio) => {
    const dac = pending ? clickTime(audio, 'dacTime') : null;
    if (pending && dac !== null) pending.dac = dac;
  });
  input.start();
  output.start();
  const click = new Int16Array(48).fill(16000);
  const end = Date.now() + seconds * 1000;
  while (Date.now() < end) {
    await new Promise((r) => setTimeout(r, 2 * bufferMs + 50 + Math.random() * 50));
    if (pending) continue; // the last click was lost (should not happen); wait for it
    pending = { writtenAt: output.time() };
    output.write(click);
  }
  const stats = {
    input: input.stats,
    output: output.stats,
    latency: { ...input.latency, ...output.latency },
  };
  input.close();
  output.close();
  return {
    bufferMs,
    wakeMs: quantiles(wake),
    roundTripMs: {
      writeToJs: quantiles(writeToJs),
      writeToDac: quantiles(writeToDac),
      dacToAdc: quantiles(dacToAdc),
      adcToJs: quantiles(adcToJs),
    },
    hostLatencyMs: { input: stats.latency.inputMs, output: stats.latency.outputMs },
    xruns: {
      inputOverflows: stats.input.inputOverflows,
      inputRingOverruns: stats.input.inputRingOverruns,
      outputUnderflows: stats.output.outputUnderflows,
    },
  };
}

const results = [];
for (const bufferMs of [10, 100]) results.push(await run(bufferMs));
console.log(
  JSON.stringify(
    { benchmark: 'engine', sampleRate: RATE, secondsPerRun: seconds, results },
    null,
    2,
  ),
);
