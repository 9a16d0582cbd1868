import { once } from 'node:events';
import { createServer, connect, type AddressInfo } from 'node:net';
import { pino } from 'pino';
import { metricsText } from '../../runtime/src/counters.ts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Fleet } from '../../device-sim/src/fleet.ts';
import type { SnmpTarget } from '../../protocol/src/snmp.ts';
import type { Gateway } from '../../gateway/src/gateway.ts';
import { startInflux, type InfluxInstance } from '../harness/influx.ts';
import { snmpget, startSnmpd, v2cArgs, v3Args, type Snmpd, type SnmpdCredentials } from '../harness/snmpd.ts';
import { waitFor } from '../harness/ports.ts';
import { influxQuery, startStack, type Stack } from '../harness/stack.ts';

/**
 * The gateway polls Debian's real snmpd on loopback (the `lo` interface), through the real hub
 * into InfluxDB. Every rate the gateway stores is checked against counters an independent
 * `snmpget` read around each of its two polls: the stored rate must lie between the rates those
 * brackets give, so it equals the agent's counter delta up to the traffic of the polls
 * themselves (snmpd also caches its interface table for a few seconds, which the brackets absorb).
 * The brackets' rates are computed here, not by the gateway's code: Δoctets × 8 × 1000 / Δms in
 * BigInt, in millibit/s rounded down as the gateway stores them.
 */
const DEVICE = 'yz-s01-core';
const HC_IN_LO = '1.3.6.1.2.1.31.1.1.1.6.1';
const CREDS: SnmpdCredentials = { community: 'campus-ro-Ω7', user: 'campus-v3', authKey: 'auth-Key-8812-x', privKey: 'priv-Key-9034-y' };
const WRONG_COMMUNITY = 'not-the-community-55';
const WRONG_AUTH_KEY = 'not-the-auth-key-77';
/** Bytes sent over lo between the two polls of a measurement: far above the polls' own traffic. */
const BURST = 4_000_000;

const fleet: Fleet = {
  districts: [{ id: '渝中区', nameEn: 'Yuzhong', code: 'yz' }],
  schools: [
    {
      id: 'yz-s01',
      name: '渝中区第1中学',
      district: '渝中区',
      gateway: 'gw-yz-s01',
      devices: [{ id: DEVICE, kind: 'network_node', room: 'server-room', link: { role: 'access', capacityBps: 10e9 } }],
    },
  ],
};

/** A local TCP transfer of `bytes` over lo. */
async function traffic(bytes: number): Promise<void> {
  const server = createServer((s) => s.resume());
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const sock = connect((server.address() as AddressInfo).port, '127.0.0.1');
  await once(sock, 'connect');
  await new Promise<void>((resolve) => sock.end(Buffer.alloc(bytes), () => resolve()));
  await once(sock, 'close');
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

describe('SNMP polling against Debian snmpd', () => {
  let influx: InfluxInstance;
  let snmpd: Snmpd;
  let stack: Stack;
  let gw: Gateway;
  const db = 'e2e_snmp';
  const logLines: string[] = [];

  const target = (over: Partial<SnmpTarget>): SnmpTarget => ({ address: '127.0.0.1', port: snmpd.port, version: '2c', community: CREDS.community, ifName: 'lo', pollIntervalMs: 3_600_000, ...over }) as SnmpTarget;
  /**
   * The target set as an operator sets it, in the registry: the hub republishes the gateway's
   * inventory and the gateway polls what it says. The poll timers wait up to an hour: the test
   * polls by hand (gateway.pollSnmp).
   */
  const applied = () => gw.counters.get('inventories_received', { outcome: 'applied' });
  const poll = async (snmp: SnmpTarget) => {
    const before = applied();
    stack.registry.updateDevice(DEVICE, { snmp });
    await waitFor('the inventory with the target at the gateway', async () => applied() > before, { timeoutMs: 10_000 });
  };

  async function point(ts: number): Promise<{ rx: number | null; octetsIn: string }> {
    let row: unknown[] | undefined;
    await waitFor(`point at ${ts}`, async () => {
      const s = await influxQuery(influx.url, db, `SELECT rx_bps, octets_in FROM network_node WHERE device = '${DEVICE}' AND time = ${ts}ms`);
      row = s[0]?.values[0];
      return row !== undefined;
    });
    return { rx: (row![1] as number | null) ?? null, octetsIn: String(row![2]) };
  }

  /** Δoctets × 8 × 1000 / Δms, in millibit/s rounded down (the stored rate has three decimals). */
  const milliBps = (octets: bigint, dtMs: bigint): bigint => (octets * 8n * 1000n * 1000n) / dtMs;

  /** Two polls with a burst of traffic between, each bracketed by snmpget readings; the stored rate and the brackets, in millibit/s. */
  async function measure(auth: string[]): Promise<{ rate: bigint; low: bigint; high: bigint; seen: bigint }> {
    const read = async () => BigInt(await snmpget(snmpd.port, auth, HC_IN_LO));
    const s0 = await read();
    await gw.pollSnmp();
    const s1 = await read();
    const tsA = await nextPoll();
    await traffic(BURST);
    // snmpd refreshes its interface table every few seconds: wait until it shows the burst.
    let s2 = s1;
    await waitFor('snmpd shows the burst', async () => (s2 = await read()) >= s1 + BigInt(BURST), { timeoutMs: 20_000, intervalMs: 250 });
    await gw.pollSnmp();
    const s3 = await read();
    const tsB = await nextPoll();
    const b = await point(tsB);
    const dt = BigInt(tsB - tsA);
    // The stored float has three decimals: × 1000 and rounded, it is the millibit count again.
    expect(b.rx).not.toBeNull();
    return { rate: BigInt(Math.round(b.rx! * 1000)), low: milliBps(s2 - s1, dt), high: milliBps(s3 - s0, dt), seen: s2 - s1 };
  }

  let lastPoll = 0;
  /** The time of the poll just made, once it is in InfluxDB. */
  async function nextPoll(): Promise<number> {
    await waitFor('the poll in InfluxDB', async () => {
      const s = await influxQuery(influx.url, db, `SELECT last(octets_in) FROM network_node WHERE device = '${DEVICE}'`);
      const ts = Number(s[0]?.values[0]?.[0] ?? 0);
      if (ts <= lastPoll) return false;
      lastPoll = ts;
      return true;
    });
    return lastPoll;
  }

  beforeAll(async () => {
    influx = await startInflux();
    snmpd = await startSnmpd(CREDS);
    const log = pino({ level: 'debug' }, { write: (s: string) => void logLines.push(s) });
    stack = await startStack({
      influxUrl: influx.url,
      database: db,
      fleet,
      log,
      // A short network-node timeout and request wait so that failed polls make a node polled
      // every second down within the test: max(3000, 2.5 × 1000 + 2 × 500 × (0 + 1)) = 3500 ms.
      gateway: { snmp: { timeoutMs: 500, retries: 0, secrets: {} }, heartbeatTimeouts: { classroom_av: 75_000, interactive_board: 75_000, vr_kit: 150_000, network_node: 3000, science_kiosk: 150_000 }, healthIntervalMs: 3_600_000 },
    });
    gw = stack.gateways.get('yz-s01')!;
    // The inventory of the start (no target yet) in force first: a later one is each test's own.
    await waitFor('the first inventory at the gateway', async () => applied() >= 1, { timeoutMs: 10_000 });
  });
  afterAll(async () => {
    await stack?.stop();
    await snmpd?.stop();
    await influx?.stop();
  });

  it('v2c, interface by name: the stored rate is the counter delta snmpget reads over the same interval', async () => {
    await poll(target({}));
    const m = await measure(v2cArgs(CREDS));
    expect(m.seen).toBeGreaterThanOrEqual(BigInt(BURST));
    expect(m.rate).toBeGreaterThanOrEqual(m.low);
    expect(m.rate).toBeLessThanOrEqual(m.high);
    expect(gw.counters.get('snmp_polls', { device: DEVICE })).toBe(2);
  });

  it('v3 authPriv, interface by index: the same', async () => {
    await poll(target({ version: '3', community: undefined, ifName: undefined, ifIndex: 1, user: { name: CREDS.user, level: 'authPriv', authProtocol: 'sha', authKey: CREDS.authKey, privProtocol: 'aes', privKey: CREDS.privKey } }));
    const m = await measure(v3Args(CREDS));
    expect(m.seen).toBeGreaterThanOrEqual(BigInt(BURST));
    expect(m.rate).toBeGreaterThanOrEqual(m.low);
    expect(m.rate).toBeLessThanOrEqual(m.high);
    expect(gw.counters.get('snmp_polls', { device: DEVICE })).toBe(4);
  });

  it('v3 with a wrong auth key: a counted, logged auth failure', async () => {
    await poll(target({ version: '3', community: undefined, ifName: undefined, ifIndex: 1, user: { name: CREDS.user, level: 'authPriv', authProtocol: 'sha', authKey: WRONG_AUTH_KEY, privProtocol: 'aes', privKey: CREDS.privKey } }));
    await gw.pollSnmp();
    expect(gw.counters.get('snmp_poll_failures', { device: DEVICE, reason: 'auth' })).toBe(1);
    const failures = logLines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l['msg'] === 'SNMP poll failed');
    expect(failures).toEqual([expect.objectContaining({ device: DEVICE, reason: 'auth', version: '3' })]);
  });

  it('a wrong community is a counted, logged poll failure, and the node goes down after its own timeout', async () => {
    const lastHeard = lastPoll;
    const upMinute = Math.floor(lastHeard / 60_000) * 60_000;
    await gw.sampleAvailability(upMinute);
    // Polled every second from now on (its timers poll too): its own timeout is 3500 ms.
    await poll(target({ community: WRONG_COMMUNITY, pollIntervalMs: 1000 }));
    await gw.pollSnmp();
    expect(gw.counters.get('snmp_poll_failures', { device: DEVICE, reason: 'timeout' })).toBeGreaterThanOrEqual(1);
    const failures = logLines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l['msg'] === 'SNMP poll failed' && l['reason'] === 'timeout');
    expect(failures.length).toBeGreaterThanOrEqual(1);
    for (const f of failures) expect(f).toMatchObject({ device: DEVICE, reason: 'timeout', version: '2c', port: snmpd.port });
    // A minute more than the 3500 ms timeout after the node was last heard (a second more: the
    // gateway hears a poll a moment after it stamps it).
    const downMinute = Math.ceil((lastHeard + 3500 + 1000) / 60_000) * 60_000;
    await gw.pollSnmp();
    await gw.sampleAvailability(downMinute);
    let states: unknown[][] = [];
    await waitFor('availability in InfluxDB', async () => {
      const s = await influxQuery(influx.url, db, `SELECT state FROM availability WHERE device = '${DEVICE}' AND time >= ${upMinute}ms`);
      states = s[0]?.values ?? [];
      return states.length === 2;
    });
    expect(states).toEqual([
      [upMinute, 'up'],
      [downMinute, 'down'],
    ]);
    expect(gw.counters.get('snmp_poll_failures', { device: DEVICE, reason: 'timeout' })).toBeGreaterThanOrEqual(2);
    expect(gw.counters.get('snmp_polls', { device: DEVICE })).toBe(4);
  });

  it('an agent restart (sysUpTime back to 0) drops that interval; the next one has its rate', async () => {
    await poll(target({}));
    await gw.pollSnmp();
    await nextPoll();
    await snmpd.restart();
    await gw.pollSnmp();
    const rebooted = await nextPoll();
    await gw.pollSnmp();
    const after = await nextPoll();
    expect(gw.counters.get('rate_intervals_dropped', { reason: 'counter_reset' })).toBe(1);
    expect((await point(rebooted)).rx).toBeNull();
    expect((await point(after)).rx).not.toBeNull();
  });

  it('a node deleted from the registry is no longer polled, and its series leave the gateway\'s /metrics', async () => {
    const series = async () => (await metricsText(gw.counters.registry)).body.split('\n').filter((l) => l.includes(`device="${DEVICE}"`));
    expect((await series()).some((l) => l.startsWith('gateway_snmp_polls_total'))).toBe(true);
    const before = applied();
    expect(stack.registry.deleteDevice(DEVICE)).toBe(true);
    await waitFor('the inventory without the node at the gateway', async () => applied() > before, { timeoutMs: 10_000 });
    expect(await series()).toEqual([]);
    expect(gw.counters.total('snmp_polls')).toBe(0);
  });

  it('no credential appears in any log line of the hub or the gateway (at debug)', () => {
    expect(logLines.length).toBeGreaterThan(0);
    const all = logLines.join('\n');
    for (const secret of [CREDS.community, WRONG_COMMUNITY, CREDS.authKey, CREDS.privKey, WRONG_AUTH_KEY]) expect(all).not.toContain(secret);
  });
});
