import { defineConfig } from 'vitest/config';

/**
 * Two tiers. `unit` is pure code: it needs neither Postgres nor Temporal, so it has no
 * global setup (`npm run test:unit`, or `npx vitest run test/unit`). `live` is every test
 * that runs against a real Postgres and the Temporal dev server its global setup starts
 * once for the whole tier (integration, workflow, e2e, chaos, replay). Vitest runs a
 * project's global setup only when that project has a test file to run.
 */
export default defineConfig({
  test: {
    testTimeout: 120_000,
    hookTimeout: 600_000,
    // Two cores: integration files each start workers and databases of their own.
    maxWorkers: 2,
    reporters: ['default'],
    env: { GODWIT_LOG_LEVEL: 'ERROR', GODWIT_ALLOW_FAULTS: '1' },
    projects: [
      { extends: true, test: { name: 'unit', include: ['test/unit/**/*.test.ts'] } },
      {
        extends: true,
        test: {
          name: 'live',
          include: ['test/**/*.test.ts'],
          exclude: ['test/unit/**'],
          globalSetup: ['test/helpers/global-setup.ts'],
        },
      },
    ],
  },
});
