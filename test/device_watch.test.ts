/**
 * MediaDevices' device watch against the test sound server (scripts/audio-rig.sh), faults injected for real:
 * `devicechange` promptly on sink load/unload and default changes, every change seen and reads served from the
 * snapshot while devices churn, and a stalled server (SIGSTOP) that is a warning, not "no devices", with recovery
 * after SIGCONT.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { describe, expect, it } from 'vitest';
import { MediaDevices, type MediaDevicesWarning } from '../src/index.js';
import { sleep } from './support/device_io.js';
import { pactl, rigChildEnv, rigEnv } from './support/rig.js';

const rig = rigEnv();

/** A MediaDevices with a devicechange listener that records when each event came (performance.now(), ms). */
function watched(): { md: MediaDevices; changes: number[]; warnings: MediaDevicesWarning[] } {
  const md = new MediaDevices();
  const changes: number[] = [];
  const warnings: MediaDevicesWarning[] = [];
  md.on('devicechange', () => changes.push(performance.now()));
  md.on('warning', (w) => warnings.push(w));
  return { md, changes, warnings };
}

/** Waits until `list` holds more than `count` items, at most `timeoutMs`; true when it does. */
async function grows(list: unknown[], count: number, timeoutMs: number): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  while (list.length <= count && performance.now() < deadline) await sleep(5);
  return list.length > count;
}

/**
 * Runs `change` (a pactl command) and returns ms from pactl's return to the next devicechange (<= 0 when it came
 * first; Infinity when none came in 2 s). The server has made the change when it answers pactl; timing from pactl's
 * start would add the time a loaded machine takes to start a process.
 */
async function delayOfChange(changes: number[], change: () => Promise<unknown>): Promise<number> {
  const before = changes.length;
  await change();
  const changed = performance.now();
  if (!(await grows(changes, before, 2000))) return Infinity;
  return changes[before]! - changed;
}

describe('devicechange', () => {
  it('comes within 300 ms of loading and of unloading a sink', async () => {
    const { md, changes } = watched();
    const sink = 'lk_watch_probe';
    let module: string | undefined;
    try {
      const loadMs = await delayOfChange(changes, async () => {
        module = (await pactl('load-module', 'module-null-sink', `sink_name=${sink}`)).trim();
      });
      expect(loadMs).toBeLessThan(300);
      expect(md.listOutputDevices().some((d) => d.id === sink)).toBe(true);
      const unloadMs = await delayOfChange(changes, async () => {
        await pactl('unload-module', module!);
        module = undefined;
      });
      expect(unloadMs).toBeLessThan(300);
      expect(md.listOutputDevices().some((d) => d.id === sink)).toBe(false);
    } finally {
      if (module) await pactl('unload-module', module);
      md.removeAllListeners();
    }
  });

  it('comes within 300 ms of a change of the default sink and of the default source', async () => {
    const { md, changes } = watched();
    try {
      const sinkMs = await delayOfChange(changes, () => pactl('set-default-sink', rig.speakerB));
      expect(sinkMs).toBeLessThan(300);
      expect(md.defaultOutputDevice()?.id).toBe(rig.speakerB);
      const sourceMs = await delayOfChange(changes, () => pactl('set-default-source', rig.micB));
      expect(sourceMs).toBeLessThan(300);
      expect(md.defaultInputDevice()?.id).toBe(rig.micB);
    } finally {
      await pactl('set-default-sink', rig.speakerA);
      await pactl('set-default-source', rig.micA);
      md.removeAllListeners();
    }
  });
});

describe('the event loop while devices change', () => {
  // The event-loop delay itself is a benchmark's figure (bench/device_watch.ts, beside a baseline in the same run): on
  // a shared 2-core machine other processes alone delay the loop by 30-50 ms at times, with nothing of ours running.
  it('sees the changes one by one and serves a device-list read from the snapshot, with a change every 100 ms for 10 s', async () => {
    const { md, changes } = watched();
    const readMs: number[] = [];
    // Every change is followed by a full read, as an application reacting to it would.
    md.on('devicechange', () => {
      const t = performance.now();
      md.listInputDevices();
      md.listOutputDevices();
      readMs.push(performance.now() - t);
    });
    // The churn runs in its own process (one spawn, before measuring): 50 loads and 50 unloads, 100 ms apart.
    const churn = spawn(
      'bash',
      [
        '-c',
        `m=; trap '[[ -n $m ]] && pactl unload-module $m' EXIT
         for i in $(seq 50); do
           m=$(pactl load-module module-null-sink sink_name=lk_churn_probe) || exit 1; sleep 0.1
           pactl unload-module $m || exit 1; m=; sleep 0.1
         done`,
      ],
      { env: rigChildEnv(), stdio: 'ignore' },
    );
    const exited = new Promise<number | null>((resolve) => churn.once('exit', resolve));
    try {
      expect(await exited).toBe(0);
    } finally {
      churn.kill();
      md.removeAllListeners();
    }
    // Changes 100 ms apart are seen one by one (a few may fold into one event on a loaded machine).
    expect(changes.length).toBeGreaterThan(80);
    // Reads between two changes share one catalog (~0.02 ms); the first after a change copies the connection's
    // snapshot. The median keeps other processes' preemption out.
    readMs.sort((a, b) => a - b);
    expect(readMs[Math.floor(readMs.length / 2)]!).toBeLessThan(1);
  });
});

describe('a stalled sound server', () => {
  it('is a warning with its reason, keeps the device list, fires no devicechange, and recovers', async () => {
    const pid = Number(readFileSync(join(rig.dir!, 'pulseaudio.pid'), 'utf8').trim());
    expect(pid).toBeGreaterThan(1);
    const { md, changes, warnings } = watched();
    const before = md.listOutputDevices().map((d) => d.id);
    let stopped = false;
    try {
      process.kill(pid, 'SIGSTOP');
      stopped = true;
      expect(await grows(warnings, 0, 3000)).toBe(true);
      expect(warnings[0]).toMatchObject({ code: 'sound-server-stalled' });
      expect(warnings[0]!.message).toMatch(/not answered/);
      // Reads are served from the last listing, at once.
      const t = performance.now();
      expect(md.listOutputDevices().map((d) => d.id)).toEqual(before);
      expect(performance.now() - t).toBeLessThan(50);
      await sleep(1000);
      expect(warnings).toHaveLength(1); // once per stall, not once per heartbeat
    } finally {
      if (stopped) process.kill(pid, 'SIGCONT');
    }
    try {
      expect(changes).toHaveLength(0);
      // Back: a later change is seen again.
      const sink = 'lk_stall_probe';
      const module = (await pactl('load-module', 'module-null-sink', `sink_name=${sink}`)).trim();
      try {
        expect(await grows(changes, 0, 2000)).toBe(true);
        expect(md.listOutputDevices().some((d) => d.id === sink)).toBe(true);
      } finally {
        await pactl('unload-module', module);
      }
      expect(warnings).toHaveLength(1);
    } finally {
      md.removeAllListeners();
    }
  });
});
