/**
 * A lost device ends a capture and a player (opened without followDefault) with a DeviceLostError `error` event and
 * leaves them closed, and the process can exit.
 * The loss is the sound server going away (a private rig of this test's own, so the shared one is untouched): a
 * PulseAudio sink or source that is merely unloaded is not a loss here, because the server moves its streams to
 * the default device. A server that merely stalls (suspended) is no loss either: it is waited for.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { startRig, stopRig } from '../scripts/audio_rig.js';
import { soundServerBackend } from '../src/backend/sound_server_backend.js';

describe('device loss', () => {
  it(
    'the sound server dying ends capture and playback with DeviceLostError (also following the default), closed, and the process exits',
    { timeout: 60_000 },
    async () => {
      const dir = mkdtempSync(join(tmpdir(), 'lk-loss-'));
      try {
        const rigEnv = await startRig(dir);
        const env: NodeJS.ProcessEnv = { ...process.env, ...rigEnv };
        delete env.PULSE_SINK;
        delete env.PULSE_SOURCE;
        const child = spawn(process.execPath, ['--import', 'tsx', 'test/fixtures/device_loss.ts'], {
          env,
          stdio: ['pipe', 'pipe', 'pipe'],
        });
        let out = '';
        let stopping: Promise<void> | undefined;
        child.stdout.on('data', (d: Buffer) => {
          out += d.toString();
          if (!stopping && out.includes('ready')) {
            child.stdin.write('lost\n');
            stopping = stopRig(dir);
          }
        });
        let err = '';
        child.stderr.on('data', (d: Buffer) => (err += d.toString()));
        const code = await new Promise<number | null>((resolve) => {
          // A child that hangs on a dead device fails here, not by the test's timeout.
          const killer = setTimeout(() => child.kill('SIGKILL'), 30_000);
          child.on('exit', (c) => {
            clearTimeout(killer);
            resolve(c);
          });
        });
        await stopping;
        expect(out, `child output; stderr:\n${err}`).toMatch(/^ready \d+ \d+$/m);
        expect(code, `the child must exit by itself; stderr:\n${err}`).toBe(0);
        const result = JSON.parse(out.trim().split('\n').at(-1)!) as Record<
          'capture' | 'player' | 'followingCapture' | 'followingPlayer',
          {
            name: string;
            message: string;
            cause?: string;
            closed: boolean;
            afterLossMs: number;
            moves: string[];
          }
        > & { thrownByErrorListeners: number };
        console.log(
          `device loss noticed after ${result.capture.afterLossMs} ms (capture), ` +
            `${result.player.afterLossMs} ms (player); following the default: ` +
            `${result.followingCapture.afterLossMs} ms (capture), ${result.followingPlayer.afterLossMs} ms ` +
            `(player), ${JSON.stringify(result.followingCapture)}, ${JSON.stringify(result.followingPlayer)}`,
        );
        for (const side of [result.capture, result.player]) {
          expect(side.name).toBe('DeviceLostError');
          expect(side.message).toMatch(/lost or failed/);
          expect(side.closed).toBe(true);
          // The watchdog's bound: 2 s without callbacks, checked every 0.5 s (plus the server's shutdown).
          expect(side.afterLossMs).toBeLessThan(10_000);
        }
        // Following the default, there is no default left to move to: the same error, saying why.
        for (const side of [result.followingCapture, result.followingPlayer]) {
          expect(side.name).toBe('DeviceLostError');
          expect(side.cause).toBeDefined();
          expect(side.closed).toBe(true);
          expect(side.moves).toEqual([]);
          expect(side.afterLossMs).toBeLessThan(10_000);
        }
        // A throwing `error` listener on each of the four: reported as uncaught, each time, and nothing else broke.
        expect(result.thrownByErrorListeners).toBe(4);
      } finally {
        await stopRig(dir);
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );

  it(
    'a stalled sound server (SIGSTOP for 4 s) is waited for: a warning, no error, capture and playback resume',
    { timeout: 60_000 },
    async () => {
      const result = await runStall(['4000']);
      // Twice the watchdog's 2 s of silence: a device watchdog that took the stall for a loss closed both.
      expect(result.events).toEqual(['warning: sound-server-stalled']);
      expect(result.open).toEqual([true, true]);
      // Nothing moved while the server slept (at most a block in flight), and audio moves again after it.
      expect(result.during.frames - result.before.frames).toBeLessThan(10);
      expect(result.after.frames - result.during.frames).toBeGreaterThan(50);
      expect(result.after.rendered - result.during.rendered).toBeGreaterThan(48000 / 2);
    },
  );

  it(
    'closing during a stall does not wait for the server: closed at once, the devices released when it answers',
    { timeout: 60_000 },
    async () => {
      // The child resumes the server from a timer on its own JavaScript thread: a close that blocked that thread
      // would never return, and the child would be killed.
      const result = await runStall(['4000', 'close']);
      expect(result.events).toEqual(['warning: sound-server-stalled']);
      expect(result.open).toEqual([false, false]);
      // PortAudio's streams are silenced and kept until the server answers; libpulse's are released at once (their
      // connections closed off the JavaScript thread, never waiting on the server).
      expect(result.openInStall).toBe(soundServerBackend(undefined) === 'portaudio' ? 2 : 0);
      expect(result.openAfter).toBe(0);
    },
  );
});

interface StallResult {
  before: { frames: number; rendered: number };
  during: { frames: number; rendered: number };
  after: { frames: number; rendered: number };
  events: string[];
  open: boolean[];
  openInStall?: number;
  openAfter: number;
}

/** Runs test/fixtures/server_stall.ts with `args` on a private rig; resolves with what it printed. */
async function runStall(args: string[]): Promise<StallResult> {
  const dir = mkdtempSync(join(tmpdir(), 'lk-stall-'));
  try {
    const env: NodeJS.ProcessEnv = { ...process.env, ...(await startRig(dir)) };
    delete env.PULSE_SINK;
    delete env.PULSE_SOURCE;
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', 'test/fixtures/server_stall.ts', ...args],
      { env, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const code = await new Promise<number | null>((resolve) => {
      const killer = setTimeout(() => child.kill('SIGKILL'), 40_000);
      child.on('exit', (c) => {
        clearTimeout(killer);
        resolve(c);
      });
    });
    expect(code, `stderr:\n${err}`).toBe(0);
    return JSON.parse(out.trim().split('\n').at(-1)!) as StallResult;
  } finally {
    await stopRig(dir);
    rmSync(dir, { recursive: true, force: true });
  }
}
