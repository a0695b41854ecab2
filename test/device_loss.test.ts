/**
 * A lost device ends a capture and a player (opened without followDefault) with a DeviceLostError `error` event and
 * leaves them closed, and the process can exit.
 * The loss is the sound server going away (a private rig of this test's own, so the shared one is untouched): a
 * PulseAudio sink or source that is merely unloaded is not a loss here, because the server moves its streams to
 * the default device.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { startRig, stopRig } from '../scripts/audio_rig.js';

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
        >;
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
      } finally {
        await stopRig(dir);
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );
});
