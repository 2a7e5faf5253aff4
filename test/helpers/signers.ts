import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface Signers {
  dir: string;
  /** The private key file of each person, by name. */
  key: Record<string, string>;
  /** A godwit.yaml with the given authorization rules and an allowed_signers file listing `listed`. */
  config(listed: string[], targets: Record<string, Record<string, string[]>>): string;
}

/** Fresh ed25519 keys made by ssh-keygen in a temporary directory, one per name. */
export function makeSigners(names: string[]): Signers {
  const dir = mkdtempSync(join(tmpdir(), 'godwit-signers-'));
  const key: Record<string, string> = {};
  for (const name of names) {
    key[name] = join(dir, `${name}_ed25519`);
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', name, '-f', key[name]]);
  }
  return {
    dir,
    key,
    config(listed, targets) {
      const signers = listed.map((n) => `${n} ${readFileSync(`${key[n]}.pub`, 'utf8').trim()}`).join('\n');
      writeFileSync(join(dir, 'allowed_signers'), `${signers}\n`);
      const file = join(dir, 'godwit.yaml');
      writeFileSync(file, JSON.stringify({ authorization: { allowed_signers: 'allowed_signers', targets } }, null, 2));
      return file;
    },
  };
}
