import type { Client } from '@temporalio/client';
import { z } from 'zod';
import type { RecordedHead } from '../db/audit-chain';
import { AUDIT_HEAD_MEMO, SEARCH_ATTRIBUTE } from '../contract/migration';

const AuditHeadMemo = z.object({ seq: z.number().int().positive(), hash: z.string().regex(/^sha256:[0-9a-f]{64}$/), event: z.string(), at: z.string() });

/**
 * Heads held against the table per verification, highest rows first: the latest ones show a
 * truncation, and this many keep the workflow's input well under Temporal's payload limit.
 */
export const MAX_RECORDED_HEADS = 2_000;

/** A visibility query for every workflow of a target (the alias quoted as a string literal). */
export function targetQuery(target: string): string {
  return `${SEARCH_ATTRIBUTE.target} = '${target.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/**
 * The audit heads that runs on `target` keep in their memos (see keepAuditHead in
 * workflows/migration.ts): what Temporal, not the database, says the log reached.
 */
export async function recordedAuditHeads(client: Client, target: string): Promise<RecordedHead[]> {
  const heads = new Map<string, RecordedHead>();
  for await (const wf of client.workflow.list({ query: targetQuery(target) })) {
    const parsed = AuditHeadMemo.safeParse(wf.memo?.[AUDIT_HEAD_MEMO]);
    if (!parsed.success) continue; // inspections and runs from before heads were kept
    const migrationId = wf.typedSearchAttributes.getAll().find((p) => p.key.name === SEARCH_ATTRIBUTE.migrationId)?.value;
    const head: RecordedHead = { ...parsed.data, workflowId: wf.workflowId, runId: wf.runId, migrationId: typeof migrationId === 'string' ? migrationId : null };
    const key = `${head.seq}/${head.hash}`;
    if (!heads.has(key)) heads.set(key, head);
  }
  return [...heads.values()].sort((a, b) => b.seq - a.seq).slice(0, MAX_RECORDED_HEADS);
}
