import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { deriveUiUrl, temporalSettings } from '../../src/config/temporal';
import { ConfigError } from '../../src/config/targets';

// A HOME without a Temporal config file, so the machine's own never leaks in.
const home = mkdtempSync(join(tmpdir(), 'godwit-home-'));
const settings = (env: NodeJS.ProcessEnv, flags = {}) => temporalSettings(flags, { HOME: home, ...env }, {});

describe('temporalSettings', () => {
  it('talks plain gRPC to 127.0.0.1:7233 when nothing says otherwise', async () => {
    expect(await settings({})).toEqual({ address: '127.0.0.1:7233', namespace: 'default', taskQueue: 'godwit', uiUrl: 'http://127.0.0.1:8233' });
  });

  it('takes flags over the environment', async () => {
    const s = await settings({ TEMPORAL_ADDRESS: 'a:1', TEMPORAL_NAMESPACE: 'env-ns' }, { address: 'b:2', namespace: 'flag-ns' });
    expect([s.address, s.namespace]).toEqual(['b:2', 'flag-ns']);
  });

  it('turns TLS on with an API key (Temporal Cloud), as the Temporal CLI and SDKs do', async () => {
    const s = await settings({ TEMPORAL_ADDRESS: 'my-ns.a1b2c.tmprl.cloud:7233', TEMPORAL_NAMESPACE: 'my-ns.a1b2c', TEMPORAL_API_KEY: 'k' });
    expect(s.connection).toEqual({ apiKey: 'k', tls: true });
    expect(s.uiUrl).toBe(deriveUiUrl('my-ns.a1b2c.tmprl.cloud:7233', 'my-ns.a1b2c'));
  });

  it('reads mTLS files, the server name and gRPC metadata from the standard variables', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'godwit-tls-'));
    writeFileSync(join(dir, 'client.pem'), 'CERT');
    writeFileSync(join(dir, 'client.key'), 'KEY');
    const s = await settings({
      TEMPORAL_TLS_CLIENT_CERT_PATH: join(dir, 'client.pem'),
      TEMPORAL_TLS_CLIENT_KEY_PATH: join(dir, 'client.key'),
      TEMPORAL_TLS_SERVER_NAME: 'temporal.internal',
      TEMPORAL_GRPC_META_X_TEAM: 'payments',
    });
    const tls = s.connection?.tls;
    expect(typeof tls === 'object' && Buffer.from(tls.clientCertPair!.crt).toString()).toBe('CERT');
    expect(typeof tls === 'object' && Buffer.from(tls.clientCertPair!.key).toString()).toBe('KEY');
    expect(typeof tls === 'object' && tls.serverNameOverride).toBe('temporal.internal');
    expect(s.connection?.metadata).toEqual({ 'x-team': 'payments' });
  });

  it("reads a profile of the Temporal CLI's config file, under the environment", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'godwit-toml-'));
    const file = join(dir, 'temporal.toml');
    writeFileSync(file, '[profile.prod]\naddress = "prod.example:7233"\nnamespace = "payments"\napi_key = "from-file"\n');
    const s = await settings({ TEMPORAL_CONFIG_FILE: file, TEMPORAL_PROFILE: 'prod' });
    expect([s.address, s.namespace, s.connection]).toEqual(['prod.example:7233', 'payments', { apiKey: 'from-file', tls: true }]);
    expect((await settings({ TEMPORAL_CONFIG_FILE: file, TEMPORAL_PROFILE: 'prod', TEMPORAL_ADDRESS: 'env:1' })).address).toBe('env:1');
  });

  it('names the problem when the configuration cannot be read', async () => {
    await expect(settings({ TEMPORAL_CONFIG_FILE: join(home, 'missing.toml'), TEMPORAL_PROFILE: 'prod' })).rejects.toThrow(ConfigError);
    await expect(settings({ TEMPORAL_CONFIG_FILE: join(home, 'missing.toml'), TEMPORAL_PROFILE: 'prod' })).rejects.toThrow(/cannot read Temporal's client configuration .*missing\.toml/);
  });
});
