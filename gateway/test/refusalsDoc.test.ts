import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULT_TIMETABLE } from '../../protocol/src/schedule.ts';
import { deviceSampleSchema, LAN_REFUSAL_REASONS, type DeviceSample } from '../../protocol/src/telemetry.ts';
import { PROJECT_ROOT } from '../../runtime/src/mainProcess.ts';
import { loadGatewayConfig } from '../src/config.ts';
import { REPLIES_PER_SECOND, type Refusal } from '../src/deviceFaults.ts';
import { Intake } from '../src/intake.ts';
import { validatePayload } from '../src/lanValidation.ts';
import { createGatewayCounters } from '../src/metrics.ts';
import { CounterRates } from '../src/rates.ts';

/**
 * docs/devices.md, Refusals, against the gateway: the table lists exactly the reasons the code
 * can send (LAN_REFUSAL_REASONS), each with the detail the code writes, and the text gives the
 * code's rate limit and the variables that set the clock window.
 */
const doc = readFileSync(join(PROJECT_ROOT, 'docs', 'devices.md'), 'utf8');
const section = doc.slice(doc.indexOf('## Refusals (`lan/v1/err`)'), doc.indexOf('\n## ', doc.indexOf('## Refusals (`lan/v1/err`)') + 1));

/** The rows of the reasons table: reason → detail cell. */
function reasonsTable(): Map<string, string> {
  const lines = section.split('\n');
  const start = lines.findIndex((l) => l.startsWith('| `reason` | `detail` |'));
  expect(start).toBeGreaterThan(0);
  const rows = new Map<string, string>();
  for (const l of lines.slice(start + 2)) {
    if (!l.startsWith('|')) break;
    const [reason, detail] = l.slice(1, -1).split(' | ').map((c) => c.trim());
    rows.set(/^`([a-z_]+)`$/.exec(reason!)![1]!, detail!);
  }
  return rows;
}

/** A detail cell's template (`device clock N ms …`) with its placeholders filled. */
function filled(cell: string, values: Record<string, string | number>): string {
  const m = /^`(.+)`$/.exec(cell);
  expect(m, `a detail in backticks: ${cell}`).not.toBeNull();
  return m![1]!.replace(/\b[NMKL]\b/g, (p) => String(values[p]));
}

const T = Date.UTC(2026, 2, 3, 1, 0);
const DAY = 86_400_000;
const board = (device: string, ts: number, kind = 'interactive_board'): DeviceSample =>
  deviceSampleSchema.parse({ device, kind, seq: 1, ts, data: kind === 'vr_kit' ? { batteryPct: 80, charging: false, inSession: true } : { power: 'on', touchOk: true, activeInput: 'ops', firmware: 'v1' } });

/** The refusals Intake makes, each caught as the device would be told. */
async function intakeRefusals(): Promise<Map<string, Refusal>> {
  const got = new Map<string, Refusal>();
  const make = (max: number) =>
    new Intake({ maxTrackedDevices: max }, { counters: createGatewayCounters(), now: () => T, rates: new CounterRates(), append: async () => {}, faults: { refused: (r) => void got.set(r.reason, r), accepted: () => {} } });
  const registered = make(1);
  registered.setInventory({ v: 1, gateway: 'gw', revision: 1, timetable: DEFAULT_TIMETABLE, devices: [{ id: 'b1', kind: 'interactive_board', room: 'r' }] }, T);
  expect(await registered.accept(board('stray', T), '')).toBe('unregistered');
  expect(await registered.accept(board('b1', T, 'vr_kit'), '')).toBe('kind_mismatch');
  expect(await registered.accept(board('b1', T + 600_000), '')).toBe('clock_ahead');
  expect(await registered.accept(board('b1', T - 401 * DAY), '')).toBe('clock_behind');
  expect(await registered.accept(board('b1', T), 'session-1')).toBeUndefined();
  expect(await registered.accept(board('b1', T), 'session-2')).toBe('too_many_sessions');
  const heard = make(1);
  expect(await heard.accept(board('a', T), '')).toBeUndefined();
  expect(await heard.accept(board('b', T), '')).toBe('too_many_devices');
  return got;
}

describe('docs/devices.md, Refusals, and the gateway', () => {
  it('lists every reason the gateway can send, and no other', () => {
    expect([...reasonsTable().keys()].sort()).toEqual([...LAN_REFUSAL_REASONS].sort());
  });

  it('gives the detail each reason is sent with', async () => {
    const rows = reasonsTable();
    const oversize = validatePayload(Buffer.alloc(300, 'a'), 256, deviceSampleSchema);
    expect(oversize).toMatchObject({ ok: false, reason: 'oversize_payload', detail: filled(rows.get('oversize_payload')!, { N: 300 }) });
    const malformed = validatePayload('{"device":', 256, deviceSampleSchema);
    expect(malformed).toMatchObject({ ok: false, reason: 'malformed_json', detail: filled(rows.get('malformed_json')!, {}) });
    const invalid = validatePayload('{"device":"b1"}', 256, deviceSampleSchema);
    expect(invalid).toMatchObject({ ok: false, reason: 'invalid_sample' });
    expect(rows.get('invalid_sample')).toContain('`field: message`');

    const got = await intakeRefusals();
    expect(got.get('unregistered')!.detail).toBe(filled(rows.get('unregistered')!, {}));
    expect(got.get('kind_mismatch')!.detail).toBe(filled(rows.get('kind_mismatch')!, { K: 'interactive_board', L: 'vr_kit' }));
    expect(got.get('clock_ahead')!.detail).toBe(filled(rows.get('clock_ahead')!, { N: 600_000, M: 300_000 }));
    expect(got.get('clock_behind')!.detail).toBe(filled(rows.get('clock_behind')!, { N: 401 * DAY, M: 400 * DAY }));
    expect(got.get('too_many_sessions')!.detail).toBe(filled(rows.get('too_many_sessions')!, {}));
    expect(got.get('too_many_devices')!.detail).toBe(filled(rows.get('too_many_devices')!, {}));
  });

  it('gives the rate limit and the window\'s variables with the gateway\'s defaults', () => {
    const c = loadGatewayConfig({ GW_ID: 'gw', GW_DISTRICT: 'd', GW_SCHOOL: 's', GW_PASSWORD: 'password1', GW_HUB_URL: 'mqtt://127.0.0.1:1883' }).gateway;
    expect(c.lanErrorIntervalMs).toBe(10_000);
    expect(section).toContain('at most one per device every `GW_LAN_ERROR_INTERVAL_MS` (10 s by\ndefault');
    expect(section).toContain(`at most ${REPLIES_PER_SECOND} a second in all`);
    expect(c.clockWindow).toEqual({ maxFutureMs: 5 * 60_000, maxAgeMs: 400 * DAY });
    expect(section).toContain('`GW_MAX_FUTURE_MS`, 5 minutes by default');
    expect(section).toContain('`GW_MAX_AGE_MS`, 400 days by default');
  });
});
