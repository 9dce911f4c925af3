import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Native code, child processes and fsync-heavy tests: a worker per core, and generous timeouts
    // (tests assert behaviour, never timings).
    pool: 'forks',
    testTimeout: 120_000,
    hookTimeout: 60_000,
  },
});
