/**
 * Peer 1's Node-RED: the stack a school would wire by hand, `mqtt in` (QoS 1, on Mosquitto) →
 * a function node turning one gateway telemetry batch (protocol/src/telemetry.ts) into points →
 * `influxdb out` (node-red-contrib-influxdb, one write per measurement of the message: a batch
 * nearly always holds one kind) or, batched, `influxdb batch` (one write per message, every point
 * of the batch). Its own minimal settings, flow and userDir (not the project's flows), in its own
 * process (the project's Node-RED, red.js), on a free loopback port.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startMainProcess } from '../../harness/mainProcess.ts';
import { freePort } from '../../harness/ports.ts';

export type PeerVariant = 'unbatched' | 'batched';

export interface NodeRedPeerOptions {
  variant: PeerVariant;
  mqtt: { port: number; username: string; password: string };
  influx: { url: string; database: string };
}

export interface NodeRedPeer {
  pid: number;
  /** The last 2,000 characters of its log. */
  logTail(): string;
  /** Stops it; returns the errors its log holds: each distinct message (ids and numbers masked) with its count. */
  stop(): Promise<Record<string, number>>;
}

/** Node-RED's `[error]` lines, grouped by message with ids and numbers masked. */
export function errorSummary(logText: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of logText.split('\n')) {
    const m = /\[error\]\s*(.*)$/.exec(line);
    if (!m) continue;
    const key = m[1]!.replace(/:[0-9a-f]{8,}/g, ':…').replace(/\d+/g, 'N').slice(0, 200);
    out[key] = (out[key] ?? 0) + 1;
  }
  return out;
}

/** The function node's body: the same measurements, tags district/school/gateway/device and fields seq (telemetry) and up (availability) as the hub writes. */
const BODY = (variant: PeerVariant): string => `
const parts = msg.topic.split('/');
const district = parts[2], school = parts[3], gateway = parts[4];
const records = msg.payload && Array.isArray(msg.payload.records) ? msg.payload.records : [];
const points = [];
for (const r of records) {
  const tags = { district, school, gateway, device: String(r.device) };
  let measurement;
  const fields = { seq: r.seq };
  if (r.kind === 'availability') {
    measurement = 'availability';
    tags.kind = String(r.deviceKind);
    fields.up = r.state === 'up' ? 1 : 0;
  } else {
    measurement = r.kind;
    for (const k in r.data) {
      const v = r.data[k];
      if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'string') fields[k] = v;
    }
  }
  points.push({ measurement, tags, fields, timestamp: r.ts });
}
${
  variant === 'batched'
    ? `msg.payload = points;
return msg;`
    : `// influxdb out: one measurement per message, its points as [fields, tags] with fields.time.
const byMeasurement = {};
for (const p of points) {
  p.fields.time = p.timestamp;
  (byMeasurement[p.measurement] = byMeasurement[p.measurement] || []).push([p.fields, p.tags]);
}
return [Object.keys(byMeasurement).map((m) => ({ measurement: m, payload: byMeasurement[m] }))];`
}`;

export function peerFlow(o: NodeRedPeerOptions): object[] {
  const influx = new URL(o.influx.url);
  return [
    { id: 'peer-tab', type: 'tab', label: 'peer stack' },
    { id: 'peer-broker', type: 'mqtt-broker', name: 'mosquitto', broker: '127.0.0.1', port: String(o.mqtt.port), clientid: 'node-red-peer', autoConnect: true, usetls: false, protocolVersion: '4', keepalive: '60', cleansession: true },
    { id: 'peer-in', type: 'mqtt in', z: 'peer-tab', name: 'gateways', topic: 'campus/v1/+/+/+/telemetry', qos: '1', datatype: 'json', broker: 'peer-broker', nl: false, rap: false, inputs: 0, x: 100, y: 100, wires: [['peer-fn']] },
    { id: 'peer-fn', type: 'function', z: 'peer-tab', name: 'batch to points', func: BODY(o.variant), outputs: 1, x: 300, y: 100, wires: [['peer-out']] },
    { id: 'peer-influx', type: 'influxdb', hostname: influx.hostname, port: influx.port, protocol: 'http', database: o.influx.database, name: 'influx', usetls: false, influxdbVersion: '1.x' },
    o.variant === 'batched'
      ? { id: 'peer-out', type: 'influxdb batch', z: 'peer-tab', influxdb: 'peer-influx', precision: 'ms', retentionPolicy: '', name: '', x: 500, y: 100, wires: [] }
      : { id: 'peer-out', type: 'influxdb out', z: 'peer-tab', influxdb: 'peer-influx', name: '', measurement: '', precision: 'ms', retentionPolicy: '', x: 500, y: 100, wires: [] },
  ];
}

export async function startNodeRedPeer(o: NodeRedPeerOptions): Promise<NodeRedPeer> {
  const dir = mkdtempSync(join(tmpdir(), 'campus-peer-node-red-'));
  const port = await freePort();
  const flows = join(dir, 'flows.json');
  writeFileSync(flows, JSON.stringify(peerFlow(o), null, 2));
  // credentialSecret false: the credentials file is plain JSON beside the flows.
  writeFileSync(join(dir, 'flows_cred.json'), JSON.stringify({ 'peer-broker': { user: o.mqtt.username, password: o.mqtt.password }, 'peer-influx': { username: '', password: '' } }));
  const settings = join(dir, 'settings.cjs');
  writeFileSync(
    settings,
    `module.exports = ${JSON.stringify({ uiHost: '127.0.0.1', uiPort: port, credentialSecret: false, httpAdminRoot: '/admin', httpNodeRoot: false, flowFile: flows, logging: { console: { level: 'warn', metrics: false, audit: false } } })};\n`,
  );
  const proc = await startMainProcess('node-red (peer)', 'node_modules/node-red/red.js', {}, join(dir, 'node-red.log'), async () => (await fetch(`http://127.0.0.1:${port}/admin/flows`)).ok, [
    '--settings',
    settings,
    '--userDir',
    dir,
    flows,
  ]);
  return {
    pid: proc.child.pid!,
    logTail: () => {
      try {
        return readFileSync(join(dir, 'node-red.log'), 'utf8').slice(-2000);
      } catch {
        return '';
      }
    },
    async stop() {
      await proc.stop();
      let errors: Record<string, number> = {};
      try {
        errors = errorSummary(readFileSync(join(dir, 'node-red.log'), 'utf8'));
      } catch {
        // no log
      }
      rmSync(dir, { recursive: true, force: true });
      return errors;
    },
  };
}
