/**
 * godwit.yaml's `policies` (worker side, per target alias or glob) and how they combine with
 * a manifest's policy into the HealthPolicy of one run. Pure: the prepare activity calls it,
 * and its result reaches the workflow through that activity's result, so it is in history.
 */
import { z } from 'zod';
import { strict } from '../operations/fields';
import { durationMs } from '../manifest/types';
import { checkHealthPolicy, healthPolicyShape } from './schema';
import { DEFAULT_ASK_TIMEOUT, type HealthPolicy, type HealthPolicyFields, type Probe, type ProbeSource } from './types';

/** One entry of godwit.yaml's `policies`: the same fields as a manifest's, and a bake_seconds that is a minimum. */
const targetPolicySchema = strict(
  {
    ...healthPolicyShape,
    bake_seconds: z
      .number({ error: 'expected a whole number of seconds (the shortest bake window on these targets)' })
      .int({ error: 'expected a whole number of seconds' })
      .min(0, { error: 'expected 0 or more seconds' })
      .optional(),
  },
  'a target policy: { bake_seconds, probes, on_unhealthy, ask_timeout, max_duration }',
).superRefine((p, ctx) => checkHealthPolicy(p, ctx, 'bake_seconds (here, or in the manifests)'));

/** godwit.yaml `policies:` keyed by target alias or glob (`app-*`): the exact alias wins, else the first glob in file order. */
export const policiesSchema = z.record(z.string(), targetPolicySchema);

export type TargetPolicy = z.output<typeof targetPolicySchema>;
export type PoliciesConfig = Record<string, TargetPolicy>;

function globMatches(glob: string, target: string): boolean {
  const body = glob.split('*').map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*');
  return new RegExp(`^${body}$`).test(target);
}

/** The godwit.yaml policy for a target, with the key that matched it. */
export function policyFor(config: PoliciesConfig | undefined, target: string): { key: string; policy: TargetPolicy } | null {
  if (!config) return null;
  const exact = config[target];
  if (exact) return { key: target, policy: exact };
  for (const [key, policy] of Object.entries(config)) {
    if (key.includes('*') && globMatches(key, target)) return { key, policy };
  }
  return null;
}

/**
 * The run's health policy. godwit.yaml is the platform's word on its targets, the manifest
 * the author's on their change:
 * - probes: the manifest's and godwit.yaml's together; a godwit.yaml probe of the same name replaces the manifest's;
 * - on_unhealthy and ask_timeout: godwit.yaml's when it sets them;
 * - max_duration: the shorter; bake_seconds: the longer.
 * Null when nothing of it applies (no probes, no max_duration, the manifest's bake): the run
 * bakes as runs always did.
 */
export function combineHealth(manifest: HealthPolicyFields & { bake_seconds: number }, config: PoliciesConfig | undefined, target: string): HealthPolicy | null {
  const found = policyFor(config, target);
  const yaml = found?.policy;
  const yamlSource: ProbeSource = `godwit.yaml policies.${found?.key ?? ''}`;
  const notes: string[] = [];
  const probes: (Probe & { source: ProbeSource })[] = (manifest.probes ?? []).map((p) => ({ ...p, source: 'manifest' as const }));
  for (const p of yaml?.probes ?? []) {
    const i = probes.findIndex((q) => q.name === p.name);
    if (i >= 0) {
      probes[i] = { ...p, source: yamlSource };
      notes.push(`probe '${p.name}' of ${yamlSource} replaces the manifest's`);
    } else probes.push({ ...p, source: yamlSource });
  }
  const bake = Math.max(manifest.bake_seconds, yaml?.bake_seconds ?? 0);
  if (bake > manifest.bake_seconds) notes.push(`bake_seconds ${bake} from ${yamlSource} (the manifest says ${manifest.bake_seconds})`);
  const onUnhealthy = yaml?.on_unhealthy ?? manifest.on_unhealthy ?? 'rollback';
  if (yaml?.on_unhealthy !== undefined && manifest.on_unhealthy !== undefined && yaml.on_unhealthy !== manifest.on_unhealthy) {
    notes.push(`on_unhealthy ${yaml.on_unhealthy} from ${yamlSource} (the manifest says ${manifest.on_unhealthy})`);
  }
  const durations = [manifest.max_duration, yaml?.max_duration].filter((d): d is string => d !== undefined);
  const maxDuration = durations.length === 0 ? null : durations.reduce((a, b) => (durationMs(b)! < durationMs(a)! ? b : a));
  if (yaml?.max_duration !== undefined && maxDuration === yaml.max_duration && manifest.max_duration !== undefined && manifest.max_duration !== yaml.max_duration) {
    notes.push(`max_duration ${maxDuration} from ${yamlSource} (the manifest says ${manifest.max_duration})`);
  }
  if (probes.length === 0 && maxDuration === null && bake === manifest.bake_seconds) return null;
  return {
    bake_seconds: bake,
    probes,
    on_unhealthy: onUnhealthy,
    ask_timeout: yaml?.ask_timeout ?? manifest.ask_timeout ?? DEFAULT_ASK_TIMEOUT,
    max_duration: maxDuration,
    notes,
  };
}
