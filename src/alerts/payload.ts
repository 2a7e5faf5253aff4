/**
 * Alertmanager's webhook payload (version 4, as documented in Alertmanager's configuration
 * reference, `<webhook_config>`), and what Godwit reads from it: each firing alert whose labels
 * name a `godwit_target`, and optionally a `godwit_migration`.
 */
import { z } from 'zod';

const Labels = z.record(z.string(), z.string());

const Alert = z.object({
  status: z.enum(['firing', 'resolved']),
  labels: Labels,
  annotations: Labels.default({}),
  startsAt: z.string().optional(),
  fingerprint: z.string().optional(),
});

export const AlertmanagerPayload = z.object({
  version: z.literal('4'),
  status: z.enum(['firing', 'resolved']),
  receiver: z.string().optional(),
  groupLabels: Labels.default({}),
  commonLabels: Labels.default({}),
  commonAnnotations: Labels.default({}),
  externalURL: z.string().optional(),
  groupKey: z.string().optional(),
  alerts: z.array(Alert),
});
export type AlertmanagerPayload = z.infer<typeof AlertmanagerPayload>;

/** The label that names the target whose running migration an alert rolls back. */
export const TARGET_LABEL = 'godwit_target';
/** The label that, when present, names the migration: only that one is rolled back. */
export const MIGRATION_LABEL = 'godwit_migration';

/** What one firing alert asks of Godwit. */
export interface RollbackRequest {
  target: string;
  migrationId: string | null;
  alertname: string;
  /** `alertmanager:<alertname>` and the alert's summary: the reason the rollback's audit entry carries. */
  reason: string;
}

/**
 * The rollbacks a payload asks for: one per firing alert that names a target (its own labels,
 * else the group's), once per target and migration. Resolved alerts ask for nothing.
 */
export function rollbackRequests(payload: AlertmanagerPayload): RollbackRequest[] {
  const out = new Map<string, RollbackRequest>();
  for (const alert of payload.alerts) {
    if (alert.status !== 'firing') continue;
    const labels = { ...payload.groupLabels, ...payload.commonLabels, ...alert.labels };
    const target = labels[TARGET_LABEL];
    if (!target) continue;
    const migrationId = labels[MIGRATION_LABEL] || null;
    const alertname = labels.alertname ?? 'unnamed';
    const summary = alert.annotations.summary ?? alert.annotations.description ?? payload.commonAnnotations.summary;
    const key = `${target}\u0000${migrationId ?? ''}`;
    if (!out.has(key)) out.set(key, { target, migrationId, alertname, reason: `alertmanager:${alertname}${summary ? `: ${summary}` : ''}` });
  }
  return [...out.values()];
}
