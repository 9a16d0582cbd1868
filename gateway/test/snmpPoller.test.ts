import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { SnmpTarget } from '../../protocol/src/snmp.ts';
import type { OutboxRecord, TelemetryRecord } from '../../protocol/src/telemetry.ts';
import { Intake } from '../src/intake.ts';
import { createGatewayCounters } from '../src/metrics.ts';
import { CounterRates } from '../src/rates.ts';
import snmp from 'net-snmp';
import { metricsText } from '../../runtime/src/counters.ts';
import { failureDetail, polledNodes, SnmpPoller, type PolledNode } from '../src/snmpPoller.ts';
import { startSimAgent, startUdpRelay, type SimAgent, type UdpRelay } from './snmpAgent.ts';
import { lanOnlyConfig, startLanOnly } from './lanRig.ts';

/**
 * The poller against a simulated agent (net-snmp's Agent in process) whose counters the test
 * sets, through a real Intake and CounterRates, on a clock the test drives. Every expected rate
 * is computed by hand in the comments.
 */
const T0 = Date.UTC(2026, 2, 3, 1, 0, 0);
const STEP = 30_000;
const TWO64 = 1n << 64n;
const TWO32 = 1n << 32n;

interface Rig {
  poller: SnmpPoller;
  records: TelemetryRecord[];
  counters: ReturnType<typeof createGatewayCounters>;
  logs: string[];
  clock: { now: number };
  intake: Intake;
}

const rigs: Rig[] = [];
const agents: Array<SimAgent | UdpRelay> = [];
afterEach(async () => {
  for (const r of rigs.splice(0)) await r.poller.stop();
  for (const a of agents.splice(0)) await a.close();
});

function rig(secrets: Record<string, string> = {}): Rig {
  // The poller's own request timeout and retries, which a polled node's liveness timeout counts.
  const request = { timeoutMs: 300, retries: 0 };
  const clock = { now: T0 };
  const counters = createGatewayCounters();
  const records: TelemetryRecord[] = [];
  const logs: string[] = [];
  const intake = new Intake({ maxTrackedDevices: 10, snmp: request }, { counters, now: () => clock.now, rates: new CounterRates(), append: async (rs: OutboxRecord[]) => void records.push(...(rs as TelemetryRecord[])) });
  const poller = new SnmpPoller(
    request,
    { log: pino({ level: 'debug' }, { write: (s: string) => void logs.push(s) }), counters, now: () => clock.now, random: () => 0.5, secrets, accept: (s, c) => intake.acceptPolled(s, c) },
  );
  const r = { poller, records, counters, logs, clock, intake };
  rigs.push(r);
  return r;
}

async function agent(opts: { hc?: boolean } = {}): Promise<SimAgent> {
  const a = await startSimAgent(opts);
  agents.push(a);
  return a;
}

const node = (a: SimAgent, over: Partial<SnmpTarget> = {}): PolledNode => ({
  device: 'yz-s01-core',
  room: 'server-room',
  role: 'school_uplink',
  capacityBps: 1e9,
  snmp: { address: '127.0.0.1', port: a.port, version: '2c', community: a.community, ifName: 'Gi0/1', pollIntervalMs: 3_600_000, ...over } as SnmpTarget,
});

/** Sets the agent's counters and uptime for step `k` (30 s apart on the test's clock), then polls. */
async function step(r: Rig, a: SimAgent, k: number, inOctets: bigint, outOctets: bigint, uptimeTicks = 100_000 + k * 3000, ifIndex = 3): Promise<TelemetryRecord | undefined> {
  r.clock.now = T0 + k * STEP;
  a.setUptime(uptimeTicks);
  a.setInterface({ ifIndex, name: 'Gi0/1', operUp: true, inOctets, outOctets });
  const before = r.records.length;
  await r.poller.pollNow();
  return r.records.length > before ? r.records.at(-1) : undefined;
}

describe('SnmpPoller against a simulated agent', () => {
  it('a wrap of the 64-bit counters gives the exact rate (modulo 2^64)', async () => {
    const a = await agent();
    const r = rig();
    r.poller.setTargets([node(a)]);
    const first = await step(r, a, 0, TWO64 - 1000n, TWO64 - 1n);
    expect(first).toMatchObject({ device: 'yz-s01-core', kind: 'network_node', ts: T0, rx: T0, data: { role: 'school_uplink', capacityBps: 1e9, octetsIn: (TWO64 - 1000n).toString(), octetsOut: (TWO64 - 1n).toString(), operUp: true } });
    expect(first!.rate).toBeUndefined();
    // in: 2^64−1000 → 4000 is 5000 octets: 40,000 bit / 30 s = 1333.333 bit/s (rounded down at the millibit)
    // out: 2^64−1 → 0 is 1 octet: 8 bit / 30 s = 0.266 bit/s
    const second = await step(r, a, 1, 4000n, 0n);
    expect(second!.rate).toEqual({ rxBps: 1333.333, txBps: 0.266 });
    // No wrap: 4000 → 3,754,000 is 3,750,000 octets = 1,000,000 bit/s
    expect((await step(r, a, 2, 3_754_000n, 0n))!.rate).toEqual({ rxBps: 1_000_000, txBps: 0 });
    expect(r.counters.get('snmp_polls', { device: 'yz-s01-core' })).toBe(3);
    expect(r.counters.total('rate_intervals_dropped')).toBe(0);
  });

  it('an agent without HC counters: the 32-bit ones, their wrap at 2^32 exact; the interface found by ifDescr', async () => {
    const a = await agent({ hc: false });
    const r = rig();
    r.poller.setTargets([node(a, { ifName: 'Interface Gi0/1' })]);
    await step(r, a, 0, TWO32 - 500n, 100n);
    // in: 2^32−500 → 1500 is 2000 octets: 16,000 bit / 30 s = 533.333 bit/s; out: 100 → 3,750,100 = 1,000,000 bit/s
    expect((await step(r, a, 1, 1500n, 3_750_100n))!.rate).toEqual({ rxBps: 533.333, txBps: 1_000_000 });
    expect(r.records[1]!.data).toMatchObject({ octetsIn: '1500', octetsOut: '3750100' });
  });

  it('a sysUpTime that went back is a reboot: that interval is dropped (counter_reset), the next has its rate', async () => {
    const a = await agent();
    const r = rig();
    r.poller.setTargets([node(a, { ifIndex: 3, ifName: undefined })]);
    await step(r, a, 0, 10_000_000n, 0n, 500_000);
    // The agent rebooted: uptime 20 s, counters from 0 — smaller, but not a wrap.
    const rebooted = await step(r, a, 1, 2000n, 0n, 2000);
    expect(rebooted!.rate).toBeUndefined();
    expect(r.counters.get('rate_intervals_dropped', { reason: 'counter_reset' })).toBe(1);
    // 2000 → 3,752,000 = 1,000,000 bit/s
    expect((await step(r, a, 2, 3_752_000n, 0n, 5000))!.rate).toEqual({ rxBps: 1_000_000, txBps: 0 });
  });

  it('an agent up for less than the time since the last poll restarted in between, even if its uptime grew past the last one', async () => {
    const a = await agent();
    const r = rig();
    r.poller.setTargets([node(a, { ifIndex: 3, ifName: undefined })]);
    await step(r, a, 0, 1000n, 0n, 1000);
    // 10 minutes later the agent has been up 5 minutes (30,000 ticks > 1000): it restarted meanwhile.
    expect((await step(r, a, 20, 500n, 0n, 30_000))!.rate).toBeUndefined();
    expect(r.counters.get('rate_intervals_dropped', { reason: 'counter_reset' })).toBe(1);
  });

  it('an interface found by name that moves to another ifIndex is found again; one that is gone is a counted failure', async () => {
    const a = await agent();
    const r = rig();
    r.poller.setTargets([node(a)]);
    await step(r, a, 0, 0n, 0n, undefined, 3);
    a.removeInterface(3);
    // Same name at ifIndex 7 (a switch renumbered after a module change): 0 → 3,750,000 = 1,000,000 bit/s
    expect((await step(r, a, 1, 3_750_000n, 0n, undefined, 7))!.rate).toEqual({ rxBps: 1_000_000, txBps: 0 });
    a.removeInterface(7);
    r.clock.now += STEP;
    await r.poller.pollNow();
    expect(r.records).toHaveLength(2);
    expect(r.counters.get('snmp_poll_failures', { device: 'yz-s01-core', reason: 'no_such_interface' })).toBe(1);
  });

  it('a community given as env:NAME is read from the GW_SNMP_SECRET_* variables; another name is not read', async () => {
    const a = await agent();
    const r = rig({ GW_SNMP_SECRET_CORE: a.community });
    r.poller.setTargets([node(a, { community: 'env:GW_SNMP_SECRET_CORE' })]);
    expect(await step(r, a, 0, 1n, 1n)).toBeDefined();
    r.poller.setTargets([node(a, { community: 'env:GW_PASSWORD' })]);
    expect(await step(r, a, 1, 2n, 2n)).toBeUndefined();
    expect(r.counters.get('snmp_poll_failures', { device: 'yz-s01-core', reason: 'secret_unavailable' })).toBe(1);
    const failed = r.logs.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l['msg'] === 'SNMP poll failed');
    expect(failed).toMatchObject({ device: 'yz-s01-core', reason: 'secret_unavailable' });
    expect(r.logs.join('\n')).not.toContain(a.community);
  });

  it('a sample is stamped when the answer came, not when the poll began: a late answer gets its own time and the rate its true interval', async () => {
    const a = await agent();
    const r = rig();
    // The agent answers 10 s (on the test's clock) after the request was sent: the request went
    // to the agent late, as a lost one sent again does, so the agent read its counters then.
    let lateMs = 0;
    const relay = await startUdpRelay(a.port, () => void (r.clock.now += lateMs));
    agents.push(relay);
    r.poller.setTargets([node(a, { port: relay.port, ifIndex: 3, ifName: undefined })]);
    const first = await step(r, a, 0, 1000n, 0n);
    expect(first).toMatchObject({ ts: T0, seq: T0 });
    lateMs = 10_000;
    const late = await step(r, a, 1, 5_001_000n, 0n);
    // Polled at T0 + 30 s, answered at T0 + 40 s: 5,000,000 octets in 40 s = 40,000,000 bit / 40 s = 1,000,000 bit/s
    // (stamped at the poll's start it would read 40,000,000 / 30 = 1,333,333.333 bit/s).
    expect(late).toMatchObject({ ts: T0 + 40_000, seq: T0 + 40_000, rx: T0 + 40_000 });
    expect(late!.rate).toEqual({ rxBps: 1_000_000, txBps: 0 });
  });

  it('a node polled every 60 s is up between its polls and through one failed poll, down only after its own timeout', async () => {
    const a = await agent();
    const r = rig();
    const n = node(a, { ifIndex: 3, ifName: undefined, pollIntervalMs: 60_000 });
    r.intake.setPolled([n]);
    r.poller.setTargets([n]);
    const fail = async (at: number) => {
      a.removeInterface(3);
      r.clock.now = at;
      await r.poller.pollNow();
    };
    const state = (at: number) => r.intake.liveness.stateAt('yz-s01-core', at);
    // Timeout: max(75 s for network nodes, 2.5 × 60 s + 2 × 300 ms × (0 + 1)) = 150,600 ms.
    await step(r, a, 0, 0n, 0n);
    // The next poll at most 66 s later (60 s + 10 % jitter) fails; the one after, 66 s on, answers.
    await fail(T0 + 66_000);
    for (let t = T0; t <= T0 + 132_000; t += 1000) expect(state(t)).toBe('up');
    r.clock.now = T0 + 132_000;
    a.setInterface({ ifIndex: 3, name: 'Gi0/1', operUp: true, inOctets: 1n, outOctets: 1n });
    await r.poller.pollNow();
    expect(r.counters.get('snmp_polls', { device: 'yz-s01-core' })).toBe(2);
    // From then on every poll fails: up for 150,600 ms after T0 + 132 s, down after.
    await fail(T0 + 198_000);
    await fail(T0 + 264_000);
    expect(r.counters.get('snmp_poll_failures', { device: 'yz-s01-core', reason: 'no_such_interface' })).toBe(3);
    expect(state(T0 + 132_000 + 150_600)).toBe('up');
    expect(state(T0 + 132_000 + 150_601)).toBe('down');
  });

  it('a node dropped from the targets is no longer polled and its series leave /metrics; stop() closes every session', async () => {
    const a = await agent();
    const r = rig();
    r.poller.setTargets([node(a)]);
    await step(r, a, 0, 1n, 1n);
    a.removeInterface(3);
    r.clock.now += STEP;
    await r.poller.pollNow();
    const series = () => Object.keys(r.counters.snapshot()).filter((k) => k.startsWith('snmp_poll'));
    expect(series()).toEqual(['snmp_poll_failures{device="yz-s01-core",reason="no_such_interface"}', 'snmp_polls{device="yz-s01-core"}']);
    // A changed target keeps the node's counts; a node no longer polled leaves /metrics.
    r.poller.setTargets([node(a, { pollIntervalMs: 600_000 })]);
    expect(series()).toHaveLength(2);
    r.poller.setTargets([]);
    expect(r.poller.size).toBe(0);
    expect(await step(r, a, 2, 2n, 2n)).toBeUndefined();
    expect(series()).toEqual([]);
    expect((await metricsText(r.counters.registry)).body).not.toContain('yz-s01-core');
  });
});

describe('a gateway polling a node', () => {
  it('gives the node its own timeout from the poll interval and GW_SNMP_TIMEOUT_MS / GW_SNMP_RETRIES', async () => {
    const a = await agent();
    a.setUptime(100_000);
    a.setInterface({ ifIndex: 3, name: 'Gi0/1', operUp: true, inOctets: 0n, outOctets: 0n });
    const clock = { now: T0 - 161_000 };
    const rig = await startLanOnly(await lanOnlyConfig({ GW_SNMP_TIMEOUT_MS: '1000', GW_SNMP_RETRIES: '2' }), { now: () => clock.now, random: () => 0.5 });
    try {
      rig.gw.setPolledNodes([node(a, { ifIndex: 3, ifName: undefined, pollIntervalMs: 60_000 })]);
      await rig.gw.pollSnmp();
      // Timeout: max(75 s, 2.5 × 60 s + 2 × 1000 ms × (2 + 1)) = 156,000 ms.
      const state = async (minute: number) => {
        clock.now = minute;
        await rig.gw.sampleAvailability(minute);
        const recs = [];
        for (let b = rig.gw.outbox.take(1000); b; b = rig.gw.outbox.take(1000)) recs.push(...b.records);
        return recs.filter((x) => x.kind === 'availability').map((x) => (x as { state: string }).state);
      };
      // Heard at T0 − 161 s: the minutes T0 − 120 s, T0 − 60 s and T0 are 41 s, 101 s and 161 s after it.
      expect(await state(T0 - 120_000)).toEqual(['up']);
      expect(await state(T0 - 60_000)).toEqual(['up']);
      expect(await state(T0)).toEqual(['down']);
    } finally {
      await rig.stop();
    }
  });
});

describe('polledNodes', () => {
  it('takes the inventory\'s network nodes that have a link and an SNMP target, and nothing else', () => {
    const snmp = { address: '10.0.0.1', port: 161, version: '2c', community: 'c', ifIndex: 1, pollIntervalMs: 30_000 } as const;
    const link = { role: 'school_uplink', capacityBps: 1e9 } as const;
    expect(
      polledNodes([
        { id: 'sw1', kind: 'network_node', room: 'server-room', link, snmp },
        { id: 'sw2', kind: 'network_node', room: 'server-room', link },
        { id: 'b1', kind: 'interactive_board', room: '301' },
      ]),
    ).toEqual([{ device: 'sw1', room: 'server-room', role: 'school_uplink', capacityBps: 1e9, snmp }]);
  });
});

describe('failureDetail', () => {
  it('never repeats net-snmp\'s message, which can quote the community: only its name and code', () => {
    const mismatch = new snmp.ResponseInvalidError("Community 'sw-Secret-1' in request does not match community 'x' in response", snmp.ResponseInvalidCode.ECommunityNoMatch);
    expect(failureDetail(mismatch)).toBe(`ResponseInvalidError, code ${snmp.ResponseInvalidCode.ECommunityNoMatch}`);
    expect(failureDetail(new snmp.RequestFailedError('Local community not found for message with community sw-Secret-1', snmp.ErrorStatus.AuthorizationError))).toBe(`RequestFailedError, status ${snmp.ErrorStatus.AuthorizationError}`);
    expect(failureDetail(new Error('sw-Secret-1'))).toBe('Error');
  });
});
