/**
 * A listener that throws, on each event of each class, while a capture and a player run on the rig (one child
 * process per case, test/fixtures/throwing_listener.ts): with an `uncaughtException` handler the process survives,
 * audio keeps flowing and aclose() resolves; without one, Node ends the process as for any uncaught exception
 * (status 1), never with std::terminate's SIGABRT (134).
 */
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { rigChildEnv } from './support/rig.js';

const TARGETS = [
  'DeviceStream.input',
  'DeviceStream.rendered',
  'DeviceStream.writable',
  'InputCapture.frame',
  'InputCapture.overflow',
  'InputCapture.warning',
  'OutputPlayer.warning',
  'OutputPlayer.overflow',
  'OutputPlayer.streamEnded',
  'OutputPlayer.trackEnded',
  'MediaDevices.devicechange',
  'MediaDevices.warning',
];

// Node's exit status for an uncaught exception (https://nodejs.org/api/process.html#exit-codes).
const UNCAUGHT_EXCEPTION_STATUS = 1;

interface Outcome {
  thrown: number;
  otherListener: number;
  before: { frames: number; rendered: number };
  after: { frames: number; rendered: number };
  closed: boolean;
}

async function runChild(
  target: string,
  handler: boolean,
): Promise<{ code: number | null; signal: string | null; out: string; err: string }> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', 'test/fixtures/throwing_listener.ts', target, handler ? '1' : '0'],
    { env: rigChildEnv(), stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  // A child that hangs (an aclose() that never resolves) fails here, not by the test's timeout.
  const killer = setTimeout(() => child.kill('SIGKILL'), 40_000);
  const [code, signal] = await new Promise<[number | null, string | null]>((resolve) =>
    child.on('exit', (c, s) => resolve([c, s])),
  );
  clearTimeout(killer);
  return { code, signal, out, err };
}

describe('a listener that throws', () => {
  it.each(TARGETS)(
    '%s: with a handler, reported as uncaughtException; audio flows on; aclose() resolves',
    { timeout: 60_000 },
    async (target) => {
      const { code, signal, out, err } = await runChild(target, true);
      expect({ code, signal }, `stderr:\n${err}`).toEqual({ code: 0, signal: null });
      const outcome = JSON.parse(out.trim().split('\n').at(-1)!) as Outcome;
      expect(outcome.thrown, 'the listener threw at least once').toBeGreaterThan(0);
      expect(outcome.otherListener, 'the next listener heard every event').toBe(outcome.thrown);
      // In the second after the faults the capture still publishes and the player still plays (no pace is
      // asserted: the machine is shared).
      expect(outcome.after.frames).toBeGreaterThan(outcome.before.frames);
      expect(outcome.after.rendered).toBeGreaterThan(outcome.before.rendered);
      expect(outcome.closed).toBe(true);
    },
  );

  it.each(TARGETS)(
    "%s: without a handler, the process ends with Node's uncaught-exception status, not SIGABRT",
    { timeout: 60_000 },
    async (target) => {
      const { code, signal, err } = await runChild(target, false);
      expect(signal, `stderr:\n${err}`).toBeNull();
      expect(code, `stderr:\n${err}`).toBe(UNCAUGHT_EXCEPTION_STATUS);
      expect(code).not.toBe(134);
      expect(err).toContain('Error: listener boom');
      expect(err).not.toContain('terminate called');
    },
  );
});
