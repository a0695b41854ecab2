/**
 * vitest reporter: reports retried passes, so a rig test that passed on its second or third attempt does not show
 * green without a trace. After the run it prints how many tests were retried and how often (each by name), and it
 * fails the run (exit status 1) when the run needed more than MAX_RETRIES_PER_RUN retries in all: one flaky
 * attempt on a loaded machine is tolerated, a pattern is not.
 */
import type { Reporter, TestModule } from 'vitest/node';

/** Retries a run may use in all (summed over its tests) and still pass. */
export const MAX_RETRIES_PER_RUN = 1;

/** One retried test: its full name, the retries it took, and how it ended. */
export interface RetriedTest {
  name: string;
  retries: number;
  state: string;
}

/** The summary line(s) and whether the run stays green, for the retried tests of a run. */
export function retrySummary(retried: readonly RetriedTest[]): { text: string; ok: boolean } {
  const total = retried.reduce((n, t) => n + t.retries, 0);
  const lines = [
    `retried tests: ${retried.length} (${total} ${total === 1 ? 'retry' : 'retries'} in all)`,
  ];
  for (const t of retried) {
    lines.push(`  ${t.name}: ${t.retries} ${t.retries === 1 ? 'retry' : 'retries'}, ${t.state}`);
  }
  const ok = total <= MAX_RETRIES_PER_RUN;
  if (!ok) {
    lines.push(
      `retries: ${total} in this run, more than the ${MAX_RETRIES_PER_RUN} allowed: the run fails ` +
        '(a test that passes only on a retry is flaky: find out why)',
    );
  }
  return { text: lines.join('\n'), ok };
}

export default class RetryReporter implements Reporter {
  onTestRunEnd(testModules: ReadonlyArray<TestModule>): void {
    const retried: RetriedTest[] = [];
    for (const module of testModules) {
      for (const test of module.children.allTests()) {
        const retries = test.diagnostic()?.retryCount ?? 0;
        if (retries > 0) {
          retried.push({
            name: `${module.moduleId.replace(`${process.cwd()}/`, '')} > ${test.fullName}`,
            retries,
            state: test.result().state,
          });
        }
      }
    }
    const { text, ok } = retrySummary(retried);
    console.log(`\n${text}`);
    if (!ok) process.exitCode = 1;
  }
}
