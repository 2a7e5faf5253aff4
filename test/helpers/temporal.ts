import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Client } from '@temporalio/client';
import type { Worker } from '@temporalio/worker';
import { inject } from 'vitest';
import { connectClient } from '../../src/client';
import type { TemporalSettings } from '../../src/config/temporal';
import { targetEnvVar, UnknownTargetError } from '../../src/config/targets';
import { TargetPools } from '../../src/db/pool';
import { loadManifest, type LoadedManifest } from '../../src/manifest';
import { connectWorkerConnection, createGodwitWorker } from '../../worker';

export interface TestTemporal {
  settings: TemporalSettings;
  client: Client;
  /** Environment for spawning `godwit` processes against this server and task queue. */
  env: NodeJS.ProcessEnv;
  /** `configFile`: the godwit.yaml the worker reads (its authorization section); default $GODWIT_CONFIG or ./godwit.yaml. */
  startWorker(opts?: { configFile?: string }): Promise<RunningWorker>;
  close(): Promise<void>;
}

export interface RunningWorker {
  worker: Worker;
  stop(): Promise<void>;
}

/** A task queue of its own on the shared dev server, with targets resolved from `targets`. */
export async function setupTemporal(targets: Record<string, string>): Promise<TestTemporal> {
  const settings: TemporalSettings = {
    address: inject('temporalAddress'),
    namespace: 'default',
    taskQueue: `godwit-test-${randomBytes(4).toString('hex')}`,
    uiUrl: inject('temporalUiUrl'),
  };
  const client = await connectClient(settings);
  const workers: RunningWorker[] = [];
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    TEMPORAL_ADDRESS: settings.address,
    GODWIT_TASK_QUEUE: settings.taskQueue,
    GODWIT_UI_URL: settings.uiUrl,
    GODWIT_WORKFLOW_BUNDLE: inject('workflowBundlePath'),
    NO_COLOR: '1',
  };
  for (const [alias, url] of Object.entries(targets)) env[`GODWIT_TARGET_${alias.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`] = url;
  return {
    settings,
    client,
    env,
    async startWorker(opts = {}) {
      const connection = await connectWorkerConnection(settings.address);
      const pools = new TargetPools((alias) => {
        const url = targets[alias];
        // the worker's own error, so tests see the message a user gets
        if (!url) throw new UnknownTargetError(alias, targetEnvVar(alias));
        return url;
      });
      const { worker } = await createGodwitWorker({ connection, namespace: settings.namespace, taskQueue: settings.taskQueue, pools, workflowBundlePath: inject('workflowBundlePath'), ...(opts.configFile ? { configFile: opts.configFile } : {}) });
      const running = worker.run();
      const handle: RunningWorker = {
        worker,
        async stop() {
          if (worker.getState() === 'RUNNING') worker.shutdown();
          await running;
          await pools.close();
          await connection.close();
        },
      };
      workers.push(handle);
      return handle;
    },
    async close() {
      await Promise.all(workers.map((w) => w.stop().catch(() => undefined)));
      await client.connection.close();
    },
  };
}

/** Writes a manifest to a temporary file and loads it the way the CLI does. */
export async function manifestFrom(text: string, name = 'manifest.yaml'): Promise<LoadedManifest> {
  const dir = mkdtempSync(join(tmpdir(), 'godwit-manifest-'));
  const file = join(dir, name);
  writeFileSync(file, text);
  return loadManifest(file);
}

/** Writes several manifests into one directory and returns its path. */
export function manifestDir(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'godwit-dir-'));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}
