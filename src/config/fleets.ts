/**
 * Fleets: named sets of targets in godwit.yaml that one release migrates together, canaries
 * first, at most `max_parallel` at a time, halted and rolled back past a failure threshold.
 *
 * ```yaml
 * fleets:
 *   tenants:
 *     targets: [tenant-eu-1, "tenant-*", { file: tenants.txt }]
 *     canary: [tenant-eu-1]
 *     max_parallel: 8
 *     failure_threshold: 2        # or "5%" of the fleet (rounded up, at least 1)
 * ```
 *
 * A target entry is an alias, a glob (`*`, `?`) over the targets configured under
 * `targets:` in the same file, or `{ file: path }`: one alias per line, `#` comments, a path
 * relative to godwit.yaml. The CLI resolves the fleet to a list of aliases; the worker then
 * checks that it can reach every one before the release touches any.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { ConfigError, loadConfig, TARGET_ALIAS, type GodwitConfig } from './targets';
import type { FleetSchema } from './fleet-schema';

export type FleetConfig = import('zod').infer<typeof FleetSchema>;

/** A fleet resolved to its targets, as a release takes it. */
export interface ResolvedFleet {
  name: string;
  /** Every target once, canaries first, then the rest in the order the config gives them. */
  targets: string[];
  canaries: string[];
  maxParallel: number;
  /** The release halts when this many targets have failed. */
  failureThreshold: number;
  /** As written, for messages: `2` or `"5%"`. */
  thresholdText: string;
}

/** Thrown when a fleet cannot be resolved: unknown name, no targets, a canary outside the fleet... */
export class FleetError extends ConfigError {}

function globToRegExp(glob: string): RegExp {
  const body = glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${body}$`);
}

const isGlob = (s: string) => /[*?]/.test(s);

/** The failed-target count at which the release halts: a count as given, a percentage of `total` rounded up (at least 1). */
export function thresholdCount(threshold: number | string, total: number): number {
  if (typeof threshold === 'number') return threshold;
  const pct = Number(threshold.slice(0, -1));
  return Math.max(1, Math.ceil((pct / 100) * total));
}

/**
 * Resolves fleet `name` of `config` (loaded from `configFile`) to its targets. Every problem
 * is reported at once, each naming the setting and the fix.
 */
export function resolveFleet(name: string, config: GodwitConfig, configFile: string): ResolvedFleet {
  const fleets = config.fleets ?? {};
  const fleet = fleets[name];
  if (!fleet) {
    const known = Object.keys(fleets);
    throw new FleetError(
      `unknown fleet '${name}': ${configFile} ${known.length ? `names the fleets ${known.join(', ')}` : 'names no fleets'}. ` +
        `Add it under fleets: { ${name}: { targets: [...], canary: [...], max_parallel: 4, failure_threshold: 1 } }`,
    );
  }
  const problems: string[] = [];
  const configured = Object.keys(config.targets ?? {});
  const seen = new Set<string>();
  const order: string[] = [];
  const add = (alias: string, where: string) => {
    if (!TARGET_ALIAS.test(alias)) {
      problems.push(`${where}: '${alias}' is not a target alias (letters, digits, '-', '_' or '.')`);
      return;
    }
    if (seen.has(alias)) return;
    seen.add(alias);
    order.push(alias);
  };
  for (const [i, entry] of fleet.targets.entries()) {
    const where = `Setting 'fleets.${name}.targets.${i}'`;
    if (typeof entry === 'string') {
      if (!isGlob(entry)) {
        add(entry, where);
        continue;
      }
      const re = globToRegExp(entry);
      const matched = configured.filter((t) => re.test(t));
      if (matched.length === 0) {
        problems.push(`${where}: the glob '${entry}' matches none of the targets configured under targets: (${configured.length ? configured.join(', ') : 'none'}); globs only match targets listed there`);
      }
      for (const t of matched) add(t, where);
      continue;
    }
    const file = resolve(dirname(configFile), entry.file);
    if (!existsSync(file)) {
      problems.push(`${where}: the target file ${file} does not exist`);
      continue;
    }
    const aliases = readFileSync(file, 'utf8')
      .split('\n')
      .map((l) => l.replace(/#.*/, '').trim())
      .filter((l) => l !== '');
    if (aliases.length === 0) problems.push(`${where}: the target file ${file} lists no targets (one alias per line)`);
    for (const [n, a] of aliases.entries()) add(a, `${where} (${file} line ${n + 1})`);
  }
  for (const c of fleet.canary) {
    if (!seen.has(c)) problems.push(`Setting 'fleets.${name}.canary': '${c}' is not one of the fleet's targets; list it under targets too`);
  }
  if (problems.length === 0 && order.length === 0) problems.push(`Setting 'fleets.${name}.targets': the fleet has no targets`);
  const canaries = [...new Set(fleet.canary)];
  if (problems.length === 0 && canaries.length === order.length && order.length > 1) {
    problems.push(`Setting 'fleets.${name}.canary': every target is a canary; name a few, the rest follow once they are applied`);
  }
  if (problems.length > 0) throw new FleetError(`fleet '${name}' in ${configFile} is not valid:\n${problems.map((p) => `  ${p}`).join('\n')}`);
  const rest = order.filter((t) => !canaries.includes(t));
  return {
    name,
    targets: [...canaries, ...rest],
    canaries,
    maxParallel: fleet.max_parallel,
    failureThreshold: thresholdCount(fleet.failure_threshold, order.length),
    thresholdText: String(fleet.failure_threshold),
  };
}

/** Loads godwit.yaml (or $GODWIT_CONFIG) and resolves one fleet of it. */
export function loadFleet(name: string, configFile = process.env.GODWIT_CONFIG ?? resolve('godwit.yaml')): ResolvedFleet {
  if (!existsSync(configFile)) {
    throw new FleetError(`unknown fleet '${name}': there is no ${configFile}. Create it with fleets: { ${name}: { targets: [...] } }, or point GODWIT_CONFIG at yours`);
  }
  return resolveFleet(name, loadConfig(configFile), configFile);
}
