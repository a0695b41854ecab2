/**
 * The device watch's cost on the JavaScript thread, against the rig (scripts/audio-rig.sh must be running; `npm run
 * bench` starts it). A second process loads and unloads a sink every 100 ms; in alternating phases of the same run
 * the process either only measures (baseline) or also listens to MediaDevices' `devicechange` and reads both device
 * lists on every event, as an application would. Prints JSON per phase kind: events seen, event-loop delay (max,
 * p99, mean; ms, 1 ms resolution) and the time of one read of both lists (median, max; ms). The difference between
 * the two kinds is what the watch costs; what they share is the machine (other processes' preemption).
 * Usage: node --import tsx bench/device_watch.ts [rounds, default 3] [changes per phase, default 50]
 */
import { spawn } from 'node:child_process';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { MediaDevices } from '../src/index.js';

const rounds = Number(process.argv[2] ?? 3);
const changesPerPhase = Number(process.argv[3] ?? 50);

interface Phase {
  events: number;
  loopDelayMaxMs: number;
  loopDelayP99Ms: number;
  loopDelayMeanMs: number;
  readMs: number[];
}

/** Loads and unloads a null sink every 100 ms in a child process, `changes` changes in all. */
function churn(changes: number): Promise<void> {
  const child = spawn(
    'bash',
    [
      '-c',
      `m=; trap '[[ -n $m ]] && pactl unload-module $m' EXIT
       for i in $(seq ${Math.ceil(changes / 2)}); do
         m=$(pactl load-module module-null-sink sink_name=lk_bench_watch_probe) || exit 1; sleep 0.1
         pactl unload-module $m || exit 1; m=; sleep 0.1
       done`,
    ],
    { stdio: 'ignore' },
  );
  return new Promise((resolve, reject) =>
    child.once('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`churn exited ${code}`)),
    ),
  );
}

async function phase(listen: boolean): Promise<Phase> {
  const md = new MediaDevices();
  const readMs: number[] = [];
  let events = 0;
  if (listen) {
    md.on('devicechange', () => {
      events++;
      const t = performance.now();
      md.listInputDevices();
      md.listOutputDevices();
      readMs.push(performance.now() - t);
    });
  }
  const delay = monitorEventLoopDelay({ resolution: 1 });
  delay.enable();
  try {
    await churn(changesPerPhase);
  } finally {
    delay.disable();
    md.removeAllListeners();
  }
  return {
    events,
    loopDelayMaxMs: delay.max / 1e6,
    loopDelayP99Ms: delay.percentile(99) / 1e6,
    loopDelayMeanMs: delay.mean / 1e6,
    readMs,
  };
}

const round3 = (v: number) => Math.round(v * 1000) / 1000;
const median = (values: number[]) =>
  [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? NaN;

function summary(phases: Phase[]) {
  const reads = phases.flatMap((p) => p.readMs);
  return {
    phases: phases.length,
    eventsPerPhase: phases.map((p) => p.events),
    loopDelayMaxMs: phases.map((p) => round3(p.loopDelayMaxMs)),
    loopDelayP99Ms: phases.map((p) => round3(p.loopDelayP99Ms)),
    loopDelayMeanMs: phases.map((p) => round3(p.loopDelayMeanMs)),
    readMedianMs: reads.length > 0 ? round3(median(reads)) : null,
    readMaxMs: reads.length > 0 ? round3(Math.max(...reads)) : null,
  };
}

// The first MediaDevices connects to the sound server (a one-time wait): done before measuring.
new MediaDevices().listOutputDevices();
const baseline: Phase[] = [];
const watched: Phase[] = [];
for (let i = 0; i < rounds; i++) {
  console.error(`device_watch: round ${i + 1} of ${rounds}`);
  baseline.push(await phase(false));
  watched.push(await phase(true));
}
console.log(
  JSON.stringify(
    { changesPerPhase, baseline: summary(baseline), watched: summary(watched) },
    null,
    2,
  ),
);
