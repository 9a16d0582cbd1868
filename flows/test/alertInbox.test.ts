import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ALERT_HOOK_PATH, FLOWS_FILE, renderFlows } from '../src/build.ts';
import { PROVISIONING, route, type Rule } from '../../tests/harness/grafana.ts';
import { NODE_RED_SECRETS, startNodeRed, type NodeRed } from '../../tests/harness/nodeRed.ts';
import { PROJECT_ROOT, startMainProcess } from '../../tests/harness/mainProcess.ts';

/**
 * The Node-RED flow behind Grafana's webhook contact point, in a real Node-RED process: it takes
 * Grafana's notifications (webhook payload version 1) for the rules we provision, keeps and lists
 * them, refuses anything else with a reason and a count, and is closed to anyone without the
 * credentials from the environment.
 */
const rules = (parse(readFileSync(join(PROVISIONING, 'alerting', 'rules.yaml'), 'utf8')) as { groups: Array<{ rules: Rule[] }> }).groups[0]!.rules;
const policies = parse(readFileSync(join(PROVISIONING, 'alerting', 'policies.yaml'), 'utf8')) as unknown;

/** Grafana's annotation templating, for the `{{ $labels.x }}` our summaries use. */
const render = (template: string, labels: Record<string, string>) => template.replace(/\{\{ \$labels\.(\w+) \}\}/g, (_m, k: string) => labels[k] ?? '');

/** A firing alert of `uid` with these labels, as Grafana puts it in a webhook notification. */
function alert(uid: string, labels: Record<string, string>) {
  const r = rules.find((x) => x.uid === uid)!;
  const all = { alertname: r.title, grafana_folder: 'Campus network', ...r.labels, ...labels };
  return {
    status: 'firing',
    labels: all,
    annotations: Object.fromEntries(Object.entries(r.annotations).map(([k, v]) => [k, render(v, all)])),
    startsAt: '2026-11-17T01:25:00Z',
    endsAt: '0001-01-01T00:00:00Z',
    fingerprint: `${uid}-${labels['school'] ?? labels['district']}`,
  };
}

describe('the Grafana alert inbox flow (real Node-RED)', () => {
  let nr: NodeRed;
  const auth = { authorization: `Basic ${Buffer.from(`${NODE_RED_SECRETS.NODERED_ALERT_WEBHOOK_USER}:${NODE_RED_SECRETS.NODERED_ALERT_WEBHOOK_PASSWORD}`).toString('base64')}` };
  const post = (body: string, headers: Record<string, string> = auth) =>
    fetch(`${nr.url}${ALERT_HOOK_PATH}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
  const recent = async () => (await (await fetch(`${nr.url}${ALERT_HOOK_PATH}`, { headers: auth })).json()) as { received: number; rejected: number; recent: Array<{ status: string; groupLabels: Record<string, string>; alerts: Array<Record<string, string>> }> };

  beforeAll(async () => {
    nr = await startNodeRed();
  });
  afterAll(async () => {
    await nr?.stop();
  });

  it('is what flows/src generates', () => {
    expect(readFileSync(FLOWS_FILE, 'utf8')).toBe(renderFlows());
  });

  it('keeps the editor and the webhook closed without credentials', async () => {
    expect((await fetch(`${nr.url}/admin/flows`)).status).toBe(401);
    expect((await post('{"alerts":[]}', {})).status).toBe(401);
    expect((await fetch(`${nr.url}${ALERT_HOOK_PATH}`)).status).toBe(401); // the list too
    // The scheme is case-insensitive (RFC 7235).
    const lower = await fetch(`${nr.url}${ALERT_HOOK_PATH}`, { headers: { authorization: auth.authorization.replace('Basic', 'basic') } });
    expect(lower.status).toBe(200);
    expect((await post('{"alerts":[]}', { authorization: `Basic ${Buffer.from('grafana:wrong').toString('base64')}` })).status).toBe(401);
    const token = await fetch(`${nr.url}/admin/auth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ client_id: 'node-red-admin', grant_type: 'password', scope: '*', username: 'admin', password: NODE_RED_SECRETS.NODE_RED_ADMIN_PASSWORD }),
    });
    expect(token.status).toBe(200);
    const { access_token } = (await token.json()) as { access_token: string };
    const flows = (await (await fetch(`${nr.url}/admin/flows`, { headers: { authorization: `Bearer ${access_token}` } })).json()) as Array<{ type: string }>;
    expect(flows.filter((n) => n.type === 'http in')).toHaveLength(2);
  });

  it('takes the notifications our policies produce, one per school, and lists them newest first', async () => {
    // At 09:54 of the dashboards scenario: the dead gateway of yz-s02, and the stalled outbox of bs-s01 (two rules, one group).
    const firing = [
      alert('campus-gateway-offline', { district: '渝中区', school: 'yz-s02', gateway: 'gw-yz-s02' }),
      alert('campus-outbox-backlog-growing', { district: '北碚区', school: 'bs-s01', gateway: 'gw-bs-s01' }),
      alert('campus-outbox-dropped', { district: '北碚区', school: 'bs-s01', gateway: 'gw-bs-s01' }),
    ];
    const groups = route(policies, firing.map((a) => a.labels)).filter((n) => n.receiver === 'campus-nodered');
    expect(groups.map((g) => g.alerts.length)).toEqual([1, 2]);
    const before = await recent();
    for (const g of groups) {
      const alerts = firing.filter((a) => g.alerts.includes(a.labels));
      const groupLabels = Object.fromEntries(g.group.split(',').map((kv) => kv.split('=') as [string, string]));
      const res = await post(JSON.stringify({ receiver: 'campus-nodered', status: 'firing', orgId: 1, alerts, groupLabels, commonLabels: {}, version: '1', groupKey: g.group, truncatedAlerts: 0 }));
      expect(res.status).toBe(204);
    }
    const after = await recent();
    expect(after.received - before.received).toBe(2);
    expect(after.recent[0]!.groupLabels).toEqual({ district: '北碚区', school: 'bs-s01' });
    expect(after.recent[0]!.alerts.map((a) => [a['alertname'], a['severity'], a['gateway']])).toEqual([
      ['Gateway outbox backlog growing', 'warning', 'gw-bs-s01'],
      ['Gateway outbox dropped records', 'critical', 'gw-bs-s01'],
    ]);
    expect(after.recent[1]!.alerts[0]!['summary']).toBe('Gateway gw-yz-s02 of school yz-s02 (渝中区) has been offline for more than 5 minutes.');
    // A newline in a label cannot split the log line or the listing's text.
    const res = await post(JSON.stringify({ status: 'firing', alerts: [{ status: 'firing', labels: { alertname: 'x\ninjected' }, annotations: { summary: 'a\r\nb' } }] }));
    expect(res.status).toBe(204);
    const last = (await recent()).recent[0]!.alerts[0]!;
    expect([last['alertname'], last['summary']]).toEqual(['x injected', 'a  b']);
  });

  it('refuses what is not a Grafana notification with a 400 and a reason, counted, keeping nothing of it', async () => {
    const before = await recent();
    const cases: Array<[string, string]> = [
      ['{"alerts": [', 'malformed JSON'],
      ['{"alerts": [{"status": "firing", "labels": {}}, secret-ish text]}', 'malformed JSON'],
      ['[1, 2]', 'the body must be a JSON object'],
      ['{"alerts": []}', 'alerts must be a non-empty array'],
      ['{"alerts": [{"status": "firing"}]}', 'every alert needs labels'],
      ['{"alerts": [{"status": "firing", "labels": {"alertname": "x"}}, {"status": "burning", "labels": {}}]}', 'an alert status must be firing or resolved'],
      [`{"alerts": [{"status": "firing", "labels": {"x": "${'a'.repeat(1_100_000)}"}}]}`, 'larger than 1048576 bytes'],
    ];
    for (const [body, reason] of cases) {
      const res = await post(body);
      expect(res.status, reason).toBe(400);
      const error = ((await res.json()) as { error: string }).error;
      expect(error, reason).toContain(reason);
      expect(error, reason).not.toContain('secret-ish'); // the body is never quoted back
    }
    const after = await recent();
    expect([after.received - before.received, after.rejected - before.rejected]).toEqual([0, cases.length]);
    expect(after.recent.length).toBe(before.recent.length);
  });

  it('does not start without its secrets', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'campus-node-red-'));
    const started = await startMainProcess('node-red', 'node_modules/node-red/red.js', { ...NODE_RED_SECRETS, NODE_RED_ADMIN_PASSWORD: '', NODE_RED_PORT: '0' }, join(dir, 'node-red.log'), async () => false, [
      '--settings',
      join(PROJECT_ROOT, 'flows', 'node-red', 'settings.cjs'),
      '--userDir',
      dir,
      FLOWS_FILE,
    ]).then(
      () => 'started',
      (e: unknown) => String(e),
    );
    expect(started).toContain('exited during start');
    // The error quotes the log's end: a caller that removes the log still learns why.
    expect(started).toContain('NODE_RED_ADMIN_PASSWORD must be set');
    expect(readFileSync(join(dir, 'node-red.log'), 'utf8')).toContain('NODE_RED_ADMIN_PASSWORD must be set');
    rmSync(dir, { recursive: true, force: true });
  });
});
