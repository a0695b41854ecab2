/**
 * Runs every benchmark, one after another, against a private audio rig (scripts/audio-rig.sh) started for the run
 * and stopped afterwards (a rig already named by the environment is used and left running), and prints one JSON
 * document: the machine, then each benchmark's own JSON under its name. Benchmarks write their progress to stderr.
 *
 * Usage: npm run bench   (or: node --import tsx bench/run.ts [name ...], names from BENCHMARKS)
 * Exit status 1 if any benchmark failed (its entry then holds `error` and the status).
 */
import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { clearStaleRigs, rigAnswers, startRig, stopRig } from '../scripts/audio_rig.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** Each benchmark: its file and its arguments (its defaults unless said). */
const BENCHMARKS: Record<string, { file: string; args: string[] }> = {
  engine: { file: 'bench/engine.ts', args: [] },
  apm: { file: 'bench/apm.ts', args: [] },
  mediaDevices: { file: 'bench/media_devices.ts', args: [] },
  deviceWatch: { file: 'bench/device_watch.ts', args: [] },
  soak: { file: 'bench/soak.ts', args: [] },
};

/** Runs one benchmark file; resolves with its parsed stdout, or with the reason it failed. */
function runBenchmark(file: string, args: string[], env: NodeJS.ProcessEnv): Promise<unknown> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', file, ...args], {
      cwd: ROOT,
      env,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', (error) => resolve({ error: error.message }));
    child.on('exit', (code, signal) => {
      if (code !== 0) {
        resolve({ error: `exited with ${code ?? signal}`, output: out.slice(-2000) });
        return;
      }
      try {
        resolve(JSON.parse(out));
      } catch {
        resolve({ error: 'printed no JSON', output: out.slice(-2000) });
      }
    });
  });
}

const names = process.argv.slice(2);
for (const name of names) {
  if (!Object.hasOwn(BENCHMARKS, name)) {
    console.error(
      `bench/run.ts: unknown benchmark ${name} (known: ${Object.keys(BENCHMARKS).join(', ')})`,
    );
    process.exit(2);
  }
}

let rigDir: string | undefined;
let env: NodeJS.ProcessEnv = process.env;
if (!(await rigAnswers(process.env))) {
  await clearStaleRigs(join(ROOT, '.rig'));
  rigDir = join(ROOT, '.rig', `bench-${process.pid}`);
  env = { ...process.env, ...(await startRig(rigDir)) };
}
const results: Record<string, unknown> = {};
let failed = false;
try {
  for (const name of names.length > 0 ? names : Object.keys(BENCHMARKS)) {
    const { file, args } = BENCHMARKS[name]!;
    console.error(`bench: ${name} (${file})`);
    results[name] = await runBenchmark(file, args, env);
    failed ||=
      typeof results[name] === 'object' && results[name] !== null && 'error' in results[name];
  }
} finally {
  if (rigDir) {
    await stopRig(rigDir);
    rmSync(rigDir, { recursive: true, force: true });
  }
}
console.log(
  JSON.stringify(
    {
      date: new Date().toISOString(),
      machine: {
        node: process.version,
        cpus: cpus().length,
        cpuModel: cpus()[0]?.model,
        memoryGiB: Math.round(totalmem() / 2 ** 30),
      },
      benchmarks: results,
    },
    null,
    2,
  ),
);
process.exitCode = failed ? 1 : 0;
