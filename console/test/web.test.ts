import { describe, expect, it } from 'vitest';
import { actionAppliesTo, COMMAND_ACTIONS as PROTOCOL_ACTIONS, COMMAND_INPUTS as PROTOCOL_INPUTS } from '../../protocol/src/commands.ts';
import { DEVICE_KINDS as PROTOCOL_KINDS } from '../../protocol/src/kinds.ts';
import { COMMAND_ACTIONS, COMMAND_INPUTS, DEVICE_KINDS, INPUT_KINDS } from '../src/web/types.ts';
import { bps, buckets, percent, telemetryValue } from '../src/web/format.ts';
import { label, LABEL_KEYS, labelPair, nameOf, storedLang } from '../src/web/i18n.ts';
import { pathOf, routeOf } from '../src/web/route.ts';
import { sortQuery } from '../src/web/sort.ts';

describe('console routes', () => {
  it('reads every page path, and only those', () => {
    expect(routeOf('/console')).toEqual({ page: 'overview' });
    expect(routeOf('/console/')).toEqual({ page: 'overview' });
    expect(routeOf('/console/sign-in')).toEqual({ page: 'signIn' });
    expect(routeOf('/console/schools/yz-bashu')).toEqual({ page: 'school', school: 'yz-bashu' });
    expect(routeOf(pathOf.school('渝中-1'))).toEqual({ page: 'school', school: '渝中-1' });
    expect(routeOf('/console/devices')).toEqual({ page: 'devices' });
    expect(routeOf(pathOf.device('a b'))).toEqual({ page: 'device', device: 'a b' });
    expect(routeOf('/console/gateways')).toEqual({ page: 'gateways' });
    expect(routeOf('/console/inventory')).toEqual({ page: 'inventory' });
    for (const p of ['/console/nope', '/console/devices/a/b', '/console/schools', '/consoles', '/console/devices/%E0%A4%A']) expect([p, routeOf(p)]).toEqual([p, { page: 'notFound' }]);
  });
});

describe('console figures as shown', () => {
  it('formats ratios, rates and telemetry with units', () => {
    expect([percent(0.98765), percent(null), percent(0)]).toEqual(['98.8%', '—', '0.0%']);
    expect([bps(999), bps(1000), bps(250_000_000), bps(1e9), bps(null)]).toEqual(['999 bit/s', '1.0 kbit/s', '250.0 Mbit/s', '1.0 Gbit/s', '—']);
    expect([telemetryValue('temperature_c', 41.256), telemetryValue('lamp_hours', 10), telemetryValue('battery_pct', 80), telemetryValue('utilisation', 0.5), telemetryValue('rx_bps', 2500), telemetryValue('touch_ok', true), telemetryValue('active_input', 'hdmi1')]).toEqual(['41.26 °C', '10 h', '80 %', '50.0%', '2.5 kbit/s', '✓', 'hdmi1']);
    expect(buckets(0, 5, 2)).toEqual([[0, 2], [2, 4], [4, 5]]);
  });

  it('has every label in both languages and keeps the language chosen', () => {
    for (const k of LABEL_KEYS) expect(labelPair(k).every((s) => s.length > 0), k).toBe(true);
    expect([label('zh', 'devices'), label('en', 'devices'), label('en', 'backoff', { s: 4 })]).toEqual(['设备', 'Devices', 'Too many failed attempts: try again in 4 s']);
    expect([nameOf('zh', { nameZh: '渝中区', nameEn: 'Yuzhong' }), nameOf('en', { nameZh: '渝中区', nameEn: 'Yuzhong' }), nameOf('en', { nameZh: '巴蜀小学', nameEn: '' })]).toEqual(['渝中区', 'Yuzhong', '巴蜀小学']);
    expect([storedLang({ getItem: () => 'en' }), storedLang({ getItem: () => null }), storedLang({ getItem: () => 'fr' }), storedLang(undefined)]).toEqual(['en', 'zh', 'zh', 'zh']);
  });

  it('asks the API for the order of a column: nothing for id ascending', () => {
    expect([sortQuery('id', 1), sortQuery('id', -1), sortQuery('state', 1), sortQuery('since', -1)]).toEqual([{}, { sort: 'id', order: 'desc' }, { sort: 'state' }, { sort: 'since', order: 'desc' }]);
  });
});

describe('the console\'s copies of the protocol\'s lists', () => {
  it('has the protocol\'s actions and inputs, and switch_input for the kinds the protocol gives it', () => {
    expect(COMMAND_ACTIONS).toEqual(PROTOCOL_ACTIONS);
    expect(COMMAND_INPUTS).toEqual(PROTOCOL_INPUTS);
    expect([...INPUT_KINDS].sort()).toEqual(PROTOCOL_KINDS.filter((k) => actionAppliesTo('switch_input', k)).sort());
    // Every action has a label in both languages.
    for (const a of COMMAND_ACTIONS) expect(LABEL_KEYS).toContain(`action.${a}`);
    expect([label('zh', 'action.switch_input'), label('en', 'action.switch_input')]).toEqual(['切换信号源', 'Switch input']);
  });

  it('has every kind of the protocol, each with a label', () => {
    expect([...DEVICE_KINDS].sort()).toEqual([...PROTOCOL_KINDS].sort());
    for (const k of DEVICE_KINDS) expect(LABEL_KEYS).toContain(`kind.${k}`);
    expect([label('zh', 'kind.science_kiosk'), label('en', 'kind.science_kiosk')]).toEqual(['科普终端', 'Science kiosk']);
  });
});
