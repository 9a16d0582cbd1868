import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { drift, PROVISIONING_DIR, render } from '../src/build.ts';
import { expandEnv } from '../../tests/harness/grafana.ts';

/**
 * The provisioning tree is what Grafana loads: it must match the TypeScript source, and be in
 * the formats Grafana documents (dashboard JSON; datasources, dashboard providers and unified
 * alerting as provisioning YAML).
 */

interface Target {
  refId: string;
  query: string;
  rawQuery: boolean;
  resultFormat: string;
  datasource: { type: string; uid: string };
}
interface Panel {
  id: number;
  type: string;
  title: string;
  datasource: { type: string; uid: string };
  targets: Target[];
  gridPos: { x: number; y: number; w: number; h: number };
  fieldConfig: { defaults: { unit?: string }; overrides: Array<{ matcher: { id: string; options: string }; properties: Array<{ id: string; value: unknown }> }> };
}
interface Dashboard {
  uid: string;
  title: string;
  schemaVersion: number;
  timezone: string;
  panels: Panel[];
  templating: { list: Array<{ name: string; type: string; multi: boolean; includeAll: boolean; datasource?: { uid: string }; current?: { value: unknown } }> };
}

const file = (path: string) => readFileSync(join(PROVISIONING_DIR, path), 'utf8');
const dashboard = (uid: string) => JSON.parse(file(`dashboards/json/${uid}.json`)) as Dashboard;
const UIDS = ['campus-city', 'campus-district', 'campus-school', 'campus-gateways'];

describe('the provisioning tree', () => {
  it('is exactly what dashboards/src generates (no drift)', () => {
    expect(drift()).toEqual([]);
    expect([...render().keys()].sort()).toEqual([
      'alerting/contact-points.yaml',
      'alerting/policies.yaml',
      'alerting/rules.yaml',
      'dashboards/campus.yaml',
      'dashboards/json/campus-city.json',
      'dashboards/json/campus-district.json',
      'dashboards/json/campus-gateways.json',
      'dashboards/json/campus-school.json',
      'datasources/campus.yaml',
    ]);
  });

  it('notices drift: a changed committed file is reported', () => {
    const dir = join(PROVISIONING_DIR, '..', 'provisioning-missing');
    expect(drift(dir)).toHaveLength(render().size);
  });

  it('provisions one InfluxDB datasource with the fixed uid every panel names, settings from the environment', () => {
    const doc = parse(expandEnv(file('datasources/campus.yaml'), { INFLUX_URL: 'http://influxdb:8086', INFLUX_DB: 'campus', INFLUX_USERNAME: 'grafana', INFLUX_PASSWORD: 's3cret' })) as {
      apiVersion: number;
      datasources: Array<Record<string, unknown> & { jsonData: Record<string, unknown>; secureJsonData: Record<string, unknown> }>;
    };
    expect(doc.apiVersion).toBe(1);
    expect(doc.datasources).toHaveLength(1);
    const ds = doc.datasources[0]!;
    expect([ds['uid'], ds['type'], ds['access'], ds['url'], ds['user']]).toEqual(['campus-influxdb', 'influxdb', 'proxy', 'http://influxdb:8086', 'grafana']);
    expect(ds.jsonData).toEqual({ dbName: 'campus', httpMode: 'POST', timeInterval: '1m' });
    expect(ds.secureJsonData).toEqual({ password: 's3cret' });
  });

  it('loads the dashboards from the directory it writes them to', () => {
    const doc = parse(file('dashboards/campus.yaml')) as { providers: Array<{ type: string; options: { path: string } }> };
    expect(doc.providers.map((p) => [p.type, p.options.path])).toEqual([['file', '/etc/grafana/provisioning/dashboards/json']]);
  });
});

describe('the dashboards', () => {
  it.each(UIDS)('%s is Grafana dashboard JSON: fixed uid, schema version, unique panel ids, on the 24-column grid', (uid) => {
    const d = dashboard(uid);
    expect(d.uid).toBe(uid);
    expect(d.schemaVersion).toBe(42);
    expect(d.timezone).toBe('Asia/Shanghai');
    expect(d.panels.map((p) => p.id)).toEqual(d.panels.map((_, i) => i + 1));
    for (const p of d.panels) {
      expect(p.gridPos.x + p.gridPos.w, p.title).toBeLessThanOrEqual(24);
      expect(p.gridPos.w * p.gridPos.h, p.title).toBeGreaterThan(0);
    }
  });

  it.each(UIDS)('%s: every panel and query names the datasource by uid, in raw InfluxQL bounded by $timeFilter', (uid) => {
    for (const p of dashboard(uid).panels) {
      expect(p.datasource, p.title).toEqual({ type: 'influxdb', uid: 'campus-influxdb' });
      expect(p.targets.length, p.title).toBeGreaterThan(0);
      for (const t of p.targets) {
        expect(t.datasource, p.title).toEqual({ type: 'influxdb', uid: 'campus-influxdb' });
        expect([t.rawQuery, ['time_series', 'table'].includes(t.resultFormat)], p.title).toEqual([true, true]);
        expect(t.query, p.title).toContain('WHERE $timeFilter');
      }
      expect(new Set(p.targets.map((t) => t.refId)).size, p.title).toBe(p.targets.length);
    }
  });

  it('shows kiosk content ages in seconds, free disk in MiB, amber from a day and red from a week', () => {
    const p = dashboard('campus-district').panels.find((x) => x.title === 'Science kiosks: content sync age and free disk')!;
    expect(p.fieldConfig.defaults.unit).toBe('s');
    expect(p.fieldConfig.overrides.find((o) => o.matcher.options === 'free_disk')!.properties).toEqual([{ id: 'unit', value: 'mbytes' }]);
    expect((p.fieldConfig.defaults as { thresholds?: { steps: Array<{ value: number | null }> } }).thresholds!.steps.map((x) => x.value)).toEqual([null, 86_400, 604_800]);
    expect(p.targets[0]!.query).toContain('FROM "science_kiosk"');
  });

  it('uses the right units: bit/s for bandwidth, fractions as percent, ms for ages', () => {
    const unit = (uid: string, title: string) => dashboard(uid).panels.find((p) => p.title === title)!.fieldConfig.defaults.unit;
    expect(unit('campus-city', 'Bandwidth by district (sum of school uplinks)')).toBe('bps');
    expect(unit('campus-city', 'District uplink utilisation (of 10 Gbit/s)')).toBe('percentunit');
    expect(unit('campus-city', 'Availability and coverage by district')).toBe('percentunit');
    expect(unit('campus-city', 'Worst schools (availability)')).toBe('percentunit');
    expect(unit('campus-district', 'School uplink bandwidth')).toBe('bps');
    expect(unit('campus-district', 'Schools by uplink saturation')).toBe('percentunit');
    expect(unit('campus-district', 'Synchronous-classroom streams: bitrate and worst loss')).toBe('Kbits');
    expect(unit('campus-school', 'School uplink')).toBe('bps');
    expect(unit('campus-gateways', 'Age of the oldest record held')).toBe('ms');
    const peak = dashboard('campus-district').panels.find((p) => p.title === 'Schools by uplink saturation')!.fieldConfig.overrides;
    expect(peak.find((o) => o.matcher.options === 'peak_in')?.properties).toEqual([{ id: 'unit', value: 'bps' }]);
  });

  it('links a district or school in a table to its own dashboard, with variables that exist there and fields the table has', () => {
    const links: Array<[string, string, Panel]> = [];
    for (const uid of UIDS) {
      for (const p of dashboard(uid).panels) {
        for (const o of p.fieldConfig.overrides) {
          for (const prop of o.properties) if (prop.id === 'links') for (const l of prop.value as Array<{ url: string }>) links.push([uid, l.url, p]);
        }
      }
    }
    // City: districts and worst schools; district: schools by availability and by saturation.
    expect(links.map(([uid, url]) => `${uid} → ${/^\/d\/([\w-]+)\?/.exec(url)![1]}`)).toEqual([
      'campus-city → campus-district',
      'campus-city → campus-school',
      'campus-district → campus-school',
      'campus-district → campus-school',
    ]);
    for (const [, url, p] of links) {
      const target = dashboard(/^\/d\/([\w-]+)\?/.exec(url)![1]!);
      const vars = [...url.matchAll(/var-(\w+)=/g)].map((m) => m[1]);
      for (const v of vars) expect(target.templating.list.map((x) => x.name), url).toContain(v);
      expect(url).toContain('${__url_time_range}');
      for (const m of url.matchAll(/__data\.fields\.(\w+)/g)) expect(p.targets[0]!.query, p.title).toMatch(new RegExp(`GROUP BY .*"${m[1]}"`));
    }
  });

  it('has district, school and kind variables where they apply; multi-value ones default to All', () => {
    const vars = (uid: string) => dashboard(uid).templating.list.map((v) => `${v.name}:${v.type}:${v.multi ? 'multi' : 'single'}`);
    expect(vars('campus-city')).toEqual(['district:query:multi', 'kind:custom:multi']);
    expect(vars('campus-district')).toEqual(['district:query:single', 'school:query:multi']);
    expect(vars('campus-school')).toEqual(['district:query:single', 'school:query:single', 'kind:custom:multi']);
    expect(vars('campus-gateways')).toEqual(['district:query:multi', 'school:query:multi']);
    for (const uid of UIDS) {
      for (const v of dashboard(uid).templating.list) {
        if (v.type === 'query') expect(v.datasource?.uid).toBe('campus-influxdb');
        if (v.multi) expect([v.includeAll, v.current?.value]).toEqual([true, '$__all']);
      }
    }
  });
});

interface RuleQuery {
  refId: string;
  datasourceUid: string;
  relativeTimeRange?: { from: number; to: number };
  model: { type?: string; query?: string; expression?: string };
}
interface Rule {
  uid: string;
  title: string;
  condition: string;
  for: string;
  noDataState: string;
  execErrState: string;
  data: RuleQuery[];
  labels: Record<string, string>;
  annotations: Record<string, string>;
  isPaused: boolean;
}

describe('the alerting provisioning', () => {
  const rules = () => (parse(file('alerting/rules.yaml')) as { apiVersion: number; groups: Array<{ orgId: number; name: string; folder: string; interval: string; rules: Rule[] }> }).groups;

  it('is one group in one folder, evaluated every minute, with the seven rules', () => {
    const groups = rules();
    expect(groups.map((g) => [g.orgId, g.name, g.folder, g.interval])).toEqual([[1, 'campus-hub', 'Campus network', '1m']]);
    expect(groups[0]!.rules.map((r) => [r.uid, r.for])).toEqual([
      ['campus-gateway-offline', '5m'],
      ['campus-district-uplink-saturated', '10m'],
      ['campus-school-availability-low', '10m'],
      ['campus-outbox-backlog-growing', '10m'],
      ['campus-hub-silent', '2m'],
      ['campus-outbox-dropped', '1m'],
      ['campus-gateway-credentials-shared', '1m'],
    ]);
  });

  it('every rule: a valid uid, a pending period, its condition among its queries, routing labels and a summary', () => {
    for (const r of rules()[0]!.rules) {
      expect(r.uid).toMatch(/^[a-zA-Z0-9_-]{1,40}$/);
      expect(r.for, r.uid).toMatch(/^[1-9]\d*m$/);
      expect(r.data.map((d) => d.refId), r.uid).toContain(r.condition);
      expect(['critical', 'warning'], r.uid).toContain(r.labels['severity']);
      expect(['gateway', 'district', 'school', 'hub'], r.uid).toContain(r.labels['scope']);
      if (r.labels['scope'] !== 'hub') expect(r.annotations['summary'], r.uid).toMatch(/\{\{ \$labels\.(gateway|district|school) \}\}/);
      // No data is OK (an unreachable school is the gateway rule's), except for the rule about no data.
      expect([r.noDataState, r.execErrState, r.isPaused], r.uid).toEqual([r.uid === 'campus-hub-silent' ? 'Alerting' : 'OK', 'Error', false]);
      for (const d of r.data) {
        if (d.datasourceUid === '__expr__') {
          expect(['reduce', 'math', 'threshold'], r.uid).toContain(d.model.type);
          continue;
        }
        expect(d.datasourceUid, r.uid).toBe('campus-influxdb');
        // Seconds, as integers (Grafana's file format), ending now.
        expect(Number.isInteger(d.relativeTimeRange!.from) && d.relativeTimeRange!.from > 0 && d.relativeTimeRange!.to === 0, r.uid).toBe(true);
        // Grouped by what notifications are grouped on, so each instance carries those labels.
        const by = { district: ' GROUP BY "district"', school: ' GROUP BY "district", "school"', gateway: ' GROUP BY "district", "school", "gateway"', hub: '' }[r.labels['scope']!]!;
        if (by) expect(d.model.query!.endsWith(by), r.uid).toBe(true);
        else expect(d.model.query, r.uid).not.toContain('GROUP BY');
        // Alert queries get intervalMs 1 s: a $__interval would mean 1 s buckets.
        expect(d.model.query, r.uid).not.toContain('$__interval');
      }
    }
  });

  it('keeps its $-templates out of environment expansion: labels and policies have no $ at all', () => {
    for (const r of rules()[0]!.rules) expect(JSON.stringify(r.labels)).not.toContain('$');
    expect(file('alerting/policies.yaml')).not.toContain('$');
  });

  it('takes contact-point secrets from the environment', () => {
    const env = { NODERED_ALERT_WEBHOOK_URL: 'http://node-red:1880/hooks/grafana-alerts', NODERED_ALERT_WEBHOOK_USER: 'grafana', NODERED_ALERT_WEBHOOK_PASSWORD: 'p@ss$word', ALERT_EMAIL_TO: 'noc@example.org' };
    const doc = parse(expandEnv(file('alerting/contact-points.yaml'), env)) as { contactPoints: Array<{ name: string; receivers: Array<{ uid: string; type: string; settings: Record<string, unknown> }> }> };
    expect(doc.contactPoints.map((c) => [c.name, c.receivers.map((r) => [r.uid, r.type])])).toEqual([
      ['campus-nodered', [['campus-nodered-webhook', 'webhook']]],
      ['campus-email', [['campus-email', 'email']]],
    ]);
    expect(doc.contactPoints[0]!.receivers[0]!.settings).toEqual({ url: env.NODERED_ALERT_WEBHOOK_URL, httpMethod: 'POST', username: 'grafana', password: 'p@ss$word' });
    expect(doc.contactPoints[1]!.receivers[0]!.settings).toEqual({ addresses: 'noc@example.org', singleEmail: true });
  });

  it('groups notifications by district and school, critical ones also by e-mail', () => {
    const doc = parse(file('alerting/policies.yaml')) as { policies: Array<Record<string, unknown>> };
    expect(doc.policies).toEqual([
      {
        orgId: 1,
        receiver: 'campus-nodered',
        group_by: ['district', 'school'],
        group_wait: '30s',
        group_interval: '5m',
        repeat_interval: '4h',
        routes: [
          { receiver: 'campus-email', object_matchers: [['severity', '=', 'critical']], continue: true },
          { receiver: 'campus-nodered', object_matchers: [['scope', '=~', '.+']] },
        ],
      },
    ]);
  });
});
