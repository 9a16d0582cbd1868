import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHub, type Hub } from '../../broker/src/hub.ts';
import { ROLLUPS, continuousQueryName } from '../../storage/src/rollups.ts';
import { InfluxAdmin } from '../../broker/src/influx/admin.ts';
import type { Fleet } from '../../device-sim/src/fleet.ts';
import { createGateway, type Gateway } from '../../gateway/src/gateway.ts';
import { silentLogger } from '../../runtime/src/logging.ts';
import { startInflux, type InfluxInstance } from '../harness/influx.ts';
import { waitFor } from '../harness/ports.ts';
import { gatewayConfig, hubConfig, influxQuery, startStack, type Stack } from '../harness/stack.ts';

/**
 * The hub's minute reports (inventory and gateway_up, what coverage and the gateway panels and
 * rules read), and the continuous queries it keeps current in InfluxDB.
 */
const fleet: Fleet = {
  districts: [{ id: '渝中区', nameEn: 'Yuzhong', code: 'yz' }],
  schools: [
    { id: 'yz-s01', name: '一中', district: '渝中区', gateway: 'gw-yz-s01', devices: [{ id: 'yz-s01-b1', kind: 'interactive_board', room: 'r1' }, { id: 'yz-s01-b2', kind: 'interactive_board', room: 'r2' }, { id: 'yz-s01-av1', kind: 'classroom_av', room: 'r1' }] },
    { id: 'yz-s02', name: '二中', district: '渝中区', gateway: 'gw-yz-s02', devices: [{ id: 'yz-s02-b1', kind: 'interactive_board', room: 'r1' }] },
    { id: 'yz-s03', name: '三中', district: '渝中区', gateway: 'gw-yz-s03', devices: [{ id: 'yz-s03-b1', kind: 'interactive_board', room: 'r1' }] },
  ],
};

describe('the hub\'s minute reports and continuous queries', () => {
  let influx: InfluxInstance;
  let stack: Stack;
  let gw: Gateway;
  const db = 'e2e_minute';

  beforeAll(async () => {
    influx = await startInflux();
    stack = await startStack({ influxUrl: influx.url, database: db, fleet, withGateways: false });
    gw = createGateway(gatewayConfig(fleet.schools[0]!, stack.hub.mqttPort), { log: silentLogger() });
    await gw.start();
    await waitFor('gw-yz-s01 online', async () => stack.hub.presence.get('gw-yz-s01')?.state === 'online');
    stack.hub.revokeGateway('gw-yz-s03', 'system:test');
  });
  afterAll(async () => {
    await gw?.stop();
    await stack?.stop();
    await influx?.stop();
  });

  it('writes the registry\'s devices per school and kind, and each active gateway\'s connection, stamped with the minute', async () => {
    const minute = Date.UTC(2026, 10, 17, 1, 30); // 09:30 Shanghai
    // 3 inventory points (yz-s01 boards and AV, yz-s02 boards, yz-s03 boards) + 2 gateways (yz-s03 is revoked).
    expect(await stack.hub.recordMinute(minute)).toBe(6);
    await waitFor('points written', async () => ((await influxQuery(influx.url, db, 'SELECT count(up) FROM gateway_up')).length ? true : undefined));
    const inv = await influxQuery(influx.url, db, `SELECT devices FROM inventory WHERE time = ${minute}ms GROUP BY school, kind`);
    expect(Object.fromEntries(inv.map((s) => [`${s.tags!['school']}/${s.tags!['kind']}`, s.values[0]![1]]))).toEqual({
      'yz-s01/classroom_av': 1,
      'yz-s01/interactive_board': 2,
      'yz-s02/interactive_board': 1,
      'yz-s03/interactive_board': 1,
    });
    const up = await influxQuery(influx.url, db, `SELECT up FROM gateway_up WHERE time = ${minute}ms GROUP BY gateway`);
    // yz-s01's gateway is connected; yz-s02's never came; yz-s03's credentials are revoked.
    expect(Object.fromEntries(up.map((s) => [s.tags!['gateway'], s.values[0]![1]]))).toEqual({ 'gw-yz-s01': 1, 'gw-yz-s02': 0 });
  });

  it('with minute reports on, writes the minute it starts in at once', async () => {
    const clock = 1_794_880_000_000 + 12_345; // a fixed clock, 12.345 s into a minute
    const hub: Hub = createHub(hubConfig(influx.url, 'e2e_minute_timer', { minuteReports: true }), { log: silentLogger(), registry: stack.registry, now: () => clock });
    await hub.start();
    try {
      const start = clock - (clock % 60_000);
      const rows = await waitFor('the start minute\'s inventory', async () => {
        const r = await influxQuery(influx.url, 'e2e_minute_timer', 'SELECT count(devices) FROM inventory GROUP BY time(1m) fill(none)');
        return r.length ? r : undefined;
      });
      expect(rows[0]!.values).toEqual([[start, 4]]);
    } finally {
      await hub.stop();
    }
  });

  it('drops continuous queries of an earlier definition and creates the current ones', async () => {
    const old = 'e2e_cq_migration';
    const q = (s: string) => fetch(`${influx.url}/query`, { method: 'POST', body: new URLSearchParams({ q: s }) }).then((r) => r.json());
    await q(`CREATE DATABASE ${old}`);
    // As an earlier hub defined it: no hash in the name, no `online` field.
    await q(`CREATE CONTINUOUS QUERY "cq_availability_1h" ON "${old}" RESAMPLE EVERY 1h FOR 4d BEGIN SELECT sum(up_expected) AS up INTO "${old}"."autogen"."x" FROM "${old}"."autogen"."availability" GROUP BY time(1h), school END`);
    // And one that is not ours, which stays.
    await q(`CREATE CONTINUOUS QUERY "site_cq" ON "${old}" BEGIN SELECT count(up) INTO "${old}"."autogen"."y" FROM "${old}"."autogen"."availability" GROUP BY time(1h) END`);
    const admin = new InfluxAdmin({ ...hubConfig(influx.url, old).influx }, silentLogger());
    await admin.ensureSchema();
    await admin.ensureSchema(); // a second start changes nothing
    const cqs = await influxQuery(influx.url, old, 'SHOW CONTINUOUS QUERIES');
    const names = cqs.find((s) => s.name === old)!.values.map((v) => v[0]).sort();
    expect(names).toEqual([...ROLLUPS.map(continuousQueryName), 'site_cq'].sort());
    expect(names.every((n) => n === 'site_cq' || /^cq_(availability_1h|inventory_1h|school_uplink_1h)_[0-9a-f]{8}$/.test(String(n)))).toBe(true);
  });
});
