import { describe, expect, it } from 'vitest';
import { AlertmanagerPayload, rollbackRequests } from '../../src/alerts/payload';
import { bearerMatches } from '../../src/alerts/receiver';
import { parseListen } from '../../src/cli/commands/alerts';

// The example payload of Alertmanager's documentation (<webhook_config>), with Godwit's labels.
const payload = (alerts: unknown[], extra: Record<string, unknown> = {}) =>
  AlertmanagerPayload.parse({
    version: '4',
    groupKey: '{}:{alertname="HighErrorRate"}',
    truncatedAlerts: 0,
    status: 'firing',
    receiver: 'godwit',
    groupLabels: { alertname: 'HighErrorRate' },
    commonLabels: { alertname: 'HighErrorRate' },
    commonAnnotations: {},
    externalURL: 'http://alertmanager:9093',
    alerts,
    ...extra,
  });
const alert = (labels: Record<string, string>, status = 'firing', annotations: Record<string, string> = {}) => ({
  status,
  labels: { alertname: 'HighErrorRate', ...labels },
  annotations,
  startsAt: '2026-12-04T18:00:00Z',
  endsAt: '0001-01-01T00:00:00Z',
  generatorURL: 'http://prometheus/graph',
  fingerprint: 'abc',
});

describe('rollbackRequests', () => {
  it('asks for a rollback per firing alert that names a target, with the alert in the reason', () => {
    const requests = rollbackRequests(payload([alert({ godwit_target: 'app-prod' }, 'firing', { summary: '5xx above 2%' }), alert({ godwit_target: 'billing', godwit_migration: '0007_x' })]));
    expect(requests).toEqual([
      { target: 'app-prod', migrationId: null, alertname: 'HighErrorRate', reason: 'alertmanager:HighErrorRate: 5xx above 2%' },
      { target: 'billing', migrationId: '0007_x', alertname: 'HighErrorRate', reason: 'alertmanager:HighErrorRate' },
    ]);
  });
  it('ignores resolved alerts, alerts without godwit_target, and repeats for the same target', () => {
    expect(rollbackRequests(payload([alert({ godwit_target: 'a' }, 'resolved'), alert({}), alert({ godwit_target: 'b' }), alert({ godwit_target: 'b', instance: 'x' })]))).toEqual([
      { target: 'b', migrationId: null, alertname: 'HighErrorRate', reason: 'alertmanager:HighErrorRate' },
    ]);
  });
  it('takes the target from the group labels when the alert itself does not carry it', () => {
    expect(rollbackRequests(payload([alert({})], { commonLabels: { alertname: 'HighErrorRate', godwit_target: 'c' } }))[0]?.target).toBe('c');
  });
  it('refuses payloads of another version or shape', () => {
    expect(AlertmanagerPayload.safeParse({ version: '3', status: 'firing', alerts: [] }).success).toBe(false);
    expect(AlertmanagerPayload.safeParse({ version: '4', status: 'firing', alerts: [{ status: 'firing' }] }).success).toBe(false);
  });
});

describe('bearerMatches', () => {
  const secret = 'a-shared-secret-of-some-length';
  it('accepts exactly the bearer secret', () => {
    expect(bearerMatches(`Bearer ${secret}`, secret)).toBe(true);
  });
  it.each([undefined, '', secret, `Basic ${secret}`, `Bearer ${secret}x`, 'Bearer ', `bearer ${secret}`])('refuses %j', (header) => {
    expect(bearerMatches(header, secret)).toBe(false);
  });
});

describe('parseListen', () => {
  it('reads host:port, :port and a port alone', () => {
    expect(parseListen('127.0.0.1:9095')).toEqual({ host: '127.0.0.1', port: 9095 });
    expect(parseListen(':9095')).toEqual({ host: '0.0.0.0', port: 9095 });
    expect(parseListen('9095')).toEqual({ host: '127.0.0.1', port: 9095 });
    expect(parseListen('[::1]:9095')).toEqual({ host: '::1', port: 9095 });
  });
  it('refuses anything else, saying what it expects', () => {
    expect(() => parseListen('localhost')).toThrow("--listen expects host:port, :port or a port (e.g. 127.0.0.1:9095), got 'localhost'");
    expect(() => parseListen('x:70000')).toThrow('--listen expects');
  });
});
