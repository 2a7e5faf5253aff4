import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { FleetsSchema } from './fleet-schema';
import { policiesSchema } from '../health/policy';
import { GodwitError } from '../errors';

const Principals = z.array(z.string().min(1)).default([]);

/**
 * Who may do what, read by the worker only (never from workflow input). Each key of
 * `targets` is a target alias or a glob (`app-*`); the exact alias wins, otherwise the
 * first glob that matches in file order. A target no key matches allows no one.
 */
const AuthorizationSchema = z
  .object({
    /** git's allowed_signers format; a relative path is relative to godwit.yaml. */
    allowed_signers: z.string().min(1).optional(),
    /** Development only: accept unsigned actions (the principal lists still apply). */
    unsigned: z.boolean().default(false),
    targets: z
      .record(
        z.string(),
        z
          .object({
            approve: Principals,
            reject: Principals,
            rollback: Principals,
            resolve: Principals,
            /** tune, pause and resume; absent: whoever may roll back. */
            tune: z.array(z.string().min(1)).optional(),
            request: z.array(z.string().min(1)).optional(),
          })
          .strict(),
      )
      .default({}),
  })
  .strict()
  .refine((a) => a.unsigned || a.allowed_signers !== undefined, {
    message: 'signed actions need allowed_signers: <path to an allowed_signers file>; for local development only, set unsigned: true instead',
    path: ['allowed_signers'],
  });

export type AuthorizationConfig = z.infer<typeof AuthorizationSchema>;

/**
 * godwit.yaml: where the worker finds each target's connection string and where the
 * CLI finds Temporal. The file never holds a connection string itself, only the name
 * of the environment variable that does, so it can be committed.
 */
const ConfigSchema = z
  .object({
    temporal: z
      .object({
        address: z.string().optional(),
        namespace: z.string().optional(),
        task_queue: z.string().optional(),
        ui_url: z.string().optional(),
      })
      .strict()
      .optional(),
    targets: z.record(z.string(), z.object({ url_env: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/) }).strict()).optional(),
    authorization: AuthorizationSchema.optional(),
    /** Sets of targets one release migrates together (src/config/fleets.ts). */
    fleets: FleetsSchema.optional(),
    /** Health probes, on_unhealthy and max_duration per target alias or glob (src/health/policy.ts). */
    policies: policiesSchema.optional(),
  })
  .strict();

export type GodwitConfig = z.infer<typeof ConfigSchema>;

/** Thrown when godwit.yaml exists but is not valid. */
export class ConfigError extends GodwitError {
  override readonly name = 'ConfigError';
  /** An activity that reads a bad godwit.yaml is retried: fixing the file lets the run go on. */
  override readonly retryable: boolean = true;
}

/** Thrown when the worker has no connection string for a target alias. */
export class UnknownTargetError extends GodwitError {
  override readonly name = 'UnknownTargetError';
  constructor(
    readonly alias: string,
    readonly envVar: string,
    detail?: string,
  ) {
    super(
      detail ??
        `unknown target '${alias}': the worker has no connection string for it. ` +
          `Set ${envVar}=postgres://... in the worker's environment, or add it to godwit.yaml under ` +
          `targets: { ${alias}: { url_env: SOME_VAR } }, then restart the worker (\`godwit worker\`).`,
    );
  }
}

export function loadConfig(file = process.env.GODWIT_CONFIG ?? resolve('godwit.yaml')): GodwitConfig {
  if (!existsSync(file)) return {};
  let raw: unknown;
  try {
    raw = parseYaml(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new ConfigError(`${file}: YAML syntax error: ${(err as Error).message}`);
  }
  const parsed = ConfigSchema.safeParse(raw ?? {});
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `  Setting '${i.path.join('.')}': ${i.message}`);
    throw new ConfigError(`${file} is not a valid Godwit config:\n${problems.join('\n')}`);
  }
  const config = parsed.data;
  const signers = config.authorization?.allowed_signers;
  if (config.authorization && signers !== undefined) config.authorization.allowed_signers = resolve(dirname(file), signers);
  return config;
}

/** `app-prod` → `GODWIT_TARGET_APP_PROD`. */
export function targetEnvVar(alias: string): string {
  return `GODWIT_TARGET_${alias.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`;
}

export const TARGET_ALIAS = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;

/** Resolves a target alias to its connection string: godwit.yaml first, then GODWIT_TARGET_<ALIAS>. */
export function resolveTargetUrl(alias: string, config: GodwitConfig = loadConfig(), env: NodeJS.ProcessEnv = process.env): string {
  const envVar = targetEnvVar(alias);
  if (!TARGET_ALIAS.test(alias)) {
    throw new UnknownTargetError(alias, envVar, `invalid target alias '${alias}': use letters, digits, '-', '_' or '.' (e.g. app-prod)`);
  }
  const fromConfig = config.targets?.[alias];
  if (fromConfig) {
    const url = env[fromConfig.url_env];
    if (!url) {
      throw new UnknownTargetError(
        alias,
        envVar,
        `target '${alias}' is configured in godwit.yaml to read ${fromConfig.url_env}, but ${fromConfig.url_env} is not set in the worker's environment; set it and restart the worker`,
      );
    }
    return url;
  }
  const url = env[envVar];
  if (!url) throw new UnknownTargetError(alias, envVar);
  return url;
}

/** Removes credentials from anything that might quote a connection string. */
export function redact(text: string): string {
  return text.replace(/(postgres(?:ql)?:\/\/)[^\s'"@/]*@/gi, '$1***@').replace(/password=\S+/gi, 'password=***');
}
