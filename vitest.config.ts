import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/helpers/global-setup.ts'],
    testTimeout: 120_000,
    hookTimeout: 600_000,
    // Two cores: integration files each start workers and databases of their own.
    maxWorkers: 2,
    reporters: ['default'],
    env: { GODWIT_LOG_LEVEL: 'ERROR' },
  },
});
