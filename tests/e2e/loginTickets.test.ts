import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHubProcess, type HubProcess } from '../../broker/src/hubProcess.ts';
import { LoginTickets } from '../../broker/src/loginTickets.ts';
import { hashPassword } from '../../broker/src/passwords.ts';
import { Registry } from '../../broker/src/registry.ts';
import { startGatewayProcess, type GatewayProcess } from '../harness/gatewayProcess.ts';
import { startInflux, type InfluxInstance } from '../harness/influx.ts';
import { freePort, waitFor } from '../harness/ports.ts';
import { rawConnect } from '../harness/rawMqtt.ts';
import mqtt from 'mqtt';
import { loginTicketSchema } from '../../protocol/src/loginTicket.ts';
import { ticketTopic } from '../../protocol/src/topics.ts';

const A = { id: 'gw-tk-a', school: 'tk-s01', password: 'password-A-0001-xyz' };
const B = { id: 'gw-tk-b', school: 'tk-s02', password: 'password-B-0002-xyz' };
const A_ROTATED = 'password-A-0003-rotated';

/** One counter's value from a Prometheus text page (0 when absent): `name{labels}`. */
async function counter(port: number, series: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line ? Number(line.slice(series.length + 1)) : 0;
}

/**
 * Login tickets end to end (docs/design.md#security): a real hub process on a registry file, real
 * gateway processes with durable outboxes (the ticket beside them), real InfluxDB. The hub's
 * `password_checks_total` counts every scrypt check of an MQTT login: a ticket login must leave it
 * where it was.
 */
describe('login tickets: no scrypt on reconnect, refused after rotation, revocation, forgery and expiry', () => {
  let influx: InfluxInstance;
  let dir: string;
  let registryPath: string;
  let hub: HubProcess;
  let ports: { mqttPort: number; httpPort: number };
  let gwA: GatewayProcess | undefined;
  const hubEnv = () => ({ HUB_REGISTRY_PATH: registryPath, INFLUX_URL: influx.url, INFLUX_DB: 'login_tickets_test', HUB_MINUTE_REPORTS: 'false', LOG_LEVEL: 'debug' });
  const hubCounter = (series: string) => counter(hub.httpPort, series);

  async function startA(password: string, name: string): Promise<GatewayProcess> {
    const g = await startGatewayProcess(
      {
        GW_ID: A.id,
        GW_DISTRICT: 'tk-d1',
        GW_SCHOOL: A.school,
        GW_PASSWORD: password,
        GW_HUB_URL: `mqtt://127.0.0.1:${ports.mqttPort}`,
        GW_LAN_PORT: String(await freePort()),
        GW_OUTBOX_DIR: join(dir, 'outbox-a'),
        GW_RECONNECT_MS: '100',
        GW_RECONNECT_MAX_MS: '300',
        GW_AVAILABILITY: 'false',
        LOG_LEVEL: 'debug',
      },
      await freePort(),
      join(dir, `gateway-a-${name}.log`),
    );
    gwA = g;
    return g;
  }
  const savedTicket = (): string | undefined => {
    const f = join(dir, 'outbox-a', A.id, 'ticket.json');
    return existsSync(f) ? (JSON.parse(readFileSync(f, 'utf8')) as { ticket: string }).ticket : undefined;
  };
  const withRegistry = <T,>(fn: (r: Registry) => T): T => {
    const r = new Registry(registryPath);
    try {
      return fn(r);
    } finally {
      r.close();
    }
  };

  beforeAll(async () => {
    influx = await startInflux();
    dir = mkdtempSync(join(tmpdir(), 'login-tickets-'));
    registryPath = join(dir, 'registry.sqlite');
    const [hashA, hashB] = await Promise.all([hashPassword(A.password), hashPassword(B.password)]);
    withRegistry((r) => {
      r.upsertDistrict({ id: 'tk-d1', nameEn: 'D1' });
      r.upsertSchool({ id: A.school, district: 'tk-d1', name: 'S01' });
      r.upsertSchool({ id: B.school, district: 'tk-d1', name: 'S02' });
      r.setGateway(A.id, A.school, hashA);
      r.setGateway(B.id, B.school, hashB);
    });
    ports = { mqttPort: await freePort(), httpPort: await freePort() };
    hub = await startHubProcess(hubEnv(), join(dir, 'hub-1.log'), ports);
  });
  afterAll(async () => {
    await gwA?.stop('SIGKILL').catch(() => {});
    await hub?.stop().catch(() => {});
    await influx?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('hands a gateway that logged in with its password a ticket, which it keeps beside its outbox (mode 600)', async () => {
    const g = await startA(A.password, '1');
    await waitFor('gateway A connected', async () => (await g.health()).connected);
    const ticket = await waitFor('the ticket saved', async () => savedTicket());
    expect(ticket.startsWith('t1.')).toBe(true);
    expect(statSync(join(dir, 'outbox-a', A.id, 'ticket.json')).mode & 0o777).toBe(0o600);
    expect(await hubCounter('hub_gateway_logins_total{method="password"}')).toBe(1);
    expect(await hubCounter('hub_password_checks_total')).toBe(1);
    await waitFor('the ticket counted as issued', async () => (await hubCounter('hub_tickets_issued_total{on="password"}')) === 1);
  });

  it('logs the restarted gateway in with its ticket: a ticket login counted, no password checked', async () => {
    const before = savedTicket();
    await gwA!.stop();
    const g = await startA(A.password, '2');
    await waitFor('gateway A back', async () => (await g.health()).connected);
    expect(await hubCounter('hub_gateway_logins_total{method="ticket"}')).toBe(1);
    expect(await hubCounter('hub_gateway_logins_total{method="password"}')).toBe(1);
    expect(await hubCounter('hub_password_checks_total')).toBe(1);
    expect(await counter(g.healthPort, 'gateway_uplink_logins_total{method="ticket"}')).toBe(1);
    // A fresh ticket is not renewed: the same one is kept.
    expect(await hubCounter('hub_tickets_issued_total{on="ticket"}')).toBe(0);
    expect(savedTicket()).toBe(before);
  });

  it('keeps accepting tickets after the hub is killed and restarted on the same registry: the secret is in the registry', async () => {
    await hub.stop('SIGKILL');
    hub = await startHubProcess(hubEnv(), join(dir, 'hub-2.log'), ports);
    await waitFor('gateway A back on the restarted hub', async () => (await hubCounter('hub_gateway_logins_total{method="ticket"}')) === 1, { timeoutMs: 30_000 });
    expect(await hubCounter('hub_password_checks_total')).toBe(0);
    expect(await hubCounter('hub_gateway_logins_total{method="password"}')).toBe(0);
    expect((await gwA!.health()).connected).toBe(true);
  });

  it('refuses forged, expired, foreign and other gateways\' tickets with CONNACK 4, each counted by reason, no password checked', async () => {
    const real = savedTicket()!;
    const secret = withRegistry((r) => r.hubSecret('login_ticket_key')!);
    const bRow = withRegistry((r) => r.getGateway(B.id)!);
    const aRow = withRegistry((r) => r.getGateway(A.id)!);
    const flipped = real.slice(0, -1) + (real.at(-1) === 'A' ? 'B' : 'A');
    const foreign = new LoginTickets(randomBytes(32)).issue(aRow).ticket;
    const expired = new LoginTickets(secret, { now: () => Date.now() - 2 * 86_400_000 }).issue(aRow).ticket;
    const ofB = new LoginTickets(secret).issue(bRow).ticket;
    const tries: Array<[string, string, string]> = [
      ['bad_mac', A.id, flipped],
      ['bad_mac', A.id, foreign],
      ['expired', A.id, expired],
      ['other_gateway', A.id, ofB],
      ['malformed', A.id, 't1.not-a-ticket'],
    ];
    for (const [, user, password] of tries) expect(await rawConnect(ports.mqttPort, { clientId: user, clean: true, username: user, password })).toBe(4);
    expect(await hubCounter('hub_tickets_refused_total{reason="bad_mac"}')).toBe(2);
    expect(await hubCounter('hub_tickets_refused_total{reason="expired"}')).toBe(1);
    expect(await hubCounter('hub_tickets_refused_total{reason="other_gateway"}')).toBe(1);
    expect(await hubCounter('hub_tickets_refused_total{reason="malformed"}')).toBe(1);
    expect(await hubCounter('hub_connections_refused_total{code="HUB_ERR_TICKET_REFUSED"}')).toBe(5);
    expect(await hubCounter('hub_password_checks_total')).toBe(0);
    // B's own ticket is good for B (the refusal above was about who presented it).
    expect(await rawConnect(ports.mqttPort, { clientId: B.id, clean: true, username: B.id, password: ofB })).toBe(0);
    expect(await hubCounter('hub_gateway_logins_total{method="ticket"}')).toBe(2);
  });

  it('renews a ticket in the last quarter of its life: a ticket login handed a new one, no password checked', async () => {
    const secret = withRegistry((r) => r.hubSecret('login_ticket_key')!);
    const bRow = withRegistry((r) => r.getGateway(B.id)!);
    // Issued 19 h ago: 5 h of 24 left, under a quarter.
    const old = new LoginTickets(secret, { now: () => Date.now() - 19 * 3_600_000 }).issue(bRow).ticket;
    const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${ports.mqttPort}`, { clientId: B.id, username: B.id, password: old, clean: true, reconnectPeriod: 0, protocolVersion: 4 });
    try {
      const got = new Promise<Buffer>((resolve) => client.on('message', (_t, payload) => resolve(payload)));
      await client.subscribeAsync(ticketTopic({ district: 'tk-d1', school: B.school, gateway: B.id }), { qos: 1 });
      const fresh = loginTicketSchema.parse(JSON.parse((await got).toString()));
      expect(fresh.ticket).not.toBe(old);
      // 24 h from now, to the second the hub rounds its issue time to.
      expect(Math.abs(fresh.expiresAt - (Date.now() + 86_400_000))).toBeLessThan(10_000);
      expect(new LoginTickets(secret).check(fresh.ticket, B.id, () => bRow)).toMatchObject({ ok: true, renew: false });
    } finally {
      await client.endAsync();
    }
    expect(await hubCounter('hub_tickets_issued_total{on="ticket"}')).toBe(1);
    expect(await hubCounter('hub_password_checks_total')).toBe(0);
  });

  it('refuses the ticket after a password rotation: the gateway drops it, logs in with its new password at once and gets a new ticket', async () => {
    const old = savedTicket()!;
    await gwA!.stop();
    const hash = await hashPassword(A_ROTATED);
    withRegistry((r) => r.rotateGatewayHash(A.id, hash, Date.now()));
    const g = await startA(A_ROTATED, '3');
    await waitFor('gateway A in with its new password', async () => (await g.health()).connected);
    expect(await hubCounter('hub_tickets_refused_total{reason="credential_changed"}')).toBe(1);
    expect(await hubCounter('hub_gateway_logins_total{method="password"}')).toBe(1);
    expect(await hubCounter('hub_password_checks_total')).toBe(1);
    expect(await counter(g.healthPort, 'gateway_ticket_logins_refused_total')).toBe(1);
    expect(await counter(g.healthPort, 'gateway_uplink_logins_total{method="password"}')).toBe(1);
    const fresh = await waitFor('a new ticket saved', async () => (savedTicket() !== old ? savedTicket() : undefined));
    expect(fresh.startsWith('t1.')).toBe(true);
    // The old ticket stays refused whoever presents it.
    expect(await rawConnect(ports.mqttPort, { clientId: A.id, clean: true, username: A.id, password: old })).toBe(4);
    expect(await hubCounter('hub_tickets_refused_total{reason="credential_changed"}')).toBe(2);
  });

  it('refuses the ticket of a revoked gateway: its session dropped, the ticket dropped, and the password refused too, so it stays out', async () => {
    const ticket = savedTicket()!;
    withRegistry((r) => r.revokeGateway(A.id));
    await waitFor('the ticket refused as revoked', async () => (await hubCounter('hub_tickets_refused_total{reason="revoked"}')) >= 1, { timeoutMs: 30_000 });
    await waitFor('the password refused after it', async () => (await counter(gwA!.healthPort, 'gateway_uplink_refused_total{code="4"}')) >= 2, { timeoutMs: 30_000 });
    expect((await gwA!.health()).connected).toBe(false);
    // This gateway process's second: the first was the rotation's.
    expect(await counter(gwA!.healthPort, 'gateway_ticket_logins_refused_total')).toBe(2);
    await waitFor('the ticket file removed', async () => savedTicket() === undefined);
    expect(await hubCounter('hub_tickets_refused_total{reason="revoked"}')).toBe(1);
    expect(await rawConnect(ports.mqttPort, { clientId: A.id, clean: true, username: A.id, password: ticket })).toBe(4);
    expect(await hubCounter('hub_tickets_refused_total{reason="revoked"}')).toBe(2);
  });
});
