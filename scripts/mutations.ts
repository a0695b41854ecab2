/**
 * `npm run test:mutations [-- <fault id> ...]`: shows that the tests fail for each deliberate fault of
 * scripts/mutation_faults.ts (all of them, or those named).
 *
 * It starts a private audio rig (scripts/audio-rig.sh, its own directory) that every run shares, then runs the test
 * files the faults name once on an unmutated scratch copy of the working tree (the baseline: they must pass, or no
 * verdict means anything; tests that fail there are run once more, since a loaded machine fails real-time tests
 * now and then, and the baseline passes if they pass then, named in the output), then, for each fault, makes a fresh scratch copy (scripts/scratch_copy.ts), applies the
 * fault and runs that fault's test files there. The working tree is never edited. It prints a markdown table: the
 * fault, the file it edits, the test files run, whether the tests caught it, which tests failed, and the time. The
 * rig and the scratch copies are removed at the end whatever happens (also on Ctrl-C); the vitest logs are kept
 * (their directory printed) when something did not go as it should.
 *
 * Exit status 0 when the baseline passed and every fault was caught: some test failed. A run that failed without
 * any test failing (a test file that did not load, a run stopped after RUN_TIMEOUT_MS) is not a catch, and neither is
 * a fault the tests pass with: both exit 1.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import {
  createWriteStream,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startRig, stopRig } from './audio_rig.js';
import { FAULTS, faultySource, type Fault } from './mutation_faults.js';
import { makeScratchCopy } from './scratch_copy.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
/** The longest one vitest run may take before it is stopped (ms): the slowest fault's files take about 2 min. */
const RUN_TIMEOUT_MS = 10 * 60_000;
/** Failed tests named in a table cell; the log has them all. */
const NAMES_PER_CELL = 3;
/** Characters of a failure's first line in a table cell. */
const WHY_LENGTH = 90;

/** A test that failed. */
interface FailedTest {
  /** Its file, relative to the root. */
  file: string;
  /** Its name within its `describe`. */
  title: string;
  /** Its name with those of the `describe`s around it. */
  fullName: string;
  /** The first line of its failure (the assertion that failed, and the values). */
  why: string;
}

/** What one vitest run in a scratch copy gave. */
interface TestRun {
  failedTests: FailedTest[];
  /** Why the run failed without a failing test (a file that did not load, a timeout), if it did. */
  problem: string | undefined;
  /** Tests that passed. */
  passedCount: number;
  seconds: number;
}

/** The verdict on one fault. */
interface Outcome {
  fault: Fault;
  run: TestRun;
  verdict: 'caught' | 'SURVIVED' | 'ERROR';
}

/** The parts of vitest's JSON report read here. */
interface JsonReport {
  testResults: {
    name: string;
    status: string;
    message?: string;
    assertionResults: {
      title: string;
      fullName: string;
      status: string;
      failureMessages: string[];
    }[];
  }[];
}

let current: ChildProcess | undefined;
let interrupted = false;

/** Ends the running vitest and everything it started (its own process group). */
function stopCurrent(): void {
  const pid = current?.pid;
  if (pid === undefined) return;
  try {
    process.kill(-pid, 'SIGTERM');
    setTimeout(() => {
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }, 5000).unref();
  } catch {
    // Already gone.
  }
}

/** Test files to run, and which of their tests (vitest's `-t`; all when undefined). */
interface Selection {
  files: readonly string[];
  testNamePattern: string | undefined;
}

function describeSelection({ files, testNamePattern }: Selection): string {
  return files.join(' ') + (testNamePattern === undefined ? '' : ` -t "${testNamePattern}"`);
}

/** Runs vitest on the selected tests in the scratch copy `dir`, its output into `logPath`. */
async function runTests(
  dir: string,
  { files, testNamePattern }: Selection,
  env: NodeJS.ProcessEnv,
  logPath: string,
): Promise<TestRun> {
  const started = performance.now();
  const reportPath = join(dir, '.mutation-report.json');
  const log = createWriteStream(logPath);
  const vitest = join(dir, 'node_modules', 'vitest', 'vitest.mjs');
  const args = [vitest, 'run', '--reporter=default', '--reporter=json'];
  if (testNamePattern !== undefined) args.push(`--testNamePattern=${testNamePattern}`);
  const child = spawn(process.execPath, [...args, `--outputFile.json=${reportPath}`, ...files], {
    cwd: dir,
    env,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  current = child;
  child.stdout.pipe(log, { end: false });
  child.stderr.pipe(log, { end: false });
  const timer = setTimeout(stopCurrent, RUN_TIMEOUT_MS);
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  clearTimeout(timer);
  current = undefined;
  await new Promise<void>((resolve) => log.end(resolve));
  const seconds = (performance.now() - started) / 1000;
  if (!existsSync(reportPath)) {
    const why = interrupted ? 'interrupted' : `no report (vitest exited with ${code})`;
    return { failedTests: [], problem: why, passedCount: 0, seconds };
  }
  const report = JSON.parse(readFileSync(reportPath, 'utf8')) as JsonReport;
  const failedTests: FailedTest[] = [];
  const fileProblems: string[] = [];
  let passedCount = 0;
  for (const file of report.testResults) {
    const name = file.name.replace(`${dir}/`, '');
    let failedHere = 0;
    for (const test of file.assertionResults) {
      if (test.status === 'passed') passedCount++;
      if (test.status === 'failed') {
        const why = (test.failureMessages[0] ?? '').split('\n')[0]!;
        failedTests.push({ file: name, title: test.title, fullName: test.fullName, why });
        failedHere++;
      }
    }
    if (file.status === 'failed' && failedHere === 0) {
      fileProblems.push(`${name}: ${(file.message ?? 'failed').split('\n')[0]}`);
    }
  }
  let problem: string | undefined;
  if (code !== 0 && failedTests.length === 0) {
    problem = fileProblems.join('; ') || `vitest exited with ${code} and no test failed`;
  } else if (passedCount === 0 && failedTests.length === 0) {
    problem = 'no test ran';
  }
  return { failedTests, problem, passedCount, seconds };
}

function shorten(text: string, length: number): string {
  return text.length <= length ? text : `${text.slice(0, length - 3)}...`;
}

/** `text` as a regular expression that matches it literally. */
function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** A markdown table cell: no pipes, no line breaks. */
function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

/** The failed tests of a run, short: each test's own name after its file's, at most NAMES_PER_CELL of them. */
function failedCell(run: TestRun): string {
  if (run.problem) return cell(run.problem);
  const names = run.failedTests.map(
    (t) => `${basename(t.file, '.test.ts')}: ${t.title} (${shorten(t.why, WHY_LENGTH)})`,
  );
  const shown = names.slice(0, NAMES_PER_CELL).join('; ');
  const more = names.length - NAMES_PER_CELL;
  return cell(more > 0 ? `${shown}; and ${more} more` : shown || '-');
}

function table(outcomes: readonly Outcome[]): string {
  const rows = [
    '| Fault | File | Test files run | Caught | Failed tests | Time |',
    '| ----- | ---- | -------------- | ------ | ------------ | ---- |',
  ];
  for (const { fault, run, verdict } of outcomes) {
    const files = fault.tests.map((t) => basename(t)).join(', ');
    const tests = fault.testNamePattern ? `${files} (-t "${fault.testNamePattern}")` : files;
    const caught = verdict === 'caught' ? 'yes' : verdict === 'SURVIVED' ? '**no**' : '**error**';
    rows.push(
      `| ${cell(`${fault.id}: ${fault.description}`)} | ${fault.file} | ${tests} | ${caught} | ` +
        `${failedCell(run)} | ${run.seconds.toFixed(0)} s |`,
    );
  }
  return rows.join('\n');
}

/** The faults named on the command line, or all. */
function chosenFaults(ids: readonly string[]): readonly Fault[] {
  if (ids.length === 0) return FAULTS;
  return ids.map((id) => {
    const fault = FAULTS.find((f) => f.id === id);
    if (!fault) {
      throw new Error(`no fault ${id}; the faults: ${FAULTS.map((f) => f.id).join(', ')}`);
    }
    return fault;
  });
}

async function main(): Promise<number> {
  const started = performance.now();
  const faults = chosenFaults(process.argv.slice(2));
  // Every fault must apply before anything starts: a stale one fails the check at once.
  const sources = new Map(faults.map((fault) => [fault, faultySource(ROOT, fault)]));
  // The baseline runs what the faults run: one vitest run per test name pattern, on the files of its faults.
  const baselineRuns = new Map<string | undefined, Set<string>>();
  for (const { tests, testNamePattern } of faults) {
    const files = baselineRuns.get(testNamePattern) ?? new Set<string>();
    for (const file of tests) files.add(file);
    baselineRuns.set(testNamePattern, files);
  }

  // Scratch copies in work/copies, vitest's logs in work/logs (kept when something went wrong).
  const work = mkdtempSync(join(tmpdir(), 'lk-mutations-'));
  const copies = join(work, 'copies');
  const logs = join(work, 'logs');
  mkdirSync(logs, { recursive: true });
  const rigDir = mkdtempSync(join(tmpdir(), 'lk-mut-rig-'));
  const say = (line: string): void => void process.stderr.write(`mutations: ${line}\n`);
  const onSignal = (): void => {
    interrupted = true;
    stopCurrent();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const outcomes: Outcome[] = [];
  let ok = false;
  try {
    say(`starting the audio rig in ${rigDir}`);
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      ...(await startRig(rigDir)),
      LK_AUDIO_RIG_REQUIRED: '1',
      NO_COLOR: '1',
    };
    delete env.PULSE_SINK;
    delete env.PULSE_SOURCE;

    const baseDir = join(copies, 'baseline');
    makeScratchCopy(ROOT, baseDir);
    const baseline = { passedCount: 0, seconds: 0, secondTry: [] as string[] };
    for (const [n, [testNamePattern, files]] of [...baselineRuns.entries()].entries()) {
      const selection = { files: [...files], testNamePattern };
      say(`baseline: ${describeSelection(selection)} on an unmutated copy`);
      let run = await runTests(baseDir, selection, env, join(logs, `baseline-${n + 1}.log`));
      baseline.seconds += run.seconds;
      if (run.failedTests.length > 0 && !run.problem && !interrupted) {
        const failed = run.failedTests;
        say(`baseline: ${failed.length} failed; running them once more`);
        const again = {
          files: [...new Set(failed.map((t) => t.file))],
          testNamePattern: failed.map((t) => escapeRegExp(t.fullName)).join('|'),
        };
        const log = join(logs, `baseline-${n + 1}-again.log`);
        const rerun = await runTests(baseDir, again, env, log);
        baseline.seconds += rerun.seconds;
        if (rerun.failedTests.length === 0 && !rerun.problem) {
          baseline.secondTry.push(...failed.map((t) => `${t.file} > ${t.fullName}`));
          run = { ...rerun, passedCount: run.passedCount + rerun.passedCount };
        } else {
          run = rerun;
        }
      }
      baseline.passedCount += run.passedCount;
      if (interrupted) return 1;
      if (run.failedTests.length > 0 || run.problem) {
        say(`the baseline did not pass (${run.seconds.toFixed(0)} s), so no fault is run:`);
        for (const t of run.failedTests) say(`  failed: ${t.file} > ${t.fullName}`);
        if (run.problem) say(`  ${run.problem}`);
        return 1;
      }
    }
    rmSync(baseDir, { recursive: true, force: true });
    say(`baseline: ${baseline.passedCount} tests passed in ${baseline.seconds.toFixed(0)} s`);

    for (const [n, fault] of faults.entries()) {
      if (interrupted) break;
      const dir = join(copies, fault.id);
      makeScratchCopy(ROOT, dir);
      writeFileSync(join(dir, fault.file), sources.get(fault)!);
      const selection = { files: fault.tests, testNamePattern: fault.testNamePattern };
      say(
        `[${n + 1}/${faults.length}] ${fault.id}: ${fault.file}; running ${describeSelection(selection)}`,
      );
      const run = await runTests(dir, selection, env, join(logs, `${fault.id}.log`));
      rmSync(dir, { recursive: true, force: true });
      if (interrupted) break;
      const verdict = run.failedTests.length > 0 ? 'caught' : run.problem ? 'ERROR' : 'SURVIVED';
      outcomes.push({ fault, run, verdict });
      say(`[${n + 1}/${faults.length}] ${fault.id}: ${verdict} (${run.seconds.toFixed(0)} s)`);
      for (const t of run.failedTests) say(`    failed: ${t.file} > ${t.fullName}: ${t.why}`);
      if (run.problem) say(`    ${run.problem}`);
    }

    const minutes = (performance.now() - started) / 60_000;
    process.stdout.write(
      `\n${table(outcomes)}\n\nBaseline (no fault): the ${baseline.passedCount} tests these faults run passed, ` +
        `in ${baseline.seconds.toFixed(0)} s. Total: ${minutes.toFixed(1)} min.\n`,
    );
    if (baseline.secondTry.length > 0) {
      process.stdout.write(
        `Passed in the baseline on a second try: ${baseline.secondTry.join('; ')}.\n`,
      );
    }
    const missed = outcomes.filter((o) => o.verdict !== 'caught').map((o) => o.fault.id);
    if (missed.length > 0) process.stdout.write(`Not caught: ${missed.join(', ')}.\n`);
    else if (!interrupted) process.stdout.write(`All ${outcomes.length} faults caught.\n`);
    ok = !interrupted && missed.length === 0;
    return ok ? 0 : 1;
  } finally {
    await stopRig(rigDir);
    rmSync(rigDir, { recursive: true, force: true });
    rmSync(ok ? work : copies, { recursive: true, force: true });
    if (!ok) say(`${interrupted ? 'interrupted; ' : ''}vitest logs: ${logs}`);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

process.exitCode = await main().catch((error: unknown) => {
  process.stderr.write(`mutations: ${error instanceof Error ? error.message : String(error)}\n`);
  return 1;
});
