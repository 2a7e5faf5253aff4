import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig, type AuthorizationConfig } from '../../src/config/targets';
import { refusalByPolicy, ruleFor } from '../../src/auth/policy';
import { canonicalPayload } from '../../src/auth/payload';

function configFile(yaml: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'godwit-authz-'));
  const file = join(dir, 'godwit.yaml');
  writeFileSync(file, yaml);
  return file;
}

describe('authorization config', () => {
  it('resolves allowed_signers relative to godwit.yaml and defaults to signed', () => {
    const file = configFile('authorization:\n  allowed_signers: keys/allowed_signers\n  targets:\n    app: { approve: [bob] }\n');
    const a = loadConfig(file).authorization!;
    expect(a.allowed_signers).toBe(join(file, '..', 'keys', 'allowed_signers'));
    expect(a.unsigned).toBe(false);
    expect(a.targets.app).toEqual({ approve: ['bob'], reject: [], rollback: [], resolve: [] });
  });

  it('refuses a section that can verify nothing, naming the setting and the development escape', () => {
    expect(() => loadConfig(configFile('authorization:\n  targets: {}\n'))).toThrow(
      /Setting 'authorization.allowed_signers': signed actions need allowed_signers: .*set unsigned: true instead/,
    );
  });

  it('refuses an unknown action name', () => {
    expect(() => loadConfig(configFile('authorization:\n  unsigned: true\n  targets:\n    app: { aprove: [bob] }\n'))).toThrow(/Setting 'authorization.targets.app': Unrecognized key/);
  });
});

describe('who may do what', () => {
  const config: AuthorizationConfig = {
    unsigned: false,
    allowed_signers: '/x',
    targets: {
      'app-*': { approve: ['bob'], reject: [], rollback: [], resolve: [] },
      'app-prod': { approve: ['carol'], reject: [], rollback: [], resolve: [] },
      '*': { approve: ['dave'], reject: [], rollback: [], resolve: [] },
    },
  };

  it('takes the exact alias first, then the first glob that matches', () => {
    expect(ruleFor(config, 'app-prod')?.key).toBe('app-prod');
    expect(ruleFor(config, 'app-staging')?.key).toBe('app-*');
    expect(ruleFor(config, 'billing')?.key).toBe('*');
    expect(ruleFor({ ...config, targets: { 'app.*': config.targets['app-*']! } }, 'appXfoo')).toBeNull();
  });

  it('names the list that does not have the principal, and a target no entry matches', () => {
    expect(refusalByPolicy(config, 'app-prod', 'approve', 'carol')).toBeNull();
    expect(refusalByPolicy(config, 'app-prod', 'approve', 'bob')).toBe(
      "unlisted: bob may not approve on 'app-prod' (authorization.targets.app-prod.approve in the worker's godwit.yaml lists carol)",
    );
    expect(refusalByPolicy(config, 'app-prod', 'resolve', 'carol')).toMatch(/lists no one\)$/);
    expect(refusalByPolicy({ ...config, targets: {} }, 'app', 'approve', 'bob')).toMatch(/^unlisted: no entry under authorization.targets .* matches target 'app'/);
  });
});

describe('the signed payload', () => {
  it('is one canonical line that names the action, principal, target, migration, run and plan', () => {
    const p = canonicalPayload({ action: 'approve', principal: 'bob', target: 'app', migrationId: 'm1', runId: 'r1', checksum: 'sha256:ab', text: null });
    expect(p).toBe('{"action":"approve","checksum":"sha256:ab","godwit":"operator-action/v1","migrationId":"m1","principal":"bob","runId":"r1","target":"app","text":null}\n');
  });
});

describe('ssh-keygen that exits before reading its input', () => {
  it('reports why it could not sign instead of crashing on the broken pipe', async () => {
    const { sshSign, SigningError } = await import('../../src/auth/ssh');
    const missing = join(mkdtempSync(join(tmpdir(), 'godwit-nokey-')), 'no-such-key');
    // Large enough that the write cannot fit in the pipe's buffer before ssh-keygen exits.
    const message = 'x'.repeat(4 << 20);
    for (let i = 0; i < 5; i++) {
      await expect(sshSign(message, missing)).rejects.toThrow(SigningError);
    }
  });
});
