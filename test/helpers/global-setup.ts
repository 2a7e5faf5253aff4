import { mkdirSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { bundleWorkflowCode, DefaultLogger } from '@temporalio/worker';
import type { TestProject } from 'vitest/node';
import { connectOrStartTemporal } from '../../src/devserver';
import { packageRoot } from '../../src/package-root';
import { buildCli } from '../../scripts/build';
import { WORKFLOWS_PATH } from '../../worker';

declare module 'vitest' {
  export interface ProvidedContext {
    temporalAddress: string;
    temporalUiUrl: string;
    workflowBundlePath: string;
  }
}

/**
 * One Temporal dev server for the whole run (in memory, free ports, eager
 * activities, Godwit's search attributes), or TEMPORAL_ADDRESS when set, and
 * the workflow code bundled once so each test worker starts in milliseconds.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  // Spawned `godwit` processes run the compiled CLI (bin/godwit.js → dist/cli): built here
  // from the sources under test, once for the whole run.
  await buildCli(packageRoot());
  const endpoint = await connectOrStartTemporal({ onNote: (line) => console.log(line) });
  const dir = join(packageRoot(), '.godwit', 'cache');
  mkdirSync(dir, { recursive: true });
  const bundlePath = join(dir, `workflow-bundle-${process.pid}.js`);
  const { code } = await bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, logger: new DefaultLogger('WARN') });
  await writeFile(bundlePath, code);
  project.provide('temporalAddress', endpoint.address);
  project.provide('temporalUiUrl', endpoint.uiUrl);
  project.provide('workflowBundlePath', bundlePath);
  return async () => {
    await endpoint.stop();
  };
}
