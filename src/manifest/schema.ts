/**
 * The manifest schema. Parsing applies defaults, so the parsed manifest is the
 * canonical one (see canonical.ts), and reports every problem at once.
 */
import { z } from 'zod';
import { choice, fallbackError, friendly, identifier, list, strict, text } from '../operations/fields';
import { isOperationKind, knownKinds, operationKinds } from '../operations';
import { didYouMean } from '../operations/suggest';
import { throttleSchema } from '../throttle/schema';
import { checkHealthPolicy, healthPolicyShape } from '../health/schema';
import { DEFAULT_POLICY, type Manifest, type OperationSpec } from './types';

export const MANIFEST_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

export const manifestId = z.string({ error: friendly('a string', 'the manifest id, e.g. 0007_users_email') }).check((ctx) => {
  if (!MANIFEST_ID.test(ctx.value)) {
    ctx.issues.push({
      code: 'custom',
      message:
        'expected an id of letters, digits, _ . and - starting with a letter or digit, at most 128 characters ' +
        '(it becomes part of the workflow id godwit/<target>/<id>)',
      input: ctx.value,
    });
  }
});

const OPERATION_EXAMPLE = 'e.g. - add_column: { table: users, column: { name: email, type: text } }';

function isMapping(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * One operation: a mapping with exactly one key, the kind. Validated by hand
 * rather than as a zod union, so a typo in the kind reads "unknown operation
 * 'add_colum' (did you mean add_column?)" and an error inside the spec keeps its
 * precise path instead of becoming "matches none of the union".
 */
const operation = z.unknown().transform((value, ctx): OperationSpec => {
  const fail = (message: string): never => {
    ctx.addIssue({ code: 'custom', message, input: value });
    return z.NEVER;
  };
  if (!isMapping(value)) {
    return fail(`expected an operation: a mapping with one key, the operation kind (${OPERATION_EXAMPLE})`);
  }
  const keys = Object.keys(value);
  const [kind] = keys;
  if (kind === undefined) return fail(`an operation needs exactly one key, the operation kind; this one is empty (${OPERATION_EXAMPLE})`);
  if (keys.length > 1) {
    return fail(
      `an operation has exactly one key, the operation kind; found ${keys.length}: ${keys.join(', ')} ` +
        '(start each operation with its own "- " list item)',
    );
  }
  if (!isOperationKind(kind)) {
    return fail(`unknown operation '${kind}'${didYouMean(kind, knownKinds)}; known operations: ${knownKinds.join(', ')}`);
  }
  const parsed = operationKinds[kind].spec.safeParse(value[kind], { error: fallbackError });
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      ctx.addIssue({ ...issue, path: [kind, ...issue.path] } as Parameters<typeof ctx.addIssue>[0]);
    }
    return z.NEVER;
  }
  return { [kind]: parsed.data } as OperationSpec;
});

const check = strict(
  {
    name: text('a short name for the check, shown in the plan and the audit log'),
    sql: text('a query that returns true when the check passes'),
  },
  'a check: { name, sql }',
);

/** An integer (milliseconds) or a Postgres duration such as `5s`, `500ms`, `2min`. */
const duration = (what: string) =>
  z
    .union([z.number(), z.string()], { error: friendly("a duration like '5s' or a number of milliseconds", what) })
    .transform((v, ctx): string => {
      if (typeof v === 'number') {
        if (Number.isInteger(v) && v >= 0) return `${v}ms`;
      } else {
        const compact = v.replace(/\s+/g, '');
        if (/^\d+(\.\d+)?(us|ms|s|min|h|d)?$/.test(compact)) return compact;
      }
      ctx.addIssue({
        code: 'custom',
        message: `expected a duration like '5s', '500ms' or '2min', or a whole number of milliseconds (${what}), got ${JSON.stringify(v)}`,
        input: v,
      });
      return z.NEVER;
    });

const policy = strict(
  {
    approval: choice(['auto', 'required', 'never'] as const, 'whether a human approves: auto lets the risk decide, required always, never not even for risky steps').default(
      DEFAULT_POLICY.approval,
    ),
    bake_seconds: z
      .number({ error: friendly('a whole number of seconds', 'how long to watch health before the migration counts as applied') })
      .int({ error: 'expected a whole number of seconds' })
      .min(0, { error: 'expected 0 or more seconds' })
      .default(DEFAULT_POLICY.bake_seconds),
    lock_timeout: duration('how long a step may wait for a lock').default(DEFAULT_POLICY.lock_timeout),
    statement_timeout: duration("how long one statement may run; '0' is no limit").default(DEFAULT_POLICY.statement_timeout),
    // No defaults below: a field a manifest leaves out stays out of its canonical form, so
    // adding a policy field never changes the checksum of a manifest already applied.
    data_proof: choice(
      ['restores', 'whole_table'] as const,
      "what the rollback proof compares: restores (each restore against its own snapshot; right while the application writes) or whole_table (every touched table's checksum against before; only for a database nobody writes to during the migration)",
    ).optional(),
    retention: duration("how long snapshots and retired columns and tables are kept after the migration, e.g. '14d' or '12h'").optional(),
    approval_risk: choice(['low', 'medium', 'high'] as const, 'with approval: auto, the step risk from which a person must approve (default high)').optional(),
    approval_timeout: duration("how long a migration waits for its approval before it ends rejected, e.g. '4h' (default 24h)").optional(),
    allow_lint: z
      .array(identifier('a lint code, e.g. not_restorable'), { error: friendly('a list of lint codes', 'the lint errors this manifest accepts, e.g. [not_restorable]') })
      .optional(),
    throttle: throttleSchema.optional(),
    ...healthPolicyShape,
  },
  'the policy: { approval, approval_risk, approval_timeout, bake_seconds, lock_timeout, statement_timeout, data_proof, retention, allow_lint, throttle, probes, on_unhealthy, ask_timeout, max_duration }',
).superRefine((p, ctx) => checkHealthPolicy(p, ctx, 'policy.bake_seconds'));

export const manifestSchema = strict(
  {
    id: manifestId,
    description: z.string({ error: friendly('a string', 'what the migration does, for people') }).default(''),
    operations: list(operation, `the operations, in order (${OPERATION_EXAMPLE})`, 1),
    checks: strict(
      {
        pre: list(check, 'checks run before the first step').default([]),
        post: list(check, 'checks run after the last step').default([]),
      },
      'checks: { pre, post }',
    ).prefault({}),
    policy: policy.prefault({}),
  },
  'a migration manifest: { id, description, operations, checks, policy }',
);

/** Compile-time proof that the schema produces a Manifest. */
export type ParsedManifest = z.output<typeof manifestSchema>;
const _assignable = (m: ParsedManifest): Manifest => m;
void _assignable;
