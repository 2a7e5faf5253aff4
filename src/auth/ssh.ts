/**
 * Signing and verifying with ssh-keygen's -Y mode (OpenSSH 8.1+), the same mechanism and
 * allowed_signers format git uses for signed commits. The keys never pass through Godwit:
 * ssh-keygen reads the private key (or asks the ssh-agent) and the allowed_signers file.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SIGNATURE_NAMESPACE } from './payload';
import { GodwitError } from '../errors';

/** Thrown when ssh-keygen cannot sign (no such key, wrong passphrase, agent without the key). */
export class SigningError extends GodwitError {
  override readonly name = 'SigningError';
}

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function sshKeygen(args: string[], stdin: string): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = execFile('ssh-keygen', args, { maxBuffer: 1 << 20 }, (err, stdout, stderr) => {
      if (err && typeof err.code !== 'number') {
        reject(new SigningError(`cannot run ssh-keygen (${err.message}); install OpenSSH 8.1 or later`));
        return;
      }
      resolve({ code: err ? Number(err.code) : 0, stdout, stderr });
    });
    // ssh-keygen may exit before it reads stdin (a signature it cannot parse, a key it
    // cannot find): the write then fails with EPIPE. Its exit code and stderr already say
    // why, so the broken pipe itself is not the error to report.
    child.stdin?.on('error', () => {});
    child.stdin?.end(stdin);
  });
}

/**
 * Signs `message` with `key`: a private key file, or a public key file whose private half
 * the ssh-agent holds. Returns the armored signature (`-----BEGIN SSH SIGNATURE-----`).
 */
export async function sshSign(message: string, key: string): Promise<string> {
  const r = await sshKeygen(['-Y', 'sign', '-n', SIGNATURE_NAMESPACE, '-f', key], message);
  if (r.code !== 0 || !r.stdout.includes('BEGIN SSH SIGNATURE')) {
    throw new SigningError(`ssh-keygen could not sign with ${key}: ${r.stderr.trim() || `exit ${r.code}`}`);
  }
  return r.stdout;
}

export type Verification =
  | { ok: true; key: string }
  /** forged: no key in allowed_signers made it; wrong_principal: a key listed for others; not_this_action: a listed key, another message. */
  | { ok: false; why: 'forged' | 'wrong_principal' | 'not_this_action'; detail: string };

/**
 * Verifies that `signature` over `message` was made by a key that `allowedSigners` lists
 * for `principal`. On success, `key` is the signing key's type and fingerprint. On failure
 * it asks allowed_signers whose key signed, to tell a forgery from a replay.
 */
export async function sshVerify(message: string, signature: string, principal: string, allowedSigners: string): Promise<Verification> {
  const dir = await mkdtemp(join(tmpdir(), 'godwit-verify-'));
  try {
    const sig = join(dir, 'action.sig');
    await writeFile(sig, signature);
    const r = await sshKeygen(['-Y', 'verify', '-n', SIGNATURE_NAMESPACE, '-f', allowedSigners, '-I', principal, '-s', sig], message);
    if (r.code === 0) return { ok: true, key: /with (\S+ key \S+)/.exec(r.stdout)?.[1] ?? 'key' };
    const detail = (r.stderr || r.stdout).trim().split('\n').at(-1) ?? `exit ${r.code}`;
    const found = await sshKeygen(['-Y', 'find-principals', '-f', allowedSigners, '-s', sig], '');
    const owners = found.code === 0 ? found.stdout.split('\n').map((l) => l.trim()).filter(Boolean) : [];
    if (owners.length === 0) return { ok: false, why: 'forged', detail };
    if (!owners.includes(principal)) return { ok: false, why: 'wrong_principal', detail: `the key is listed for ${owners.join(', ')}` };
    return { ok: false, why: 'not_this_action', detail };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
