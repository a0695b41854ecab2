import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    // Starts a private audio rig (scripts/audio-rig.sh) unless one is already running.
    globalSetup: ['test/support/rig-setup.ts'],
    // Audio tests share one sound server and real time: run files one after another.
    fileParallelism: false,
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 30_000,
  },
});
