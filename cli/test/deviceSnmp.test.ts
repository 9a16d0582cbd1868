import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli } from '../src/cli.ts';
import type { Io } from '../src/command.ts';

/**
 * `campus device add --snmp-json <file>`: the file's JSON goes as the device's `snmp`, and what
 * the hub answers (secrets only as set) is what is shown. A stand-in hub records the request.
 */
const TARGET = { address: '10.20.0.2', version: '2c', community: 'env:GW_SNMP_SECRET_CORE', ifName: 'Gi0/48' };

function io(files: Record<string, string>): Io & { outs: string[]; errs: string[] } {
  const outs: string[] = [];
  const errs: string[] = [];
  return {
    outs,
    errs,
    out: (l) => void outs.push(l),
    err: (l) => void errs.push(l),
    outBytes: () => {},
    readFile: (p) => {
      if (!(p in files)) throw new Error('no such file');
      return new TextEncoder().encode(files[p]);
    },
    writeFile: () => {},
  };
}

let server: Server | undefined;
afterEach(async () => {
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  server = undefined;
});

async function hub(answer: (body: Record<string, unknown>) => unknown): Promise<{ url: string; bodies: Array<Record<string, unknown>> }> {
  const bodies: Array<Record<string, unknown>> = [];
  server = createServer((req, res) => {
    let raw = '';
    req.setEncoding('utf8').on('data', (d: string) => (raw += d));
    req.on('end', () => {
      const body = JSON.parse(raw) as Record<string, unknown>;
      bodies.push(body);
      res.writeHead(201, { 'content-type': 'application/json' }).end(JSON.stringify(answer(body)));
    });
  });
  server.listen(0, '127.0.0.1');
  await new Promise((r) => server!.once('listening', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, bodies };
}

describe('campus device add --snmp-json', () => {
  it('sends the file as the target and shows the answer', async () => {
    const h = await hub((b) => ({ ...b, district: '渝中区', model: '', vendor: '', serial: '', createdAt: 0, retiredAt: null, snmp: { ...TARGET, port: 161, community: { set: true, env: 'GW_SNMP_SECRET_CORE' }, pollIntervalMs: 30_000 } }));
    const t = io({ 'sw.json': JSON.stringify(TARGET) });
    const argv = ['device', 'add', 'bashu-sw1', '--school', 'yz-bashu', '--room', 'server-room', '--kind', 'network_node', '--link-role', 'access', '--capacity-mbps', '1000', '--snmp-json', 'sw.json', '--json'];
    expect(await runCli(argv, { CAMPUS_TOKEN: 'cit_x', CAMPUS_URL: h.url }, t)).toBe(0);
    expect(h.bodies).toEqual([{ id: 'bashu-sw1', school: 'yz-bashu', room: 'server-room', kind: 'network_node', linkRole: 'access', capacityBps: 1e9, snmp: TARGET }]);
    expect(JSON.parse(t.outs.join('\n'))).toMatchObject({ snmp: { community: { set: true } } });
  });

  it('a file that is not JSON is a usage error (exit 2), nothing sent', async () => {
    const h = await hub(() => ({}));
    const t = io({ 'sw.json': '{ address: ' });
    expect(await runCli(['device', 'add', 'x', '--school', 's', '--room', 'r', '--kind', 'network_node', '--snmp-json', 'sw.json'], { CAMPUS_TOKEN: 'cit_x', CAMPUS_URL: h.url }, t)).toBe(2);
    expect(t.errs[0]).toMatch(/^CLI_ERR_USAGE: sw\.json is not JSON/);
    expect(h.bodies).toEqual([]);
  });
});
