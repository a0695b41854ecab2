/**
 * Starting and stopping the private sound server of scripts/audio-rig.sh from Node: for the tests' global set-up,
 * the benchmarks and the demo. Everything runs through the script; nothing here talks to a sound server itself.
 */
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SCRIPT = join(ROOT, 'scripts', 'audio-rig.sh');

/** A finished child process. */
export interface RunResult {
  /** Exit status (1 when it could not run or was killed). */
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command in the repository's root and resolves with its result, never rejecting. */
export function run(
  cmd: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  timeoutMs = 20_000,
): Promise<RunResult> {
  return new Promise((resolve) => {
    execFile(cmd, args, { env, timeout: timeoutMs, cwd: ROOT }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
      resolve({ code, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}

/** True if env names a running rig: the server answers and has the rig's first speaker. */
export async function rigAnswers(env: NodeJS.ProcessEnv): Promise<boolean> {
  if (env.LK_AUDIO_RIG !== '1' || !env.PULSE_SERVER) return false;
  const sinks = await run('pactl', ['list', 'short', 'sinks'], env, 5000);
  return sinks.code === 0 && /\blk_speaker_a\b/.test(sinks.stdout);
}

/** Parses the script's `export NAME=value` lines. */
function parseExports(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^export ([A-Z_][A-Z0-9_]*)=(.*)$/.exec(line.trim());
    if (m) out[m[1]!] = m[2]!.replace(/^'(.*)'$/, '$1');
  }
  return out;
}

/**
 * Starts a rig (scripts/audio-rig.sh) in `dir`, owned by this process (it stops itself if this process dies), and
 * returns the environment that points a process at it (PULSE_SERVER, LK_AUDIO_RIG, LK_RIG_*).
 */
export async function startRig(dir: string): Promise<Record<string, string>> {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    LK_AUDIO_RIG_DIR: dir,
    LK_AUDIO_RIG_OWNER_PID: String(process.pid),
  };
  delete env.PULSE_SERVER;
  const started = await run('bash', [SCRIPT, 'start'], env);
  if (started.code !== 0) {
    throw new Error(`audio rig failed to start (scripts/audio-rig.sh start):\n${started.stderr}`);
  }
  return parseExports(started.stdout);
}

/** Stops the rig in `dir` (its sound server exits; clients lose their devices). */
export async function stopRig(dir: string): Promise<void> {
  await run('bash', [SCRIPT, 'stop'], { ...process.env, LK_AUDIO_RIG_DIR: dir });
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Stops and removes the rigs under `parent` that a test run, the demo or a benchmark started in
 * `<vitest|demo|bench>-<pid>` and left behind when it died or was interrupted (its own watcher stops the server,
 * but the directory stays).
 */
export async function clearStaleRigs(parent: string): Promise<void> {
  if (!existsSync(parent)) return;
  for (const name of readdirSync(parent)) {
    const m = /^(?:vitest|demo|bench)-(\d+)$/.exec(name);
    if (!m || pidAlive(Number(m[1]))) continue;
    const dir = join(parent, name);
    await stopRig(dir);
    rmSync(dir, { recursive: true, force: true });
  }
}
