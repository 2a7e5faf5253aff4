/**
 * Who may do what on which target, from godwit.yaml's `authorization` section. Pure: the
 * worker's authorize activity asks it after the signature has been checked.
 */
import type { AuthorizationConfig } from '../config/targets';
import type { SignedAction } from './payload';

type Rule = AuthorizationConfig['targets'][string];

function globToRegExp(glob: string): RegExp {
  const body = glob.split('*').map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*');
  return new RegExp(`^${body}$`);
}

/** The rule for a target: its exact alias first, else the first glob key that matches, in file order. */
export function ruleFor(config: AuthorizationConfig, target: string): { key: string; rule: Rule } | null {
  const exact = config.targets[target];
  if (exact) return { key: target, rule: exact };
  for (const [key, rule] of Object.entries(config.targets)) {
    if (key.includes('*') && globToRegExp(key).test(target)) return { key, rule };
  }
  return null;
}

/** Null when `principal` may do `action` on `target`, else why not. */
export function refusalByPolicy(config: AuthorizationConfig, target: string, action: SignedAction, principal: string): string | null {
  const found = ruleFor(config, target);
  if (!found) return `unlisted: no entry under authorization.targets in the worker's godwit.yaml matches target '${target}', so no one may ${action} there`;
  // Whoever may roll a migration back may also slow it down or pause it, unless `tune` says otherwise.
  const listed = action === 'tune' ? (found.rule.tune ?? found.rule.rollback) : found.rule[action];
  const setting = action === 'tune' && found.rule.tune === undefined ? 'rollback (tune is not set)' : action;
  if (!listed.includes(principal)) {
    return `unlisted: ${principal} may not ${action} on '${target}' (authorization.targets.${found.key}.${setting} in the worker's godwit.yaml lists ${listed.join(', ') || 'no one'})`;
  }
  return null;
}
