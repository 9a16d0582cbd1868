import mqtt, { type MqttClient } from 'mqtt';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUserWithToken } from '../../broker/src/auth/bootstrap.ts';
import type { Fleet, SimDevice } from '../../device-sim/src/fleet.ts';
import { createGateway, type Gateway } from '../../gateway/src/gateway.ts';
import { LAN_COMMAND_RESULT_TOPIC, LAN_COMMAND_TOPIC, type LanCommand } from '../../protocol/src/commands.ts';
import { LAN_TELEMETRY_TOPIC } from '../../protocol/src/topics.ts';
import { silentLogger } from '../../runtime/src/logging.ts';
import { CONSOLE_ARTIFACTS, startBrowser, type BrowserRig, type LoggedRequest } from '../harness/browser.ts';
import { startInflux, type InfluxInstance } from '../harness/influx.ts';
import { waitFor } from '../harness/ports.ts';
import { gatewayConfig, startStack, type Stack } from '../harness/stack.ts';

/**
 * The console in Debian's Chromium against a real hub, InfluxDB, a real gateway and devices on
 * its LAN (console/README.md): sign-in as a school's IT, only that school's devices, filters, a
 * reboot whose `done` arrives live, a device switched off seen live, another school's device
 * refused, both languages, sign-out; a district operator's overview against the API's own
 * figures; CSRF; and no request to any host but the hub.
 */
const board: SimDevice = { id: 'yz-s01-301-board', kind: 'interactive_board', room: '301' };
const av: SimDevice = { id: 'yz-s01-301-av', kind: 'classroom_av', room: '301' };
const vr: SimDevice = { id: 'yz-s01-302-vr', kind: 'vr_kit', room: '302' };
const uplink: SimDevice = { id: 'yz-s01-uplink', kind: 'network_node', room: 'server-room', link: { role: 'school_uplink', capacityBps: 1e9 } };
const s01Devices = [board, av, vr, uplink];
const fleet: Fleet = {
  districts: [
    { id: '渝中区', nameEn: 'Yuzhong', code: 'yz' },
    { id: '江北区', nameEn: 'Jiangbei', code: 'jb' },
  ],
  schools: [
    { id: 'yz-s01', name: '巴蜀小学', nameEn: 'Bashu Primary School', district: '渝中区', gateway: 'gw-yz-s01', devices: s01Devices },
    { id: 'yz-s02', name: '人和街小学', nameEn: 'Renhe Street Primary School', district: '渝中区', gateway: 'gw-yz-s02', devices: [{ id: 'yz-s02-101-board', kind: 'interactive_board', room: '101' }] },
    { id: 'jb-s01', name: '华新小学', district: '江北区', gateway: 'gw-jb-s01', devices: [{ id: 'jb-s01-201-vr', kind: 'vr_kit', room: '201' }] },
  ],
};
const IT = { id: 'it-s01', password: 'correct horse battery 01' };
const OPERATOR = { id: 'op-yz', password: 'correct horse battery 02' };
const CITY = { id: 'admin-city', password: 'correct horse battery 03' };
const MIN = 60_000;

function sample(d: SimDevice, seq: number, ts: number, octetsIn = 0n): unknown {
  switch (d.kind) {
    case 'interactive_board':
      return { device: d.id, kind: d.kind, seq, ts, data: { power: 'on', touchOk: true, activeInput: 'hdmi1', firmware: 'v3.1' } };
    case 'classroom_av':
      return { device: d.id, kind: d.kind, seq, ts, data: { power: 'on', lampHours: 1200, temperatureC: 41.5, inSession: true } };
    case 'vr_kit':
      return { device: d.id, kind: d.kind, seq, ts, data: { batteryPct: 80, charging: false, inSession: false } };
    default:
      return { device: d.id, kind: 'network_node', seq, ts, data: { role: 'school_uplink', capacityBps: 1e9, octetsIn: octetsIn.toString(), octetsOut: '0', operUp: true } };
  }
}

describe('the web console in a real browser', () => {
  let influx: InfluxInstance;
  let stack: Stack;
  let gw: Gateway;
  let browser: BrowserRig;
  let page: Page;
  let origin: string;
  let cityToken: string;
  let operatorToken: string;
  const clients = new Map<string, MqttClient>();
  const received: LanCommand[] = [];
  /** The availability minute the gateway samples last. */
  let minute = 0;
  const logs: LoggedRequest[][] = [];

  async function call<T>(token: string, method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> {
    const res = await fetch(`${origin}/api/v1${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    return { status: res.status, body: (text ? JSON.parse(text) : undefined) as T };
  }
  const shot = (p: Page, name: string) => p.screenshot({ path: `${CONSOLE_ARTIFACTS}/${name}.png`, fullPage: true });
  /** A mark set in the page: still there later, the page was not reloaded. */
  const mark = (p: Page) => p.evaluate(() => Object.assign(globalThis, { notReloaded: true }));
  const marked = (p: Page) => p.evaluate(() => (globalThis as { notReloaded?: boolean }).notReloaded === true);

  async function signIn(p: Page, who: { id: string; password: string }): Promise<void> {
    await p.getByLabel(/用户名|User ID/).fill(who.id);
    await p.getByLabel(/密码|Password/).fill(who.password);
    await p.locator('form[data-testid=sign-in-form] button[type=submit]').click();
    await p.locator('header.top').waitFor();
  }
  /** The ids of the device rows shown. */
  const rows = async (p: Page): Promise<string[]> => {
    await p.locator('[data-testid=device-table]').waitFor();
    return (await p.locator('[data-testid^=row-]').evaluateAll((els) => els.map((e) => e.getAttribute('data-testid')!.slice(4)))).sort();
  };
  const liveUp = (p: Page) => p.locator('[data-testid=live][data-up=true]').waitFor();

  beforeAll(async () => {
    influx = await startInflux();
    stack = await startStack({ influxUrl: influx.url, database: 'e2e_console', fleet, withGateways: false });
    origin = `http://127.0.0.1:${stack.hub.httpPort}`;
    cityToken = createUserWithToken(stack.registry, { id: 'u-city', role: 'city_admin' }, { ttlMs: 86_400_000 }, Date.now()).token;
    // People are made through the API, as an administrator would, passwords included.
    const it = await call(cityToken, 'POST', '/users', { id: IT.id, displayName: '王老师', role: 'school_it', school: 'yz-s01' });
    const op = await call<{ token: string }>(cityToken, 'POST', '/users', { id: OPERATOR.id, displayName: '李工', role: 'district_operator', district: '渝中区' });
    expect([it.status, op.status]).toEqual([201, 201]);
    operatorToken = op.body.token;
    expect((await call(cityToken, 'POST', '/users', { id: CITY.id, displayName: '张主任', role: 'city_admin' })).status).toBe(201);
    expect((await call(cityToken, 'PATCH', '/schools/yz-s01', { uplinkCapacityBps: 1e9 })).status).toBe(200);
    for (const u of [IT, OPERATOR, CITY]) expect((await call(cityToken, 'PUT', `/users/${u.id}/password`, { password: u.password })).status).toBe(204);

    gw = createGateway(gatewayConfig(fleet.schools[0]!, stack.hub.mqttPort), { log: silentLogger() });
    await gw.start();
    await waitFor('gw-yz-s01 takes commands', async () => stack.hub.isCommandReady('gw-yz-s01'));
    const now = Date.now();
    minute = Math.floor(now / MIN) * MIN;
    for (const d of s01Devices) {
      const c = await mqtt.connectAsync(`mqtt://127.0.0.1:${gw.lanPort}`, { clientId: d.id, protocolVersion: 4, reconnectPeriod: 0 });
      clients.set(d.id, c);
      if (d === board) {
        await c.subscribeAsync(LAN_COMMAND_TOPIC, { qos: 1 });
        c.on('message', (_t, payload) => {
          const cmd = JSON.parse(payload.toString()) as LanCommand;
          if (cmd.device !== board.id) return;
          received.push(cmd);
          void c.publishAsync(LAN_COMMAND_RESULT_TOPIC, JSON.stringify({ v: 1, id: cmd.id, device: board.id, status: 'done' }), { qos: 1 });
        });
      }
      // The uplink twice, 30 s apart: 750,000,000 octets in 30 s is 200 Mbit/s.
      if (d === uplink) await c.publishAsync(LAN_TELEMETRY_TOPIC, JSON.stringify(sample(d, 0, now - 30_000, 10n ** 12n)), { qos: 1 });
      await c.publishAsync(LAN_TELEMETRY_TOPIC, JSON.stringify(sample(d, 1, now, d === uplink ? 10n ** 12n + 750_000_000n : 0n)), { qos: 1 });
    }
    await gw.sampleAvailability(minute);
    await waitFor('every yz-s01 device up', async () => {
      const r = await call<{ items: Array<{ state: string }> }>(cityToken, 'GET', '/devices?school=yz-s01&state=up');
      return r.body.items.length === s01Devices.length ? true : undefined;
    }, { timeoutMs: 15_000, intervalMs: 50 });
    await waitFor('the uplink\'s rate stored', async () => {
      const r = await call<{ schools: Array<{ school: string; inBps: number | null }> }>(cityToken, 'GET', '/figures/bandwidth?school=yz-s01');
      return r.body.schools[0]?.inBps != null ? true : undefined;
    }, { timeoutMs: 15_000, intervalMs: 100 });

    browser = await startBrowser();
    page = browser.page;
    logs.push(browser.requests);
  });
  afterAll(async () => {
    await browser?.close();
    for (const c of clients.values()) await c.endAsync(true).catch(() => {});
    await gw?.stop();
    await stack?.stop();
    await influx?.stop();
  });

  it('signs in as the school\'s IT (a wrong password first) and sees that school alone', async () => {
    // The hub's root leads to the console, served with its policy.
    const root = await page.goto(`${origin}/`);
    expect(new URL(page.url()).pathname).toBe('/console/');
    expect(root!.headers()['content-security-policy']).toMatch(/^default-src 'self'; script-src 'self' 'sha256-[A-Za-z0-9+/=]+';/);
    await page.locator('[data-testid=sign-in-form]').waitFor();
    await page.goto(`${origin}/console/devices`);
    await page.locator('[data-testid=sign-in-form]').waitFor();
    await shot(page, '01-sign-in');
    await page.getByLabel('用户名').fill(IT.id);
    await page.getByLabel('密码').fill('not the password at all');
    await page.locator('form[data-testid=sign-in-form] button[type=submit]').click();
    expect(await page.locator('[data-testid=sign-in-error]').innerText()).toBe('用户名或密码错误');
    await signIn(page, IT);
    // The page asked for before signing in is the one shown.
    expect(await rows(page)).toEqual(s01Devices.map((d) => d.id).sort());
    expect(await page.locator('[data-testid=who]').innerText()).toContain('王老师');
    await shot(page, '02-devices');
    await page.locator('[data-testid=nav-overview]').click();
    await page.locator('[data-testid^=school-card-]').first().waitFor();
    expect(await page.locator('[data-testid^=school-card-]').evaluateAll((els) => els.map((e) => e.getAttribute('data-testid')))).toEqual(['school-card-yz-s01']);
    expect(await page.locator('[data-testid=states-yz-s01-up]').innerText()).toBe('4');
    await shot(page, '03-overview');
  });

  it('filters the device list by kind and by state', async () => {
    await page.locator('[data-testid=nav-devices]').click();
    await page.locator('[data-testid=filter-kind]').selectOption('interactive_board');
    await waitFor('kind filter', async () => ((await rows(page)).join() === board.id ? true : undefined));
    expect(new URL(page.url()).search).toBe('?kind=interactive_board');
    await page.locator('[data-testid=filter-kind]').selectOption('');
    await page.locator('[data-testid=filter-state]').selectOption('down');
    await page.locator('[data-testid=no-devices]').waitFor();
    expect(await rows(page)).toEqual([]);
    await page.locator('[data-testid=filter-state]').selectOption('up');
    await waitFor('state filter', async () => ((await rows(page)).length === 4 ? true : undefined));
    await page.locator('[data-testid=filter-room]').selectOption('301');
    await waitFor('room filter', async () => ((await rows(page)).join() === [av.id, board.id].join() ? true : undefined));
    await shot(page, '04-devices-filtered');
  });

  it('opens the board, reboots it, and sees `done` arrive without a reload', async () => {
    await page.goto(`${origin}/console/devices?kind=interactive_board`);
    await page.locator(`[data-testid=row-${board.id}] a`).click();
    await page.locator('[data-testid=device-page]').waitFor();
    expect(await page.locator('[data-testid=telemetry] [data-field=firmware]').innerText()).toBe('v3.1');
    expect(await page.locator('[data-testid=telemetry] [data-field=active_input]').innerText()).toBe('hdmi1');
    // Today's figures and states, as the API gives them: one minute sampled so far, up.
    const today = page.locator('[data-testid=device-today]');
    const api = await call<{ upMinutes: number; expectedMinutes: number; observedMinutes: number; runs: Array<{ state: string }> }>(cityToken, 'GET', `/devices/${board.id}/availability?from=${Math.floor(minute / 86_400_000) * 86_400_000 - 86_400_000}`);
    expect(api.body.observedMinutes).toBe(1);
    expect(api.body.runs.filter((r) => r.state === 'up')).toHaveLength(1);
    expect([await today.getAttribute('data-up'), await today.getAttribute('data-expected'), await today.getAttribute('data-observed')]).toEqual([String(api.body.upMinutes), String(api.body.expectedMinutes), '1']);
    expect(await page.locator('[data-testid=device-runs] tr[data-state=up]').count()).toBe(1);
    await liveUp(page);
    await mark(page);
    await page.locator('[data-testid=cmd-reboot]').click();
    const status = page.locator('[data-testid=command-status]').first();
    await waitFor('done shown', async () => ((await status.getAttribute('data-status')) === 'done' ? true : undefined), { timeoutMs: 15_000, intervalMs: 50 });
    expect(await status.innerText()).toBe('完成');
    expect(await marked(page)).toBe(true);
    expect(received.map((c) => c.action)).toEqual(['reboot']);
    const cmds = await call<{ items: Array<{ id: string; status: string; actor: string }> }>(cityToken, 'GET', `/commands?device=${board.id}`);
    expect(cmds.body.items).toMatchObject([{ id: received[0]!.id, status: 'done', actor: `user:${IT.id}` }]);
    await shot(page, '05-device');
  });

  it('switches the board\'s input to hdmi2 from its page and sees `done` without a reload; a VR kit\'s page has no such control', async () => {
    // Still on the board's page.
    const control = page.locator('[data-testid=switch-input]');
    expect(await control.getByLabel('信号源').locator('option').evaluateAll((els) => els.map((e) => e.getAttribute('value')))).toEqual(['hdmi1', 'hdmi2', 'ops', 'usb-c', 'vga']);
    await mark(page);
    await control.getByLabel('信号源').selectOption('hdmi2');
    await control.getByRole('button', { name: '切换信号源' }).click();
    const row = page.locator('tr[data-testid^=command-]').first();
    await waitFor('a second command row', async () => ((await page.locator('tr[data-testid^=command-]').count()) === 2 ? true : undefined), { timeoutMs: 15_000, intervalMs: 50 });
    const status = row.locator('[data-testid=command-status]');
    await waitFor('done shown', async () => ((await status.getAttribute('data-status')) === 'done' ? true : undefined), { timeoutMs: 15_000, intervalMs: 50 });
    expect(await row.locator('td').nth(1).innerText()).toBe('切换信号源 hdmi2');
    expect(await marked(page)).toBe(true);
    // The LAN message the board got, and the API's record.
    expect(received.map((c) => [c.action, c.input])).toEqual([['reboot', undefined], ['switch_input', 'hdmi2']]);
    const cmds = await call<{ items: Array<{ id: string; action: string; input: string | null; status: string }> }>(cityToken, 'GET', `/commands?device=${board.id}`);
    expect(cmds.body.items[0]).toMatchObject({ id: received[1]!.id, action: 'switch_input', input: 'hdmi2', status: 'done' });
    await shot(page, '05-device-switch-input');
    // A VR kit has no inputs: the other commands, and no input control.
    await page.goto(`${origin}/console/devices/${vr.id}`);
    await page.locator('[data-testid=device-page]').waitFor();
    await page.locator('[data-testid=cmd-reboot]').waitFor();
    expect(await page.locator('[data-testid=switch-input]').count()).toBe(0);
    expect(await page.locator('[data-testid=cmd-switch_input], select[name=input]').count()).toBe(0);
  });

  it('sees a device switched off change state live on the school page', async () => {
    await page.locator('[data-testid=nav-overview]').click();
    await page.locator('[data-testid=school-card-yz-s01] h3 a').click();
    const tile = page.locator(`[data-testid=tile-${av.id}]`);
    expect(await tile.getAttribute('data-state')).toBe('up');
    await liveUp(page);
    await mark(page);
    // The projector is switched off: it says so (power off), then ends its session (off, not down).
    const projector = clients.get(av.id)!;
    const off = sample(av, 2, Date.now()) as { data: Record<string, unknown> };
    await projector.publishAsync(LAN_TELEMETRY_TOPIC, JSON.stringify({ ...off, data: { ...off.data, power: 'off' } }), { qos: 1 });
    await projector.endAsync();
    clients.delete(av.id);
    minute += MIN;
    await gw.sampleAvailability(minute);
    await waitFor('the tile shows off', async () => ((await tile.getAttribute('data-state')) === 'off' ? true : undefined), { timeoutMs: 15_000, intervalMs: 50 });
    expect(await marked(page)).toBe(true);
    expect(await page.locator(`[data-testid=tile-${board.id}]`).getAttribute('data-state')).toBe('up');
    await shot(page, '06-school');
  });

  it('works from the keyboard, and reflows at a tablet\'s width without scrolling sideways', async () => {
    await page.goto(`${origin}/console/devices`);
    await page.locator('[data-testid=device-table]').waitFor();
    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => (globalThis as unknown as { document: { activeElement: { textContent: string } } }).document.activeElement.textContent)).toBe('跳到正文');
    await page.locator('[data-testid=sort-state]').focus();
    await page.keyboard.press('Enter');
    expect(await page.locator('th:has([data-testid=sort-state])').getAttribute('aria-sort')).toBe('ascending');
    // The off projector first (off < up), then the three up devices by id.
    expect(await page.locator('[data-testid^=row-]').evaluateAll((els) => els.map((e) => e.getAttribute('data-state')))).toEqual(['off', 'up', 'up', 'up']);
    await page.locator(`[data-testid=row-${board.id}] a`).focus();
    await page.keyboard.press('Enter');
    await page.locator('[data-testid=device-page]').waitFor();
    await page.setViewportSize({ width: 768, height: 1024 });
    try {
      for (const p of ['/console/', '/console/schools/yz-s01', '/console/devices', `/console/devices/${board.id}`]) {
        await page.goto(`${origin}${p}`);
        await page.locator('main h1').waitFor();
        const overflow = await page.evaluate(() => {
          const el = (globalThis as unknown as { document: { documentElement: { scrollWidth: number; clientWidth: number } } }).document.documentElement;
          return el.scrollWidth - el.clientWidth;
        });
        expect([p, overflow]).toEqual([p, 0]);
      }
      await shot(page, '06b-device-tablet');
    } finally {
      await page.setViewportSize({ width: 1280, height: 800 });
    }
  });

  it('refuses another school\'s device opened by URL, as it refuses one that does not exist', async () => {
    for (const id of ['yz-s02-101-board', 'jb-s01-201-vr', 'no-such-device']) {
      await page.goto(`${origin}/console/devices/${id}`);
      const refusal = page.locator('[data-testid=refusal]');
      await refusal.waitFor();
      expect([id, await refusal.getAttribute('data-status')]).toEqual([id, '404']);
    }
    await shot(page, '07-refusal');
  });

  it('shows the gateway and the inventory pages, with an import\'s row errors', async () => {
    await page.goto(`${origin}/console/gateways`);
    const row = page.locator('[data-testid=gateway-gw-yz-s01]');
    await row.waitFor();
    const g = await call<{ connection: string; bdSeq: number }>(cityToken, 'GET', '/gateways/gw-yz-s01');
    expect(await row.getAttribute('data-connection')).toBe(g.body.connection);
    expect(await row.locator('td').nth(3).innerText()).toBe(String(g.body.bdSeq));
    expect(await page.locator('[data-testid=gateway-table] tbody tr').count()).toBe(1);
    await shot(page, '08-gateways');
    await page.locator('[data-testid=nav-inventory]').click();
    await page.locator('[data-testid=csv-text]').fill('school,room,id,kind,model,vendor,serial,link_role,capacity_bps\nyz-s01,999,yz-s01-999-board,interactive_board,,,,,\n');
    await page.locator('[data-testid=import]').click();
    const errs = page.locator('[data-testid=row-errors] tbody tr');
    await errs.first().waitFor();
    expect(await errs.first().locator('td').nth(0).innerText()).toBe('2');
    expect(await errs.first().locator('td').nth(2).innerText()).toBe('unknown_room');
    await shot(page, '09-inventory');
  });

  it('a change without the CSRF token is refused; with the session\'s token it goes through', async () => {
    const attempt = (withToken: boolean) =>
      page.evaluate(async ([device, withToken]) => {
        const s = (await (await fetch('/api/v1/session')).json()) as { csrfToken: string };
        const res = await fetch(`/api/v1/devices/${device}/commands`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...(withToken ? { 'x-csrf-token': s.csrfToken } : {}) },
          body: JSON.stringify({ action: 'standby' }),
        });
        return { status: res.status, body: (await res.json()) as { code?: string; status?: string } };
      }, [board.id, withToken] as const);
    const before = received.length;
    const refused = await attempt(false);
    expect([refused.status, refused.body.code]).toEqual([403, 'HUB_ERR_CSRF']);
    expect(received.length).toBe(before);
    const ok = await attempt(true);
    expect([ok.status, ok.body.status]).toEqual([202, 'sent']);
  });

  it('switches to English and back, and remembers the choice', async () => {
    await page.goto(`${origin}/console/`);
    const nav = page.locator('[data-testid=nav-devices]');
    expect(await nav.innerText()).toBe('设备');
    await page.locator('[data-testid=lang]').click();
    expect(await nav.innerText()).toBe('Devices');
    const school = (await call<{ nameZh: string; nameEn: string }>(cityToken, 'GET', '/schools/yz-s01')).body;
    expect([school.nameEn, await page.locator('[data-testid=school-card-yz-s01] h3').innerText()]).toEqual(['Bashu Primary School', 'Bashu Primary School']);
    expect(await page.locator('[data-testid=district-渝中区] h2').innerText()).toBe('Yuzhong');
    await page.reload();
    expect(await nav.innerText()).toBe('Devices');
    expect(await page.locator('html').getAttribute('lang')).toBe('en');
    await shot(page, '10-overview-en');
    await page.locator('[data-testid=lang]').click();
    expect(await nav.innerText()).toBe('设备');
    expect(await page.locator('[data-testid=district-渝中区] h2').innerText()).toBe('渝中区');
    expect(await page.locator('[data-testid=school-card-yz-s01] h3').innerText()).toBe(school.nameZh);
  });

  it('shows a district operator exactly the figures the API gives for the district', async () => {
    const other = await browser.newPage();
    logs.push(other.requests);
    try {
      await other.page.goto(`${origin}/console/`);
      await signIn(other.page, OPERATOR);
      await other.page.locator('[data-testid=school-card-yz-s02]').waitFor();
      const status = await call<{ devices: { byState: Record<string, number> }; schools: Array<{ school: string; devices: Record<string, number>; gateways: number; gatewaysOnline: number }> }>(operatorToken, 'GET', '/status');
      const av24 = await call<{ total: { availability: number | null; coverage: number }; schools: Array<{ school: string; availability: number | null; coverage: number }> }>(operatorToken, 'GET', '/figures/availability');
      const now = Date.now();
      const bw = await call<{ schools: Array<{ school: string; inBps: number | null }>; districts: Array<{ district: string; inBps: number | null; utilisationIn: number | null }> }>(operatorToken, 'GET', `/figures/bandwidth?from=${now - 5 * MIN}&to=${now}`);
      const text = (id: string) => other.page.locator(`[data-testid="${id}"]`).innerText();
      const value = async (id: string) => JSON.parse((await other.page.locator(`[data-testid="${id}"]`).getAttribute('data-value'))!) as number | null;
      expect(status.body.schools.map((s) => s.school).sort()).toEqual(['yz-s01', 'yz-s02']);
      expect((await other.page.locator('[data-testid^=school-card-]').evaluateAll((els) => els.map((e) => e.getAttribute('data-testid')))).sort()).toEqual(['school-card-yz-s01', 'school-card-yz-s02']);
      for (const s of ['up', 'down', 'off', 'unknown']) expect([s, Number(await text(`total-states-${s}`))]).toEqual([s, status.body.devices.byState[s]]);
      expect(await value('total-availability')).toBe(av24.body.total.availability);
      expect(await value('total-coverage')).toBe(av24.body.total.coverage);
      for (const s of status.body.schools) {
        for (const st of ['up', 'down', 'off', 'unknown']) expect([s.school, st, Number(await text(`states-${s.school}-${st}`))]).toEqual([s.school, st, s.devices[st]]);
        expect(Number(await text(`gateways-offline-${s.school}`))).toBe(s.gateways - s.gatewaysOnline);
        const a = av24.body.schools.find((x) => x.school === s.school)!;
        expect([s.school, await value(`availability-${s.school}`), await value(`coverage-${s.school}`)]).toEqual([s.school, a.availability, a.coverage]);
        expect([s.school, await value(`bandwidth-${s.school}`)]).toEqual([s.school, bw.body.schools.find((x) => x.school === s.school)!.inBps]);
      }
      // The figures are there to compare: the uplink's 200 Mbit/s, one gateway never connected.
      expect(await value('bandwidth-yz-s01')).toBe(200_000_000);
      expect(await text('bandwidth-yz-s01')).toBe('200.0 Mbit/s');
      expect(await text('capacity-yz-s01')).toBe('1.0 Gbit/s');
      // The district's uplink: the sum of its school uplinks (only yz-s01's reports), of 10 Gbit/s.
      expect(bw.body.districts).toEqual([{ district: '渝中区', inBps: 200_000_000, outBps: 0, capacityBps: 10e9, utilisationIn: 0.02, utilisationOut: 0 }]);
      expect([await value('district-bandwidth-渝中区'), await value('district-utilisation-渝中区')]).toEqual([200_000_000, 0.02]);
      expect(await text('gateways-offline-yz-s02')).toBe('1');
      await other.page.screenshot({ path: `${CONSOLE_ARTIFACTS}/11-overview-district.png`, fullPage: true });
    } finally {
      await other.context.close();
    }
  });

  it('shows a city-wide user each district\'s own figures, as the API gives them per district', async () => {
    const other = await browser.newPage();
    logs.push(other.requests);
    try {
      await other.page.goto(`${origin}/console/`);
      await signIn(other.page, CITY);
      for (const d of ['渝中区', '江北区']) {
        await other.page.locator(`[data-testid="district-summary-${d}"]`).waitFor();
        const status = await call<{ devices: { byState: Record<string, number> }; schools: Array<{ gateways: number; gatewaysOnline: number }> }>(cityToken, 'GET', `/status?district=${encodeURIComponent(d)}`);
        const av24 = await call<{ total: { availability: number | null; coverage: number } }>(cityToken, 'GET', `/figures/availability?district=${encodeURIComponent(d)}`);
        const text = (id: string) => other.page.locator(`[data-testid="${id}"]`).innerText();
        const value = async (id: string) => JSON.parse((await other.page.locator(`[data-testid="${id}"]`).getAttribute('data-value'))!) as number | null;
        for (const st of ['up', 'down', 'off', 'unknown']) expect([d, st, Number(await text(`district-states-${d}-${st}`))]).toEqual([d, st, status.body.devices.byState[st]]);
        expect([d, await value(`district-availability-${d}`), await value(`district-coverage-${d}`)]).toEqual([d, av24.body.total.availability, av24.body.total.coverage]);
        expect(Number(await text(`district-gateways-offline-${d}`))).toBe(status.body.schools.reduce((a, s) => a + s.gateways - s.gatewaysOnline, 0));
      }
      expect(await other.page.locator('[data-testid="district-states-渝中区-up"]').innerText()).toBe('3');
      expect(await other.page.locator('[data-testid="district-states-江北区-unknown"]').innerText()).toBe('1');
      await other.page.screenshot({ path: `${CONSOLE_ARTIFACTS}/12-overview-city.png`, fullPage: true });
    } finally {
      await other.context.close();
    }
  });

  it('signs out: the session ends at the hub, and every page asks to sign in again', async () => {
    await page.goto(`${origin}/console/devices`);
    await page.locator('[data-testid=sign-out]').click();
    await page.locator('[data-testid=sign-in-form]').waitFor();
    expect(new URL(page.url()).pathname).toBe('/console/sign-in');
    expect(await page.evaluate(async () => (await fetch('/api/v1/session')).status)).toBe(401);
    await page.goto(`${origin}/console/devices/${board.id}`);
    await page.locator('[data-testid=sign-in-form]').waitFor();
  });

  it('made no request to any host but the hub, and met no script error or CSP refusal', () => {
    const all = logs.flat();
    expect(all.length).toBeGreaterThan(50);
    expect(all.filter((r) => !r.url.startsWith(`${origin}/`) && !r.url.startsWith('data:'))).toEqual([]);
    // Chromium logs each 401 and 404 answer as "Failed to load resource"; those are the API's answers.
    expect(browser.errors.filter((e) => !e.startsWith('Failed to load resource'))).toEqual([]);
  });
});
