import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // Two cores: ONNX Runtime sessions already use both; more parallel files only thrash.
    maxWorkers: 2,
  },
});
