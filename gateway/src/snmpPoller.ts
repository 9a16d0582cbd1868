import snmp from 'net-snmp';
import type { Logger } from 'pino';
import type { InventoryDevice } from '../../protocol/src/inventory.ts';
import type { LinkRole } from '../../protocol/src/kinds.ts';
import { SECRET_ENV_PREFIX, type SnmpTarget } from '../../protocol/src/snmp.ts';
import { deviceSampleSchema, type DeviceSample } from '../../protocol/src/telemetry.ts';
import { WarnThrottle } from '../../runtime/src/logThrottle.ts';
import { toError } from '../../runtime/src/errors.ts';
import type { IntakeRefusal } from './intake.ts';
import type { GatewayCounters } from './metrics.ts';
import type { PolledCounter } from './rates.ts';

/** A network node the gateway polls (from its inventory's devices that have `snmp`). */
export interface PolledNode {
  device: string;
  room: string;
  role: LinkRole;
  capacityBps: number;
  snmp: SnmpTarget;
}

/** The inventory's devices the gateway polls: network nodes with a link and an SNMP target. */
export function polledNodes(devices: readonly InventoryDevice[]): PolledNode[] {
  const out: PolledNode[] = [];
  for (const d of devices) if (d.kind === 'network_node' && d.snmp && d.link) out.push({ device: d.id, room: d.room, role: d.link.role, capacityBps: d.link.capacityBps, snmp: d.snmp });
  return out;
}

/** Why a poll gave no sample (counted in snmp_poll_failures{device,reason}). */
export type PollFailure = 'timeout' | 'auth' | 'refused' | 'secret_unavailable' | 'no_such_interface' | 'no_counters' | 'invalid_response' | 'intake_refused' | 'error';

export interface SnmpPollerConfig {
  /** One request's wait for an answer, and how often it is sent again before the poll fails. */
  timeoutMs: number;
  retries: number;
}

export interface SnmpPollerDeps {
  log: Logger;
  counters: GatewayCounters;
  now: () => number;
  random: () => number;
  /** The variables `env:NAME` may name: only `GW_SNMP_SECRET_*` (config.ts gathers them). */
  secrets: Readonly<Record<string, string>>;
  /** Intake.acceptPolled. */
  accept: (sample: DeviceSample, counter: PolledCounter) => Promise<IntakeRefusal | undefined>;
}

export const OID = {
  sysUpTime: '1.3.6.1.2.1.1.3.0',
  ifDescr: '1.3.6.1.2.1.2.2.1.2',
  ifOperStatus: '1.3.6.1.2.1.2.2.1.8',
  ifInOctets: '1.3.6.1.2.1.2.2.1.10',
  ifOutOctets: '1.3.6.1.2.1.2.2.1.16',
  ifName: '1.3.6.1.2.1.31.1.1.1.1',
  ifHCInOctets: '1.3.6.1.2.1.31.1.1.1.6',
  ifHCOutOctets: '1.3.6.1.2.1.31.1.1.1.10',
} as const;

/** Each next poll lands within ±10 % of the interval, so a school's switches drift apart. */
const JITTER = 0.1;
/** An agent up for less than the time since the last poll, by more than this, restarted in between. */
const UPTIME_SLACK_MS = 2000;
/** A failure is logged at warn once per node and reason this often. */
const FAILURE_LOG_MS = 300_000;

class PollError extends Error {
  readonly reason: PollFailure;
  constructor(reason: PollFailure, message: string) {
    super(message);
    this.reason = reason;
  }
}

interface NodeState {
  node: PolledNode;
  /** The node's target as JSON: a changed one gets a new session. */
  key: string;
  session: snmp.Session | undefined;
  timer: NodeJS.Timeout | undefined;
  /** The interface found by name: its index and the column that named it. */
  resolved: { ifIndex: number; column: string } | undefined;
  last: { ts: number; upTicks: number } | undefined;
  /** The poll under way (polls of a node never overlap). */
  running: Promise<void>;
  gone: boolean;
}

/**
 * Polls the school's network nodes over SNMP (docs/design.md#bandwidth): per node one session
 * (v2c or v3), every `pollIntervalMs` jittered, reading the interface's octet counters (64-bit
 * HC ones, or the 32-bit ones only where the agent has none), its oper status and the agent's
 * sysUpTime. Each successful poll is a `network_node` sample stamped with the gateway's clock
 * when the answer arrived, handed to Intake; a failed one is counted and logged (never its credentials) and not heard, so
 * the node goes down after its kind's timeout.
 */
export class SnmpPoller {
  readonly #cfg: SnmpPollerConfig;
  readonly #deps: SnmpPollerDeps;
  readonly #warn: WarnThrottle;
  readonly #nodes = new Map<string, NodeState>();
  #running = false;

  constructor(cfg: SnmpPollerConfig, deps: SnmpPollerDeps) {
    this.#cfg = cfg;
    this.#deps = deps;
    this.#warn = new WarnThrottle(deps.log, FAILURE_LOG_MS);
  }

  /** The nodes to poll from now on: new ones start, removed ones stop, changed ones get a new session. */
  setTargets(nodes: readonly PolledNode[]): void {
    const next = new Map(nodes.map((n) => [n.device, n]));
    for (const [device, st] of this.#nodes) {
      const n = next.get(device);
      if (!n || JSON.stringify(n) !== st.key) this.#drop(st);
      // A node no longer polled leaves /metrics (a changed target keeps its counts).
      if (!n) for (const name of ['snmp_polls', 'snmp_poll_failures'] as const) this.#deps.counters.drop(name, (l) => l['device'] === device);
    }
    for (const n of next.values()) {
      if (this.#nodes.has(n.device)) continue;
      const st: NodeState = { node: n, key: JSON.stringify(n), session: undefined, timer: undefined, resolved: undefined, last: undefined, running: Promise.resolve(), gone: false };
      this.#nodes.set(n.device, st);
      if (this.#running) this.#schedule(st, this.#deps.random() * n.snmp.pollIntervalMs);
    }
  }

  /** Nodes being polled. */
  get size(): number {
    return this.#nodes.size;
  }

  start(): void {
    this.#running = true;
    // The first polls are spread over one interval, so a gateway's start is not a burst.
    for (const st of this.#nodes.values()) this.#schedule(st, this.#deps.random() * st.node.snmp.pollIntervalMs);
  }

  async stop(): Promise<void> {
    this.#running = false;
    const polls = [...this.#nodes.values()].map((st) => {
      this.#drop(st);
      return st.running;
    });
    await Promise.all(polls);
  }

  /** Polls every node now, after any poll under way (the timers do this; tests call it by hand). */
  async pollNow(): Promise<void> {
    await Promise.all([...this.#nodes.values()].map((st) => this.#pollInTurn(st)));
  }

  #drop(st: NodeState): void {
    st.gone = true;
    clearTimeout(st.timer);
    st.session?.close();
    st.session = undefined;
    if (this.#nodes.get(st.node.device) === st) this.#nodes.delete(st.node.device);
  }

  #schedule(st: NodeState, delayMs: number): void {
    clearTimeout(st.timer);
    if (!this.#running || st.gone) return;
    st.timer = setTimeout(() => void this.#pollInTurn(st), delayMs);
    st.timer.unref?.();
  }

  #pollInTurn(st: NodeState): Promise<void> {
    st.running = st.running.then(async () => {
      if (st.gone) return;
      await this.#poll(st);
      const interval = st.node.snmp.pollIntervalMs;
      this.#schedule(st, interval * (1 - JITTER + 2 * JITTER * this.#deps.random()));
    });
    return st.running;
  }

  async #poll(st: NodeState): Promise<void> {
    const { counters } = this.#deps;
    const device = st.node.device;
    try {
      const reading = await this.#read(st);
      if (st.gone) return;
      // Stamped when the answer came, not when the poll began: a request sent again after a
      // timeout reached the agent late, and the agent read its counters then.
      const ts = this.#deps.now();
      const rebooted = st.last !== undefined && (reading.upTicks < st.last.upTicks || reading.upTicks * 10 + UPTIME_SLACK_MS < ts - st.last.ts);
      const sample = deviceSampleSchema.safeParse({
        device,
        kind: 'network_node',
        // The poll time is unique per node and grows across gateway restarts.
        seq: ts,
        ts,
        data: { role: st.node.role, capacityBps: st.node.capacityBps, octetsIn: reading.octetsIn.toString(), octetsOut: reading.octetsOut.toString(), operUp: reading.operUp },
      });
      if (!sample.success) throw new PollError('invalid_response', 'the answer does not make a valid sample');
      const refused = await this.#deps.accept(sample.data, { bits: reading.bits, rebooted });
      if (refused) throw new PollError('intake_refused', refused);
      st.last = { ts, upTicks: reading.upTicks };
      // A node dropped meanwhile has left /metrics: its last sample is not counted back in.
      if (!st.gone) counters.inc('snmp_polls', { device });
    } catch (e) {
      if (st.gone) return;
      const reason = e instanceof PollError ? e.reason : classify(e);
      counters.inc('snmp_poll_failures', { device, reason });
      const t = st.node.snmp;
      this.#warn.warn(`${device}\u0000${reason}`, { device, address: t.address, port: t.port, version: t.version, reason, detail: failureDetail(e) }, 'SNMP poll failed');
    }
  }

  async #read(st: NodeState): Promise<{ upTicks: number; octetsIn: bigint; octetsOut: bigint; bits: 32 | 64; operUp: boolean }> {
    const session = (st.session ??= this.#open(st.node));
    const t = st.node.snmp;
    for (let attempt = 0; ; attempt++) {
      const ifIndex = t.ifIndex ?? (st.resolved ??= await this.#resolve(session, t.ifName!)).ifIndex;
      const named = t.ifIndex === undefined ? st.resolved : undefined;
      const oids = [OID.sysUpTime, `${OID.ifHCInOctets}.${ifIndex}`, `${OID.ifHCOutOctets}.${ifIndex}`, `${OID.ifInOctets}.${ifIndex}`, `${OID.ifOutOctets}.${ifIndex}`, `${OID.ifOperStatus}.${ifIndex}`];
      if (named) oids.push(`${named.column}.${ifIndex}`);
      const vbs = await get(session, oids);
      const [up, hcIn, hcOut, in32, out32, oper, name] = vbs;
      // An interface found by name that is gone, or whose index now names another, is looked for again once.
      const lost = !present(oper) || (named !== undefined && (!present(name) || text(name!) !== t.ifName));
      if (lost) {
        if (named && attempt === 0) {
          st.resolved = undefined;
          continue;
        }
        throw new PollError('no_such_interface', `no interface ${t.ifName ?? `ifIndex ${ifIndex}`}`);
      }
      if (!present(up) || typeof up!.value !== 'number') throw new PollError('no_counters', 'no sysUpTime');
      const hc = present(hcIn) && present(hcOut);
      const [inVb, outVb] = hc ? [hcIn!, hcOut!] : [in32!, out32!];
      if (!present(inVb) || !present(outVb)) throw new PollError('no_counters', `interface ${ifIndex} has no octet counters`);
      return { upTicks: up!.value, octetsIn: counterValue(inVb), octetsOut: counterValue(outVb), bits: hc ? 64 : 32, operUp: oper!.value === 1 };
    }
  }

  /** ifName first (what switches show), then ifDescr. */
  async #resolve(session: snmp.Session, name: string): Promise<{ ifIndex: number; column: string }> {
    for (const column of [OID.ifName, OID.ifDescr]) {
      const found = await walkFor(session, column, (vb) => text(vb) === name);
      if (found !== undefined) return { ifIndex: found, column };
    }
    throw new PollError('no_such_interface', `no interface named ${JSON.stringify(name)}`);
  }

  #open(node: PolledNode): snmp.Session {
    const t = node.snmp;
    const options = { port: t.port, retries: this.#cfg.retries, timeout: this.#cfg.timeoutMs };
    let session: snmp.Session;
    if (t.version === '2c') {
      session = snmp.createSession(t.address, this.#secret(t.community!), { ...options, version: snmp.Version2c });
    } else {
      const u = t.user!;
      session = snmp.createV3Session(
        t.address,
        {
          name: u.name,
          level: snmp.SecurityLevel[u.level],
          ...(u.authProtocol ? { authProtocol: snmp.AuthProtocols[u.authProtocol] } : {}),
          ...(u.authKey ? { authKey: this.#secret(u.authKey) } : {}),
          ...(u.privProtocol ? { privProtocol: snmp.PrivProtocols[u.privProtocol] } : {}),
          ...(u.privKey ? { privKey: this.#secret(u.privKey) } : {}),
        },
        { ...options, version: snmp.Version3 },
      );
    }
    // A socket error fails the request under way; the next poll tries again.
    session.on('error', () => {});
    return session;
  }

  /** A secret as the registry gives it, or `env:NAME` read from the gateway's environment. */
  #secret(value: string): string {
    if (!value.startsWith(SECRET_ENV_PREFIX)) return value;
    const name = value.slice(SECRET_ENV_PREFIX.length);
    const v = this.#deps.secrets[name];
    if (v === undefined) throw new PollError('secret_unavailable', `the gateway has no ${name.startsWith(SECRET_PREFIX) ? name : `${SECRET_PREFIX}* variable named ${name}`}`);
    return v;
  }
}

/** The prefix of the environment variables an `env:NAME` secret may name. */
export const SECRET_PREFIX = 'GW_SNMP_SECRET_';

function get(session: snmp.Session, oids: string[]): Promise<snmp.Varbind[]> {
  return new Promise((resolve, reject) => session.get(oids, (err, vbs) => (err ? reject(err) : resolve(vbs ?? []))));
}

/** Rows a column walk reads at most (a switch has a few hundred interfaces). */
const MAX_WALK = 10_000;

/**
 * The first index of a column whose value matches, or undefined. GETNEXT one row at a time:
 * net-snmp's walk never finishes on an agent whose MIB view ends inside the column.
 */
async function walkFor(session: snmp.Session, column: string, match: (vb: snmp.Varbind) => boolean): Promise<number | undefined> {
  let oid: string = column;
  for (let i = 0; i < MAX_WALK; i++) {
    const vb = await new Promise<snmp.Varbind | undefined>((resolve, reject) => session.getNext([oid], (err, vbs) => (err ? reject(err) : resolve(vbs?.[0]))));
    if (!vb || snmp.isVarbindError(vb) || !vb.oid.startsWith(`${column}.`)) return undefined;
    if (match(vb)) return Number(vb.oid.slice(column.length + 1));
    oid = vb.oid;
  }
  return undefined;
}

/** A value is there: not noSuchObject, noSuchInstance or endOfMibView. */
function present(vb: snmp.Varbind | undefined): boolean {
  return vb !== undefined && !snmp.isVarbindError(vb) && vb.value !== null && vb.value !== undefined;
}

function text(vb: snmp.Varbind): string {
  return Buffer.isBuffer(vb.value) ? vb.value.toString('utf8') : String(vb.value);
}

/** Counter32 comes as a number, Counter64 as the big-endian bytes of its BER content. */
function counterValue(vb: snmp.Varbind): bigint {
  const v = vb.value;
  if (typeof v === 'number' && Number.isInteger(v) && v >= 0) return BigInt(v);
  if (Buffer.isBuffer(v) && v.length <= 9) return v.length === 0 ? 0n : BigInt(`0x${v.toString('hex')}`) & ((1n << 64n) - 1n);
  throw new PollError('invalid_response', `a counter of type ${vb.type}`);
}

/**
 * What a log may say of a failure: our own message, or only the name and code of net-snmp's
 * error. Its messages are never logged: some quote the request's community ("Community '…' in
 * request does not match …").
 */
export function failureDetail(e: unknown): string {
  if (e instanceof PollError) return e.message;
  const err = toError(e);
  const { code, status } = err as { code?: unknown; status?: unknown };
  const known = /^(RequestTimedOutError|RequestFailedError|ResponseInvalidError|RequestInvalidError|ProcessingError)$/.test(err.name) ? err.name : 'Error';
  return [known, typeof code === 'number' || typeof code === 'string' ? `code ${String(code).slice(0, 40)}` : undefined, typeof status === 'number' ? `status ${status}` : undefined].filter(Boolean).join(', ');
}

/** net-snmp's errors → a stable reason. */
function classify(e: unknown): PollFailure {
  const err = toError(e);
  if (err.name === 'RequestTimedOutError') return 'timeout';
  if (err.name === 'RequestFailedError') return 'refused';
  if (err.name === 'ResponseInvalidError') {
    const code = (err as { code?: unknown }).code;
    return code === snmp.ResponseInvalidCode.EAuthFailure || code === snmp.ResponseInvalidCode.ECouldNotDecrypt ? 'auth' : 'invalid_response';
  }
  // v3 report PDUs (unknown user, wrong digest, unsupported level) fail the request by message.
  if (/usmStats|authenticat|digest|decrypt|user name/i.test(err.message)) return 'auth';
  return 'error';
}
