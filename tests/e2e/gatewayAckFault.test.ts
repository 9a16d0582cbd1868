import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Fleet } from '../../device-sim/src/fleet.ts';
import { FileOutbox, type FileOutboxConfig } from '../../gateway/src/fileOutbox.ts';
import { createGateway, type Gateway } from '../../gateway/src/gateway.ts';
import { diskFullOnAcks } from '../../gateway/test/faultyFs.ts';
import { LAN_TELEMETRY_TOPIC } from '../../protocol/src/topics.ts';
import { silentLogger } from '../../runtime/src/logging.ts';
import { startInflux, type InfluxInstance } from '../harness/influx.ts';
import { waitFor } from '../harness/ports.ts';
import { gatewayConfig, startStack, type Stack } from '../harness/stack.ts';

/**
 * A full disk under the gateway's acknowledgement log: the hub's PUBACKs keep coming, the
 * gateway cannot record them. It counts each, keeps running and delivering, and after a
 * restart sends those batches again (at-least-once; the hub writes them as the same points).
 */
const fleet: Fleet = {
  districts: [{ id: '渝中区', nameEn: 'Yuzhong', code: 'yz' }],
  schools: [{ id: 'yz-s01', name: '一中', district: '渝中区', gateway: 'gw-yz-s01', devices: [{ id: 'yz-s01-b1', kind: 'interactive_board', room: 'r1' }] }],
};
const school = fleet.schools[0]!;
const board = (seq: number, ts: number) =>
  JSON.stringify({ device: 'yz-s01-b1', kind: 'interactive_board', seq, ts, data: { power: 'on', touchOk: true, activeInput: 'ops', firmware: 'v1' } });

describe('an acknowledgement the gateway cannot write to disk', () => {
  let influx: InfluxInstance;
  let stack: Stack;
  let gw: Gateway | undefined;
  let dir: string;
  const outboxCfg = (): FileOutboxConfig => ({ dir, maxBytes: 1 << 30, maxAgeMs: 86_400_000, segmentBytes: 1 << 20, fsync: 'always', fsyncIntervalMs: 200 });

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gw-ackfault-'));
    influx = await startInflux();
    stack = await startStack({ influxUrl: influx.url, database: 'e2e_ackfault', fleet, withGateways: false });
  });
  afterAll(async () => {
    await gw?.stop();
    await stack?.stop();
    await influx?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('is counted and logged, never a crash; the batches come back after a restart', async () => {
    const disk = diskFullOnAcks();
    const outbox = await FileOutbox.open(outboxCfg(), Date.now, disk.fs);
    gw = createGateway(gatewayConfig(school, stack.hub.mqttPort), { log: silentLogger(), outbox });
    await gw.start();
    const g = gw;
    await waitFor('uplink', async () => g.uplinkConnected);
    const dev = await mqtt.connectAsync(`mqtt://127.0.0.1:${g.lanPort}`, { clientId: 'yz-s01-b1', protocolVersion: 4, reconnectPeriod: 0 });
    const t0 = Date.now() - 60_000;
    disk.full = true;
    // One sample at a time, each its own batch: 5 PUBACKs the disk cannot record.
    for (let i = 1; i <= 5; i++) {
      await dev.publishAsync(LAN_TELEMETRY_TOPIC, board(i, t0 + i), { qos: 1 });
      await waitFor(`batch ${i} acknowledged`, async () => (g.counters.get('outbox_ack_errors') === i ? true : undefined));
    }
    disk.full = false;
    for (let i = 6; i <= 7; i++) {
      await dev.publishAsync(LAN_TELEMETRY_TOPIC, board(i, t0 + i), { qos: 1 });
      await waitFor(`batch ${i} delivered`, async () => (g.counters.get('records_delivered', { lane: 'live' }) === i ? true : undefined));
    }
    await waitFor('outbox empty', async () => (g.outbox.size() === 0 ? true : undefined));
    expect(g.counters.get('outbox_ack_errors')).toBe(5);
    expect(disk.failures).toBe(5);
    expect(g.counters.get('records_delivered', { lane: 'live' })).toBe(7);
    expect(stack.hub.counters.get('records_written')).toBe(7);
    await dev.endAsync();
    await g.stop();
    gw = undefined;
    // After the restart the five unrecorded acknowledgements are owed again; 6 and 7 are not.
    const again = await FileOutbox.open(outboxCfg());
    try {
      expect(again.take(100, 'backlog')?.records.map((r) => r.seq)).toEqual([1, 2, 3, 4, 5]);
    } finally {
      await again.close();
    }
  });
});
