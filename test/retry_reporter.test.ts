/**
 * The retry report (test/support/retry_reporter.ts, a reporter of every run): counts and names retried tests, and
 * fails a run that needed more than one retry. Seen end to end with a probe file of two tests passing on their
 * second and third attempts: `retried tests: 2 (3 retries in all)`, exit status 1; with one retry, exit status 0.
 */
import { describe, expect, it } from 'vitest';
import { MAX_RETRIES_PER_RUN, retrySummary } from './support/retry_reporter.js';

describe('retry report', () => {
  it('prints a count of zero when nothing was retried, and the run stays green', () => {
    expect(retrySummary([])).toEqual({ text: 'retried tests: 0 (0 retries in all)', ok: true });
  });

  it('names each retried test; one retry in a run passes, more fail it', () => {
    const one = retrySummary([{ name: 'a > echo path', retries: 1, state: 'passed' }]);
    expect(one.ok).toBe(true);
    expect(one.text).toBe('retried tests: 1 (1 retry in all)\n  a > echo path: 1 retry, passed');
    expect(MAX_RETRIES_PER_RUN).toBe(1);
    const two = retrySummary([
      { name: 'a > x', retries: 1, state: 'passed' },
      { name: 'b > y', retries: 1, state: 'passed' },
    ]);
    expect(two.ok).toBe(false);
    expect(two.text).toMatch(/^retried tests: 2 \(2 retries in all\)\n/);
    expect(two.text).toMatch(/retries: 2 in this run, more than the 1 allowed: the run fails/);
    expect(retrySummary([{ name: 'c > z', retries: 2, state: 'failed' }]).ok).toBe(false);
  });
});
