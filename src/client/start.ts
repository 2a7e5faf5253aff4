import type { LoadedManifest } from '../manifest';
import { loadSqlParser, needsSqlParser, planManifest } from '../operations';
import { emptySchemaModel } from '../db/schema-model';
import { MigrationState } from '../lifecycle/states';
import { migrationWorkflowId, SEARCH_ATTRIBUTE, type FaultInjection, type MigrationInput } from '../contract/migration';

export interface StartOptions {
  target: string;
  loaded: LoadedManifest;
  requestedBy: string;
  /** The requester's signature over canonicalRequest() (src/auth/payload.ts). */
  requestSignature?: string;
  faults?: FaultInjection;
}

export function migrationInput(opts: StartOptions): MigrationInput {
  const { manifest, checksum } = opts.loaded;
  return {
    target: opts.target,
    migrationId: manifest.id,
    description: manifest.description,
    manifest,
    checksum,
    requestedBy: opts.requestedBy,
    ...(opts.requestSignature === undefined ? {} : { requestSignature: opts.requestSignature }),
    checks: manifest.checks.post,
    policy: manifest.policy,
    ...(opts.faults ? { faults: opts.faults } : {}),
  };
}

/** What starting a migration's workflow sends, whichever client sends it. */
export interface MigrationStartRequest {
  workflowId: string;
  input: MigrationInput;
  /** Keyword search attributes by name. */
  searchAttributes: Record<string, string>;
  /** The run's summary and details in the Temporal UI (markdown). */
  summary: string;
  details: string;
}

/** The workflow `godwit/<target>/<id>`, its input, search attributes and UI texts (with the plan, made offline). */
export async function migrationStartRequest(opts: StartOptions): Promise<MigrationStartRequest> {
  const { manifest, checksum } = opts.loaded;
  // The SQL parser (WebAssembly) only for manifests with sql steps: loading it costs more than the plan.
  if (needsSqlParser(manifest)) await loadSqlParser();
  const offline = planManifest(manifest, emptySchemaModel(), { offline: true });
  return {
    workflowId: migrationWorkflowId(opts.target, manifest.id),
    input: migrationInput(opts),
    searchAttributes: {
      [SEARCH_ATTRIBUTE.target]: opts.target,
      [SEARCH_ATTRIBUTE.migrationId]: manifest.id,
      [SEARCH_ATTRIBUTE.state]: MigrationState.planned,
    },
    summary: `${manifest.id} → ${opts.target}: ${manifest.description || `${offline.length} steps`}`,
    details: [
      `**${manifest.id}** on \`${opts.target}\`, requested by ${opts.requestedBy}`,
      manifest.description,
      `checksum \`${checksum}\``,
      '',
      ...offline.map((s) => `${s.index}. ${s.summary} (risk ${s.risk})`),
      ...(manifest.checks.post.length ? ['', 'post checks:', ...manifest.checks.post.map((c) => `- ${c.name}`)] : []),
    ].join('\n'),
  };
}
