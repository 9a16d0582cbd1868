import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../runtime/src/logging.ts';
import { loadGatewayConfig } from '../src/config.ts';
import { GatewayErrorCode } from '../src/errors.ts';
import { createGateway } from '../src/gateway.ts';
import { boardSample, lanOnlyConfig, publish, startLanOnly } from './lanRig.ts';

let stop: (() => Promise<void>) | undefined;
afterEach(async () => {
  await stop?.();
  stop = undefined;
});

/** What a promise or a call rejected or threw with: its code. */
async function codeOf(f: () => unknown): Promise<string | undefined> {
  try {
    await f();
  } catch (e) {
    return (e as { code?: string }).code;
  }
  return undefined;
}

describe('/metrics on the gateway health endpoint', () => {
  it('serves the Prometheus text format: the counters the test caused, the outbox gauges and process metrics', async () => {
    const rig = await startLanOnly(await lanOnlyConfig({ GW_HEALTH_PORT: '0' }));
    stop = rig.stop;
    const c = await rig.device('dev');
    const ts = Date.now();
    await publish(c, boardSample('b1', 1, ts));
    await publish(c, boardSample('b1', 2, ts + 1));
    await publish(c, boardSample('b2', 1, ts));
    await publish(c, '{not json');
    await publish(c, JSON.stringify({ device: 'b3', kind: 'interactive_board' }));
    const res = await fetch(`http://127.0.0.1:${rig.gw.healthPort}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
    const families = new Map(parsePrometheusTextFormat(await res.text()).map((f) => [f.name, f]));
    const value = (name: string, labels: Record<string, string> = {}) =>
      families.get(name)?.metrics.find((m) => JSON.stringify(m.labels ?? {}) === JSON.stringify(labels))?.value;
    expect(families.get('gateway_samples_accepted_total')).toMatchObject({ type: 'COUNTER', help: 'Device samples accepted into the outbox.' });
    expect(value('gateway_samples_accepted_total')).toBe('3');
    expect(value('gateway_samples_rejected_total', { reason: 'malformed_json' })).toBe('1');
    expect(value('gateway_samples_rejected_total', { reason: 'invalid_sample' })).toBe('1');
    // The hub is unreachable: all three samples wait in the outbox, from two devices.
    expect(families.get('gateway_outbox_records')?.type).toBe('GAUGE');
    expect(value('gateway_outbox_records')).toBe('3');
    expect(value('gateway_tracked_devices')).toBe('2');
    expect(value('gateway_uplink_connected')).toBe('0');
    expect(Number(value('gateway_outbox_bytes'))).toBeGreaterThan(0);
    expect(families.get('process_cpu_user_seconds_total')?.type).toBe('COUNTER');
    // /health is still there; anything else is 404.
    expect(((await (await fetch(`http://127.0.0.1:${rig.gw.healthPort}/health`)).json()) as { samplesAccepted: number }).samplesAccepted).toBe(3);
    expect((await fetch(`http://127.0.0.1:${rig.gw.healthPort}/other`)).status).toBe(404);
  });
});

describe('gateway lifecycle and error codes', () => {
  it('refuses use before start, a second start, and use after stop, each with its code', async () => {
    const gw = createGateway(await lanOnlyConfig(), { log: silentLogger() });
    expect(await codeOf(() => gw.health())).toBe(GatewayErrorCode.NOT_STARTED);
    expect(await codeOf(() => gw.outbox)).toBe(GatewayErrorCode.NOT_STARTED);
    expect(await codeOf(() => gw.sampleAvailability(0))).toBe(GatewayErrorCode.NOT_STARTED);
    await gw.start();
    stop = () => gw.stop();
    expect(await codeOf(() => gw.start())).toBe(GatewayErrorCode.STARTED_TWICE);
    expect(gw.health().outbox.records).toBe(0);
    await gw.stop();
    await gw.stop(); // idempotent
    expect(await codeOf(() => gw.sampleAvailability(0))).toBe(GatewayErrorCode.STOPPED);
    expect(await codeOf(() => gw.reportHealth())).toBe(GatewayErrorCode.STOPPED);
    expect(await codeOf(() => gw.health())).toBe(GatewayErrorCode.STOPPED);
  });

  it('codes a bad environment GW_ERR_CONFIG', async () => {
    expect(await codeOf(() => loadGatewayConfig({ GW_ID: 'gw' }))).toBe(GatewayErrorCode.CONFIG);
  });

  it('codes an outbox that cannot be opened GW_ERR_OUTBOX_OPEN, and a taken port GW_ERR_LISTEN, and stops what it started', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gw-open-'));
    try {
      writeFileSync(join(dir, 'file'), 'x');
      const cfg = await lanOnlyConfig({ GW_OUTBOX_DIR: join(dir, 'file') });
      expect(await codeOf(() => createGateway(cfg, { log: silentLogger() }).start())).toBe(GatewayErrorCode.OUTBOX_OPEN);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    const taken = createServer();
    await new Promise<void>((r) => taken.listen(0, '127.0.0.1', () => r()));
    try {
      const port = (taken.address() as { port: number }).port;
      const gw = createGateway(await lanOnlyConfig({ GW_HEALTH_PORT: String(port) }), { log: silentLogger() });
      expect(await codeOf(() => gw.start())).toBe(GatewayErrorCode.LISTEN);
      // The LAN listener and the uplink it had started are stopped again: nothing is left open.
      expect(gw.uplinkConnected).toBe(false);
    } finally {
      await new Promise<void>((r) => taken.close(() => r()));
    }
  });

  it('a taken LAN port is GW_ERR_LISTEN and leaves no timer or socket behind (the LAN broker it made is closed)', async () => {
    const taken = createServer();
    await new Promise<void>((r) => taken.listen(0, '127.0.0.1', () => r()));
    const resources = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout' || r === 'TCPServerWrap' || r === 'TCPSocketWrap').sort();
    try {
      const port = (taken.address() as { port: number }).port;
      const cfg = await lanOnlyConfig({ GW_LAN_PORT: String(port) });
      // What earlier tests closed settles first.
      await new Promise((r) => setTimeout(r, 100));
      const before = resources();
      const gw = createGateway(cfg, { log: silentLogger() });
      expect(await codeOf(() => gw.start())).toBe(GatewayErrorCode.LISTEN);
      await gw.stop();
      // Closing sockets settles on the next turns of the loop.
      await new Promise((r) => setTimeout(r, 50));
      expect(resources()).toEqual(before);
    } finally {
      await new Promise<void>((r) => taken.close(() => r()));
    }
  });
});
