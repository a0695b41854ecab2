import { defineConfig } from 'vitest/config';
import RetryReporter from './test/support/retry_reporter.js';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    // Starts a private audio rig (scripts/audio-rig.sh) unless one is already running.
    globalSetup: ['test/support/rig-setup.ts'],
    // Prints the count of retried tests after the summary; more than one retry in a run fails it.
    reporters: ['default', new RetryReporter()],
    // Audio tests share one sound server and real time: run files one after another.
    fileParallelism: false,
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 30_000,
  },
});
