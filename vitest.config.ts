import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['{console,protocol,runtime,storage,broker,gateway,device-sim,device-kit,flows,dashboards,cli}/test/**/*.test.ts', 'tests/**/*.test.ts'],
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 120_000,
    hookTimeout: 60_000,
    reporters: ['default'],
  },
});
