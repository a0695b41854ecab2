/**
 * The device watch's cost on the JavaScript thread, against the rig (scripts/audio-rig.sh must be running; `npm run
 * bench` starts it). One child process, started before anything is measured, loads and unloads a sink every 100 ms
 * for the whole run. After a warm-up (the first listening second compiles and allocates what every later one reuses),
 * phases of `phaseSeconds` alternate: the process either only measures (baseline) or also listens to MediaDevices'
 * `devicechange` and reads both device lists on every event, as an application would. Prints JSON per phase kind:
 * events seen, event-loop delay (max, p99, mean; ms, 1 ms resolution), garbage-collection pauses (count, longest;
 * ms) and the time one listener call took (both list reads; median, max; ms). The difference between the two kinds
 * is what the watch costs; what they share is the machine (other processes' preemption, the collector).
 * Usage: node --import tsx bench/device_watch.ts [rounds, default 3] [phase seconds, default 10]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { monitorEventLoopDelay, PerformanceObserver, performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { MediaDevices } from '../src/index.js';

const rounds = Number(process.argv[2] ?? 3);
const phaseSeconds = Number(process.argv[3] ?? 10);
const WARM_UP_MS = 2000;

interface Phase {
  events: number;
  loopDelayMaxMs: number;
  loopDelayP99Ms: number;
  loopDelayMeanMs: number;
  gcPausesMs: number[];
  listenerMs: number[];
}

/** Loads and unloads a null sink every 100 ms until killed (the sink is unloaded on the way out). */
function startChurn(): ChildProcess {
  return spawn(
    'bash',
    [
      '-c',
      `m=; trap '[[ -n $m ]] && pactl unload-module $m; exit 0' EXIT TERM
       while :; do
         m=$(pactl load-module module-null-sink sink_name=lk_bench_watch_probe) || exit 1; sleep 0.1
         pactl unload-module $m || exit 1; m=; sleep 0.1
       done`,
    ],
    { stdio: 'ignore' },
  );
}

const gcPauses: number[] = [];
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) gcPauses.push(entry.duration);
}).observe({ entryTypes: ['gc'] });

async function phase(listen: boolean, durationMs: number): Promise<Phase> {
  const md = new MediaDevices();
  const listenerMs: number[] = [];
  if (listen) {
    md.on('devicechange', () => {
      const t = performance.now();
      md.listInputDevices();
      md.listOutputDevices();
      listenerMs.push(performance.now() - t);
    });
  }
  gcPauses.length = 0;
  const delay = monitorEventLoopDelay({ resolution: 1 });
  delay.enable();
  try {
    await sleep(durationMs);
  } finally {
    delay.disable();
    md.removeAllListeners();
  }
  return {
    events: listenerMs.length,
    loopDelayMaxMs: delay.max / 1e6,
    loopDelayP99Ms: delay.percentile(99) / 1e6,
    loopDelayMeanMs: delay.mean / 1e6,
    gcPausesMs: [...gcPauses],
    listenerMs,
  };
}

const round3 = (v: number) => Math.round(v * 1000) / 1000;
const median = (values: number[]) =>
  [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? NaN;

function summary(phases: Phase[]) {
  const calls = phases.flatMap((p) => p.listenerMs);
  return {
    phases: phases.length,
    eventsPerPhase: phases.map((p) => p.events),
    loopDelayMaxMs: phases.map((p) => round3(p.loopDelayMaxMs)),
    loopDelayP99Ms: phases.map((p) => round3(p.loopDelayP99Ms)),
    loopDelayMeanMs: phases.map((p) => round3(p.loopDelayMeanMs)),
    gcPauses: phases.map((p) => p.gcPausesMs.length),
    gcPauseMaxMs: phases.map((p) => round3(Math.max(0, ...p.gcPausesMs))),
    listenerMedianMs: calls.length > 0 ? round3(median(calls)) : null,
    listenerMaxMs: calls.length > 0 ? round3(Math.max(...calls)) : null,
  };
}

// The first MediaDevices connects to the sound server (a one-time wait): done before measuring.
new MediaDevices().listOutputDevices();
const churn = startChurn();
const churnFailed = new Promise<never>((_, reject) =>
  churn.once('exit', (code) => reject(new Error(`the sink churn exited (${code})`))),
);
churnFailed.catch(() => {});
const baseline: Phase[] = [];
const watched: Phase[] = [];
try {
  await Promise.race([phase(true, WARM_UP_MS), churnFailed]);
  for (let i = 0; i < rounds; i++) {
    console.error(`device_watch: round ${i + 1} of ${rounds}`);
    baseline.push(await Promise.race([phase(false, phaseSeconds * 1000), churnFailed]));
    watched.push(await Promise.race([phase(true, phaseSeconds * 1000), churnFailed]));
  }
} finally {
  churn.removeAllListeners('exit');
  churn.kill('SIGTERM');
}
console.log(
  JSON.stringify({ phaseSeconds, baseline: summary(baseline), watched: summary(watched) }, null, 2),
);
