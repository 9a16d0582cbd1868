/**
 * One worker thread of lean gateways (leanGateway.ts) for the connection and storm benchmarks.
 * The main thread arms a phase, and the worker says when every one of its gateways is connected,
 * holds a ticket, has its backlog acknowledged: each with the time the last one got there.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { exampleData, type DeviceKind } from '../../../protocol/src/kinds.ts';
import { LeanGateway, type LeanCounters, type LeanGatewayConfig } from './leanGateway.ts';

export interface LeanWorkerGateway {
  district: string;
  school: string;
  gateway: string;
  password: string;
  devices: Array<{ id: string; kind: DeviceKind }>;
}
export interface LeanWorkerInput {
  port: number;
  gateways: LeanWorkerGateway[];
  client: Omit<LeanGatewayConfig, 'district' | 'school' | 'gateway' | 'password' | 'port' | 'useTickets'>;
}
/** main → worker */
export type LeanCommand =
  /** Starts every gateway (at most `concurrency` connecting at once; all at once without). */
  | { type: 'start'; useTickets: boolean; concurrency?: number }
  /** Whether the gateways' next logins present their tickets (kept either way). */
  | { type: 'mode'; useTickets: boolean }
  /** From now, say when all are connected (again) and their backlogs acknowledged. */
  | { type: 'arm' }
  /** Gives every gateway `records` backlog records per device, device times from `from`, `stepMs` apart. */
  | { type: 'backlog'; records: number; from: number; stepMs: number }
  | { type: 'stop' }
  | { type: 'report' };
/** worker → main */
export type LeanMessage =
  /** `times`: when each gateway got there. */
  | { type: 'allConnected'; at: number; times: number[] }
  | { type: 'allTickets'; at: number }
  | { type: 'allReplayed'; at: number; times: number[] }
  | { type: 'backlogged'; records: number }
  | { type: 'stopped' }
  | { type: 'report'; counters: LeanCounters; perDevice: Array<[string, number]>; connected: number; backlog: number };

const input = workerData as LeanWorkerInput;
const port = parentPort!;
const counters: LeanCounters = { refused: {}, cut: 0, ticketRefused: 0, ticketLogins: 0, passwordLogins: 0 };
const generated = new Map<string, number>();
const seqs = new Map<string, number>();
const gateways = input.gateways.map((g) => ({ g, c: new LeanGateway({ ...input.client, district: g.district, school: g.school, gateway: g.gateway, password: g.password, port: input.port, useTickets: false }, counters) }));
let useTickets = false;
const send = (m: LeanMessage): void => port.postMessage(m);

/** Phase watchers: each fires once when every gateway satisfies it. */
let armed = { connected: false, replayed: false, tickets: false };
function check(): void {
  if (armed.connected && gateways.every((x) => x.c.connectedAt !== undefined)) {
    armed.connected = false;
    const times = gateways.map((x) => x.c.connectedAt!);
    send({ type: 'allConnected', at: Math.max(...times), times });
  }
  if (armed.tickets && gateways.every((x) => x.c.ticket !== undefined)) {
    armed.tickets = false;
    send({ type: 'allTickets', at: Date.now() });
  }
  if (armed.replayed && gateways.every((x) => x.c.backlog === 0 && x.c.replayedAt !== undefined)) {
    armed.replayed = false;
    const times = gateways.map((x) => x.c.replayedAt!);
    send({ type: 'allReplayed', at: Math.max(...times), times });
  }
}
let checkTimer: NodeJS.Timeout | undefined;
const soon = (): void => {
  checkTimer ??= setTimeout(() => {
    checkTimer = undefined;
    check();
  }, 5);
};
for (const x of gateways) {
  x.c.onConnected = soon;
  x.c.onTicket = soon;
  x.c.onReplayed = soon;
}

port.on('message', (m: LeanCommand) => {
  switch (m.type) {
    case 'start': {
      useTickets = m.useTickets;
      armed = { connected: true, replayed: false, tickets: useTickets };
      const list = gateways;
      const limit = m.concurrency ?? list.length;
      let next = 0;
      const startNext = (): void => {
        const x = list[next++];
        if (!x) return;
        const prev = x.c.onConnected;
        x.c.onConnected = () => {
          x.c.onConnected = prev;
          prev?.();
          startNext();
        };
        x.c.setUseTickets(useTickets);
        x.c.start();
      };
      for (let i = 0; i < Math.min(limit, list.length); i++) startNext();
      return;
    }
    case 'mode':
      for (const x of gateways) x.c.setUseTickets(m.useTickets);
      return;
    case 'arm':
      for (const x of gateways) x.c.connectedAt = undefined;
      armed = { connected: true, replayed: true, tickets: false };
      soon();
      return;
    case 'backlog': {
      let records = 0;
      for (const { g, c } of gateways) {
        const batch: unknown[] = [];
        for (const d of g.devices) {
          const data = exampleData(d.kind);
          for (let i = 0; i < m.records; i++) {
            const seq = seqs.get(d.id) ?? 0;
            seqs.set(d.id, seq + 1);
            const ts = m.from + i * m.stepMs;
            batch.push({ device: d.id, kind: d.kind, seq, ts, data, rx: ts, hist: true });
          }
          generated.set(d.id, (generated.get(d.id) ?? 0) + m.records);
          records += m.records;
        }
        c.addBacklog(batch);
      }
      send({ type: 'backlogged', records });
      return;
    }
    case 'stop':
      for (const x of gateways) x.c.stop();
      armed = { connected: false, replayed: false, tickets: false };
      send({ type: 'stopped' });
      return;
    case 'report':
      send({ type: 'report', counters, perDevice: [...generated], connected: gateways.filter((x) => x.c.connected).length, backlog: gateways.reduce((n, x) => n + x.c.backlog, 0) });
      return;
  }
});
