/**
 * vitest globalSetup: makes sure the tests run against the audio rig (scripts/audio-rig.sh).
 *
 * - If the environment already names a running rig (LK_AUDIO_RIG=1 and PULSE_SERVER answers with the rig's
 *   devices, e.g. after `eval "$(scripts/audio-rig.sh start)"` or in .ci/run), it is used and left running.
 * - Otherwise a private rig is started for this run in .rig/vitest-<pid> (so concurrent runs in one checkout do
 *   not share or stop each other's server), its environment is put into process.env for the test workers, and
 *   it is stopped after the run. If vitest is killed before it can stop it, the rig stops itself (the script's
 *   owner-pid watcher), and the next run clears what is left.
 *
 * A PULSE_SERVER that is not a rig (the user's own sound server) is never used: tests play tones.
 * Without PulseAudio installed, the run goes on without a rig (tests that need one fail with instructions),
 * unless LK_AUDIO_RIG_REQUIRED=1.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { clearStaleRigs, rigAnswers, run, startRig, stopRig } from '../../scripts/audio_rig.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const RIG_PARENT = join(ROOT, '.rig');

export default async function setup(): Promise<(() => Promise<void>) | undefined> {
  if (await rigAnswers(process.env)) return undefined;

  const required = process.env.LK_AUDIO_RIG_REQUIRED === '1';
  const have = await run('bash', ['-c', 'command -v pulseaudio && command -v pactl'], process.env);
  if (have.code !== 0) {
    const msg =
      'audio rig: pulseaudio/pactl not installed, running without a sound server ' +
      '(Debian: apt-get install pulseaudio pulseaudio-utils sox)';
    if (required) throw new Error(msg);
    console.warn(msg);
    return undefined;
  }

  await clearStaleRigs(RIG_PARENT);
  let dir = join(RIG_PARENT, `vitest-${process.pid}`);
  let ownDir = false;
  // A unix socket path holds about 100 characters: fall back to the temp dir for a deep checkout.
  if (join(dir, 'native').length > 100) {
    dir = mkdtempSync(join(tmpdir(), 'lk-rig-'));
    ownDir = true;
  }
  const exported = await startRig(dir);
  const previous: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(exported)) {
    previous[k] = process.env[k];
    process.env[k] = v;
  }

  return async () => {
    await stopRig(dir);
    for (const [k, v] of Object.entries(previous)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
    if (ownDir || dir.startsWith(RIG_PARENT)) rmSync(dir, { recursive: true, force: true });
  };
}
