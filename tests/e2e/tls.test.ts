import { chmodSync, copyFileSync, readFileSync, renameSync } from 'node:fs';
import type { IncomingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { connect as tlsConnect } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHub } from '../../broker/src/hub.ts';
import { loadHubConfig } from '../../broker/src/config.ts';
import { loadTlsContext } from '../../broker/src/listeners.ts';
import { HubErrorCode } from '../../broker/src/errors.ts';
import { generateFleet, SEED_DISTRICTS, type SimSchool } from '../../device-sim/src/fleet.ts';
import { createSimulator } from '../../device-sim/src/simulator.ts';
import { createGateway, type Gateway, type GatewayConfig } from '../../gateway/src/gateway.ts';
import { silentLogger } from '../../runtime/src/logging.ts';
import { startApiRig, type ApiRig } from '../harness/api.ts';
import { TestPki, type CertFiles } from '../harness/certs.ts';
import { startInflux, type InfluxInstance } from '../harness/influx.ts';
import { waitFor } from '../harness/ports.ts';
import { gatewayConfig, hubConfig, influxQuery, startStack, type Stack } from '../harness/stack.ts';

const SAMPLES = 3;
const fleet = generateFleet({ seed: 11, districts: SEED_DISTRICTS.slice(0, 3), schoolsPerDistrict: 2, roomsPerSchool: 1, vrKitsPerSchool: 0, accessSwitchesPerSchool: 0 });
const [s0, s1, s2, s3, s4, s5] = fleet.schools as [SimSchool, SimSchool, SimSchool, SimSchool, SimSchool, SimSchool];

describe('MQTT over TLS, secure WebSocket and mTLS', () => {
  let influx: InfluxInstance;
  let stack: Stack;
  let pki: TestPki;
  let ca: CertFiles;
  let hubCert: CertFiles;
  const db = 'e2e_tls';
  const gateways: Gateway[] = [];
  const refused = (code: string): number => stack.hub.counters.get('connections_refused', { code });

  beforeAll(async () => {
    pki = new TestPki();
    ca = pki.ca('campus-ca');
    const issued = pki.hub(ca);
    // The hub reads its files from fixed paths: a reload replaces what is there.
    hubCert = { cert: `${pki.dir}/hub.crt`, key: `${pki.dir}/hub.key` };
    copyFileSync(issued.cert, hubCert.cert);
    copyFileSync(issued.key, hubCert.key);
    chmodSync(hubCert.key, 0o600);
    influx = await startInflux();
    stack = await startStack({
      influxUrl: influx.url,
      database: db,
      fleet,
      withGateways: false,
      hub: {
        mqttPort: -1,
        mqttSecure: { tlsPort: 0, wssPort: 0, wssPath: '/mqtt', reloadCheckMs: 50, tls: { certFile: hubCert.cert, keyFile: hubCert.key, clientCaFile: ca.cert, clientCert: 'optional' } },
      },
    });
  });

  afterAll(async () => {
    await Promise.all(gateways.map((g) => g.stop()));
    await stack?.stop();
    await influx?.stop();
    pki?.remove();
  });

  async function startGateway(school: SimSchool, hubUrl: string, over: Partial<GatewayConfig> = {}): Promise<Gateway> {
    const gw = createGateway({ ...gatewayConfig(school, 0, { hubUrl, ...over }) }, { log: silentLogger() });
    gateways.push(gw);
    await gw.start();
    return gw;
  }

  /** Runs the school's devices through its gateway and waits for every acknowledged sample in InfluxDB. */
  async function deliver(school: SimSchool, gw: Gateway): Promise<{ acked: number; stored: number }> {
    await waitFor('uplink connected', async () => gw.uplinkConnected, { timeoutMs: 15_000 });
    const sim = createSimulator({ ...fleet, schools: [school] }, () => `mqtt://127.0.0.1:${gw.lanPort}`, { seed: 1, cadenceScale: 0.001, samplesPerDevice: SAMPLES, startSpreadMs: 50 }, { log: silentLogger() });
    await sim.start();
    await sim.finished;
    await sim.stop();
    const acked = sim.totalAcked();
    const stored = await waitFor('points stored', async () => {
      const series = await influxQuery(influx.url, db, `SELECT count(seq) FROM /^(classroom_av|interactive_board|vr_kit|network_node)$/ WHERE school = '${school.id}'`);
      const n = series.reduce((a, s) => a + Number(s.values[0]![1]), 0);
      return n === acked ? n : undefined;
    }, { timeoutMs: 20_000, intervalMs: 200 });
    return { acked, stored };
  }

  it('has no plain TCP listener when its port is -1', () => {
    expect(stack.hub.mqttPort).toBe(-1);
    expect(stack.hub.mqttTlsPort).toBeGreaterThan(0);
    expect(stack.hub.mqttWssPort).toBeGreaterThan(0);
  });

  it('carries a gateway’s telemetry over TLS (mqtts://) to InfluxDB, the hub verified against the CA', async () => {
    const gw = await startGateway(s0, `mqtts://127.0.0.1:${stack.hub.mqttTlsPort}`, { tls: { caFile: ca.cert } });
    const r = await deliver(s0, gw);
    // (1 room × (AV + board) + the school's uplink node) × SAMPLES, every one acknowledged and stored.
    expect(r.acked).toBe(3 * SAMPLES);
    expect(r.stored).toBe(3 * SAMPLES);
  });

  it('carries telemetry over secure WebSocket (wss://) with a client certificate (mTLS)', async () => {
    const cert = pki.gateway(ca, s1.gateway);
    const gw = await startGateway(s1, `wss://127.0.0.1:${stack.hub.mqttWssPort}/mqtt`, { tls: { caFile: ca.cert, certFile: cert.cert, keyFile: cert.key } });
    expect((await deliver(s1, gw)).stored).toBe(3 * SAMPLES);
  });

  it('carries telemetry over TLS with a client certificate (mTLS)', async () => {
    const cert = pki.gateway(ca, s2.gateway);
    const gw = await startGateway(s2, `mqtts://127.0.0.1:${stack.hub.mqttTlsPort}`, { tls: { caFile: ca.cert, certFile: cert.cert, keyFile: cert.key } });
    expect((await deliver(s2, gw)).stored).toBe(3 * SAMPLES);
  });

  it('refuses a certificate issued to another gateway, with its password right', async () => {
    const before = refused(HubErrorCode.CLIENT_CERT_MISMATCH);
    const other = pki.gateway(ca, s0.gateway);
    const gw = await startGateway(s3, `mqtts://127.0.0.1:${stack.hub.mqttTlsPort}`, { tls: { caFile: ca.cert, certFile: other.cert, keyFile: other.key } });
    await waitFor('refusal counted', async () => refused(HubErrorCode.CLIENT_CERT_MISMATCH) > before);
    expect(gw.uplinkConnected).toBe(false);
    expect(stack.hub.presence.get(s3.gateway)?.state).not.toBe('online');
  });

  it('refuses a client certificate from an unknown CA before MQTT', async () => {
    const before = stack.hub.counters.get('tls_refused', { reason: 'untrusted' });
    const rogueCa = pki.ca('rogue-ca');
    const rogue = pki.gateway(rogueCa, s4.gateway);
    const gw = await startGateway(s4, `mqtts://127.0.0.1:${stack.hub.mqttTlsPort}`, { tls: { caFile: ca.cert, certFile: rogue.cert, keyFile: rogue.key } });
    await waitFor('refusal counted', async () => stack.hub.counters.get('tls_refused', { reason: 'untrusted' }) > before);
    expect(gw.uplinkConnected).toBe(false);
    expect(stack.hub.counters.get('connections_accepted', { kind: 'gateway' })).toBe(3);
  });

  it('a gateway refuses a hub it cannot verify, and its health says why', async () => {
    // The hub's certificate chains to a CA this gateway does not trust.
    const otherCa = pki.ca('other-ca');
    const gw = await startGateway(s5, `mqtts://127.0.0.1:${stack.hub.mqttTlsPort}`, { tls: { caFile: otherCa.cert }, healthPort: 0 });
    const health = await waitFor('health names the TLS failure', async () => {
      const body = (await (await fetch(`http://127.0.0.1:${gw.healthPort}/health`)).json()) as { connected: boolean; uplinkError?: { code?: string; message: string } };
      return body.uplinkError ? body : undefined;
    });
    expect(health.connected).toBe(false);
    // OpenSSL names the failure by where the chain broke; either way the hub was not verified.
    expect(['UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'SELF_SIGNED_CERT_IN_CHAIN', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY']).toContain(health.uplinkError?.code);
    expect(gw.uplinkConnected).toBe(false);
    expect(stack.hub.counters.get('connections_accepted', { kind: 'gateway' })).toBe(3);
  });

  it('serves a replaced certificate to new connections without a restart', async () => {
    const peerCn = (): Promise<string> =>
      new Promise((resolve, reject) => {
        const s = tlsConnect({ host: '127.0.0.1', port: stack.hub.mqttTlsPort, ca: [readPem(ca.cert)], servername: 'localhost' }, () => {
          const cn = s.getPeerCertificate().subject.CN;
          s.destroy();
          resolve(String(cn));
        });
        s.on('error', reject);
      });
    expect(await peerCn()).toBe('hub');
    const renewed = pki.hub(ca, 'hub-renewed');
    // Written beside and renamed over, as a certificate manager does.
    copyFileSync(renewed.key, `${hubCert.key}.new`);
    chmodSync(`${hubCert.key}.new`, 0o600);
    copyFileSync(renewed.cert, `${hubCert.cert}.new`);
    renameSync(`${hubCert.key}.new`, hubCert.key);
    renameSync(`${hubCert.cert}.new`, hubCert.cert);
    await waitFor('the renewed certificate served', async () => (await peerCn()) === 'hub-renewed');
    expect(stack.hub.counters.get('tls_reloads', { result: 'ok' })).toBeGreaterThanOrEqual(1);

    // A renewal whose key is readable by others is not installed: the certificate in force stays.
    const careless = pki.hub(ca, 'hub-careless');
    copyFileSync(careless.key, `${hubCert.key}.new`);
    chmodSync(`${hubCert.key}.new`, 0o644);
    copyFileSync(careless.cert, `${hubCert.cert}.new`);
    renameSync(`${hubCert.key}.new`, hubCert.key);
    renameSync(`${hubCert.cert}.new`, hubCert.cert);
    await waitFor('the reload refused', async () => stack.hub.counters.get('tls_reloads', { result: 'failed' }) >= 1);
    expect(await peerCn()).toBe('hub-renewed');
  });
});

const readPem = (file: string): string => readFileSync(file, 'utf8');

describe('TLS configuration', () => {
  it('refuses a key file readable by group or others, at start, with a code', async () => {
    const pki = new TestPki();
    try {
      const ca = pki.ca('ca');
      const hub = pki.hub(ca);
      const files = { certFile: hub.cert, keyFile: hub.key, clientCert: 'off' as const };
      expect(() => loadTlsContext(files)).not.toThrow();
      chmodSync(hub.key, 0o640);
      expect(() => loadTlsContext(files)).toThrow(expect.objectContaining({ code: HubErrorCode.TLS_KEY_PERMISSIONS }));
      const h = createHub(hubConfig('http://127.0.0.1:1', 'unused', { mqttSecure: { tlsPort: 0, wssPort: -1, wssPath: '/mqtt', reloadCheckMs: 1000, tls: files } }), { log: silentLogger() });
      await expect(h.start()).rejects.toMatchObject({ code: HubErrorCode.TLS_KEY_PERMISSIONS });
    } finally {
      pki.remove();
    }
  });

  it('with client certificates required, cuts a TLS connection that presents none', async () => {
    const pki = new TestPki();
    const ca = pki.ca('ca');
    const cert = pki.hub(ca);
    const h = createHub(hubConfig('http://127.0.0.1:1', 'unused', { mqttPort: -1, mqttSecure: { tlsPort: 0, wssPort: -1, wssPath: '/mqtt', reloadCheckMs: 1000, tls: { certFile: cert.cert, keyFile: cert.key, clientCaFile: ca.cert, clientCert: 'required' } } }), { log: silentLogger() });
    try {
      await h.start();
      await new Promise<void>((resolve) => {
        const s = tlsConnect({ host: '127.0.0.1', port: h.mqttTlsPort, ca: [readPem(ca.cert)], servername: 'localhost' });
        s.on('error', () => {});
        s.on('close', () => resolve());
      });
      await waitFor('refusal counted', async () => h.counters.get('tls_refused', { reason: 'missing' }) === 1);
      expect(h.counters.get('connections_accepted', { kind: 'gateway' })).toBe(0);
    } finally {
      await h.stop();
      pki.remove();
    }
  });

  it('reads the listeners from the environment', () => {
    const c = loadHubConfig({ HUB_MQTT_PORT: '-1', HUB_TLS_CERT_FILE: '/c.pem', HUB_TLS_KEY_FILE: '/k.pem', HUB_TLS_CLIENT_CA_FILE: '/ca.pem', HUB_TLS_CLIENT_CERT: 'required', HUB_WSS_PORT: '8884' }).hub;
    expect(c.mqttPort).toBe(-1);
    expect(c.mqttSecure).toEqual({ tlsPort: 8883, wssPort: 8884, wssPath: '/mqtt', reloadCheckMs: 1000, tls: { certFile: '/c.pem', keyFile: '/k.pem', clientCaFile: '/ca.pem', clientCert: 'required' } });
    expect(loadHubConfig({}).hub.mqttSecure).toBeUndefined();
  });
});

describe('the management API and the console over HTTPS', () => {
  let influx: InfluxInstance;
  let rig: ApiRig;
  let pki: TestPki;
  let ca: CertFiles;

  /** One request over HTTPS, trusting `trust` (the test CA, or another one). */
  function httpsCall(path: string, opts: { method?: string; body?: unknown; trust: string }): Promise<{ status: number; headers: IncomingHttpHeaders; body: string }> {
    return new Promise((resolve, reject) => {
      const data = opts.body === undefined ? undefined : JSON.stringify(opts.body);
      const req = httpsRequest(
        { host: '127.0.0.1', port: rig.hub.httpsPort, path, method: opts.method ?? 'GET', ca: readFileSync(opts.trust), servername: 'localhost', headers: data ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) } : {} },
        (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => (body += c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
        },
      );
      req.on('error', reject);
      req.end(data);
    });
  }

  beforeAll(async () => {
    pki = new TestPki();
    ca = pki.ca('campus-ca');
    const hubCert = pki.hub(ca);
    influx = await startInflux();
    rig = await startApiRig(influx.url, 'e2e_https', { hub: { https: { port: 0, tls: { certFile: hubCert.cert, keyFile: hubCert.key }, reloadCheckMs: 50 } } });
    expect((await rig.call('city', 'PUT', '/users/u-bashuIt/password', { password: 'correct horse battery' })).status).toBe(204);
  });
  afterAll(async () => {
    await rig?.stop();
    await influx?.stop();
    pki?.remove();
  });

  it('serves the same app over HTTPS, and its session cookie is Secure there only', async () => {
    expect(rig.hub.httpsPort).toBeGreaterThan(0);
    const health = await httpsCall('/health', { trust: ca.cert });
    expect(health.status).toBe(200);
    const signIn = await httpsCall('/api/v1/session', { method: 'POST', body: { user: 'u-bashuIt', password: 'correct horse battery' }, trust: ca.cert });
    expect(signIn.status).toBe(201);
    const cookie = String(signIn.headers['set-cookie']);
    expect(cookie).toMatch(/^cit_session=[^;]+; HttpOnly; SameSite=Strict; Path=\/; Max-Age=\d+; Secure$/);
    // The same sign-in over plain HTTP (loopback): not Secure, or the browser would never send it back.
    const plain = await fetch(`${rig.base}/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ user: 'u-bashuIt', password: 'correct horse battery' }) });
    expect(plain.status).toBe(201);
    expect(plain.headers.get('set-cookie')).not.toMatch(/Secure/);
  });

  it('a client that does not trust the hub\'s CA is refused at the handshake', async () => {
    const other = pki.ca('other-ca');
    await expect(httpsCall('/health', { trust: other.cert })).rejects.toThrow(/self-signed|unable to verify|certificate/i);
  });
});
