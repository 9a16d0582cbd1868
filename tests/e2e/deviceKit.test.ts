import { spawn } from 'node:child_process';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeviceClient } from '../../device-kit/src/client.ts';
import type { Fleet } from '../../device-sim/src/fleet.ts';

import { LAN_TELEMETRY_TOPIC } from '../../protocol/src/topics.ts';
import { track } from '../harness/children.ts';
import { startInflux, type InfluxInstance } from '../harness/influx.ts';
import { PROJECT_ROOT } from '../harness/mainProcess.ts';
import { waitFor } from '../harness/ports.ts';
import { influxQuery, startStack, type Stack } from '../harness/stack.ts';

/**
 * The vendor's device kit against the real thing: the reference client and the mosquitto shell
 * example on a real gateway's LAN listener (in process), through the hub to InfluxDB, and a
 * command from the hub answered by the device.
 */
const KIOSK = 'yz-s01-lobby-kiosk';
const CLI_KIOSK = 'yz-s01-library-kiosk';
const SHELL_KIOSK = 'yz-s01-hall-kiosk';
const CLI_BOARD = 'yz-s01-301-board';
const fleet: Fleet = {
  districts: [{ id: '渝中区', nameEn: 'Yuzhong', code: 'yz' }],
  schools: [
    {
      id: 'yz-s01',
      name: '一中',
      district: '渝中区',
      gateway: 'gw-yz-s01',
      devices: [...[KIOSK, CLI_KIOSK, SHELL_KIOSK].map((id) => ({ id, kind: 'science_kiosk' as const, room: id.split('-')[2]! })), { id: CLI_BOARD, kind: 'interactive_board' as const, room: '301' }],
    },
  ],
};

describe('device kit: the reference client and the shell example against a real gateway, hub and InfluxDB', () => {
  let influx: InfluxInstance;
  let stack: Stack;
  let lanUrl = '';
  const db = 'e2e_device_kit';

  beforeAll(async () => {
    influx = await startInflux();
    stack = await startStack({ influxUrl: influx.url, database: db, fleet });
    lanUrl = `mqtt://127.0.0.1:${stack.gateways.get('yz-s01')!.lanPort}`;
    await waitFor('gw-yz-s01 takes commands', async () => stack.hub.isCommandReady('gw-yz-s01'));
  });
  afterAll(async () => {
    await stack?.stop();
    await influx?.stop();
  });

  /** The device's points in InfluxDB, once there are `n`. */
  async function points(device: string, n: number): Promise<Array<Record<string, unknown>>> {
    return waitFor(`${n} points of ${device}`, async () => {
      const s = (await influxQuery(influx.url, db, `SELECT * FROM science_kiosk WHERE device = '${device}'`))[0];
      const rows = (s?.values ?? []).map((v) => Object.fromEntries(s!.columns.map((c, i) => [c, v[i]])));
      return rows.length === n ? rows : undefined;
    }, { timeoutMs: 15_000, intervalMs: 100 });
  }

  /** The command's final status at the hub (its point leaves `sent`). */
  async function outcome(id: string): Promise<Record<string, unknown>> {
    return waitFor(`command ${id} answered`, async () => {
      const s = (await influxQuery(influx.url, db, `SELECT * FROM command WHERE "id" = '${id}'`))[0];
      const row = s && Object.fromEntries(s.columns.map((c, i) => [c, s.values[0]![i]]));
      return row && row['status'] !== 'sent' ? row : undefined;
    }, { timeoutMs: 15_000, intervalMs: 100 });
  }

  /** Samples from another LAN client, which the gateway refuses and names on lan/v1/err. */
  async function othersSend(samples: unknown[]): Promise<void> {
    const c = await mqtt.connectAsync(lanUrl, { clientId: 'another-device', protocolVersion: 4, reconnectPeriod: 0 });
    for (const x of samples) await c.publishAsync(LAN_TELEMETRY_TOPIC, JSON.stringify(x), { qos: 1 });
    await c.endAsync();
  }
  const kioskData = { power: 'on', screenOn: true, contentSyncAgeS: 60, freeDiskMiB: 2048 };

  it('the reference client lands a point, answers a command (done at the hub) and sees only its own refusals', async () => {
    const client = new DeviceClient({ url: lanUrl, device: KIOSK, kind: 'science_kiosk', onCommand: (cmd) => (cmd.action === 'reboot' ? { status: 'done' } : { status: 'failed', detail: `cannot ${cmd.action}` }) });
    await client.start();
    try {
      const sent = await client.send({ power: 'on', screenOn: true, contentSyncAgeS: 1234, freeDiskMiB: 4321 });
      const [p] = await points(KIOSK, 1);
      expect(p).toMatchObject({ time: sent.ts, seq: 0, power: 'on', screen_on: true, content_sync_age_s: 1234, free_disk_mib: 4321, school: 'yz-s01', gateway: 'gw-yz-s01', room: 'lobby', kind: 'science_kiosk' });

      const reboot = await stack.hub.sendCommand({ device: KIOSK, action: 'reboot', ttlMs: 30_000 }, 'system:test');
      expect((await outcome(reboot.id))['status']).toBe('done');
      const off = await stack.hub.sendCommand({ device: KIOSK, action: 'power_off', ttlMs: 30_000 }, 'system:test');
      expect([(await outcome(off.id))['status'], (await outcome(off.id))['detail']]).toEqual(['failed', 'cannot power_off']);
      expect(client.answered.map((a) => [a.command.id, a.command.action, a.answer.status])).toEqual([
        [reboot.id, 'reboot', 'done'],
        [off.id, 'power_off', 'failed'],
      ]);

      // The gateway's own refusals: one of a device not registered here (another client's), then
      // the kiosk's own sample with its clock 10 minutes ahead.
      await othersSend([{ device: 'someone-else', kind: 'science_kiosk', seq: 3, ts: Date.now(), data: kioskData }]);
      await client.sendRaw(JSON.stringify({ device: KIOSK, kind: 'science_kiosk', seq: 1, ts: Date.now() + 600_000, data: kioskData }));
      const mine = await waitFor('the refusal naming the kiosk', async () => (client.refusals.length > 0 ? client.refusals : undefined));
      expect(mine).toHaveLength(1);
      expect(mine[0]).toMatchObject({ v: 1, device: KIOSK, reason: 'clock_ahead', seq: 1 });
      expect(mine[0]!.detail).toMatch(/^device clock \d+ ms ahead of the gateway's/);
      await expect(client.start()).rejects.toMatchObject({ code: 'KIT_ERR_STARTED_TWICE' });
    } finally {
      await client.stop({ switchOff: true });
    }
    await expect(client.send()).rejects.toMatchObject({ code: 'KIT_ERR_STOPPED' });
    await expect(new DeviceClient({ url: lanUrl, device: KIOSK, kind: 'science_kiosk' }).send()).rejects.toMatchObject({ code: 'KIT_ERR_NOT_STARTED' });
    // Switched off on purpose (a last sample saying so, then the goodbye): the gateway counts the
    // kiosk off, not down. The minute is recorded until it says off (the same point each time).
    const minute = Math.floor(Date.now() / 60_000) * 60_000;
    const gw = stack.gateways.get('yz-s01')!;
    const state = await waitFor('the kiosk off after its goodbye', async () => {
      await gw.sampleAvailability(minute);
      const v = (await influxQuery(influx.url, db, `SELECT state FROM availability WHERE device = '${KIOSK}'`))[0]?.values[0]?.[1];
      return v === 'off' ? v : undefined;
    }, { timeoutMs: 10_000, intervalMs: 200 });
    expect(state).toBe('off');
  });

  it('the client as a program: --count samples, then switched off (a sample saying so) and a clean goodbye; every line it prints is JSON', async () => {
    const child = track(spawn(process.execPath, [join(PROJECT_ROOT, 'device-kit/src/client.ts'), '--url', lanUrl, '--device', CLI_KIOSK, '--kind', 'science_kiosk', '--count', '3', '--interval', '50'], { stdio: ['ignore', 'pipe', 'pipe'] }));
    let out = '';
    child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect(code).toBe(0);
    const events = out.trim().split('\n').map((l) => (JSON.parse(l) as { event: string }).event);
    expect(events).toEqual(['connected', 'sent', 'sent', 'sent', 'goodbye']);
    // The kind's example data (protocol/src/kinds.ts), seq 0, 1, 2; then seq 3 saying power off.
    const rows = await points(CLI_KIOSK, 4);
    expect(rows.map((r) => [r['seq'], r['power'], r['content_sync_age_s'], r['free_disk_mib']])).toEqual([[0, 'on', 1800, 51_200], [1, 'on', 1800, 51_200], [2, 'on', 1800, 51_200], [3, 'off', 1800, 51_200]]);
  });

  it('the program as a board carries out switch_input: it prints the command with its input, and its later samples report the input', async () => {
    const child = track(spawn(process.execPath, [join(PROJECT_ROOT, 'device-kit/src/client.ts'), '--url', lanUrl, '--device', CLI_BOARD, '--kind', 'interactive_board', '--count', '8', '--interval', '500'], { stdio: ['ignore', 'pipe', 'pipe'] }));
    let out = '';
    child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    // Heard by the gateway first (a command to a device never heard is rejected).
    await waitFor(`a point of ${CLI_BOARD}`, async () => ((await influxQuery(influx.url, db, `SELECT active_input FROM interactive_board WHERE device = '${CLI_BOARD}'`))[0]?.values.length ? true : undefined), { timeoutMs: 15_000, intervalMs: 50 });
    const cmd = await stack.hub.sendCommand({ device: CLI_BOARD, action: 'switch_input', input: 'hdmi2', ttlMs: 30_000 }, 'system:test');
    expect(await outcome(cmd.id)).toMatchObject({ status: 'done', input: 'hdmi2', action: 'switch_input' });
    expect(await exited).toBe(0);
    const printed = out.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(printed.filter((e) => e['event'] === 'command')).toMatchObject([{ id: cmd.id, action: 'switch_input', input: 'hdmi2', answer: 'done' }]);
    // 8 samples and the one saying off: the example's hdmi1 until the switch, hdmi2 from then on.
    const s = (await influxQuery(influx.url, db, `SELECT seq, active_input FROM interactive_board WHERE device = '${CLI_BOARD}'`))[0]!;
    const inputs = s.values.map((v) => v[2]);
    expect(inputs).toHaveLength(9);
    const at = inputs.indexOf('hdmi2');
    expect(at).toBeGreaterThan(0);
    expect(inputs).toEqual([...Array<string>(at).fill('hdmi1'), ...Array<string>(9 - at).fill('hdmi2')]);
  });

  it('the mosquitto shell example: its samples land, and it prints the command and the refusal naming its kiosk', async () => {
    const port = stack.gateways.get('yz-s01')!.lanPort;
    const child = track(
      spawn('sh', [join(PROJECT_ROOT, 'device-kit/examples/mosquitto.sh')], {
        env: { ...process.env, GW_HOST: '127.0.0.1', GW_PORT: String(port), DEVICE: SHELL_KIOSK, COUNT: '2', INTERVAL: '2', LINGER: '3' },
        stdio: ['ignore', 'pipe', 'pipe'],
      }),
    );
    let out = '';
    child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    // 30 minutes since the last sync at the first sample, two seconds more at the second.
    const [first] = await points(SHELL_KIOSK, 1);
    expect([first!['seq'], first!['content_sync_age_s'], first!['free_disk_mib'], first!['screen_on']]).toEqual([0, 1800, 51_200, true]);
    // The command reaches the shell device; it cannot answer (another session), so it expires.
    const cmd = await stack.hub.sendCommand({ device: SHELL_KIOSK, action: 'standby', ttlMs: 1000 }, 'system:test');
    // Refused by the gateway: a sample naming the shell kiosk with a free disk below 0, and one of
    // a kiosk not registered here; the shell prints only the first.
    await othersSend([{ device: SHELL_KIOSK, kind: 'science_kiosk', seq: 9, ts: Date.now(), data: { ...kioskData, freeDiskMiB: -1 } }, { device: 'not-registered-kiosk', kind: 'science_kiosk', seq: 0, ts: Date.now(), data: kioskData }]);
    expect(await exited).toBe(0);
    const rows = await points(SHELL_KIOSK, 2);
    expect(rows.map((r) => [r['seq'], r['content_sync_age_s']])).toEqual([[0, 1800], [1, 1802]]);
    const lines = out.trim().split('\n');
    expect(lines.map((l) => l.split(' ')[0])).toEqual(['lan/v1/cmd', 'lan/v1/err']);
    expect(JSON.parse(lines[0]!.slice('lan/v1/cmd '.length))).toMatchObject({ v: 1, id: cmd.id, device: SHELL_KIOSK, action: 'standby' });
    expect(JSON.parse(lines[1]!.slice('lan/v1/err '.length))).toMatchObject({ device: SHELL_KIOSK, reason: 'invalid_sample' });
    expect((await outcome(cmd.id))['status']).toBe('expired');
  });
});
