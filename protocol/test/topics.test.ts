import { describe, expect, it } from 'vitest';
import {
  commandFilter,
  gatewayPrefix,
  HUB_ROOT,
  LAN_TELEMETRY_TOPIC,
  parseGatewayTopic,
  stateTopic,
  telemetryTopic,
  type GatewayAddress,
} from '../src/topics.ts';

const YUZHONG: GatewayAddress = { district: '渝中区', school: 'S01', gateway: 'G01' };

describe('topic builders', () => {
  it('has the documented roots', () => {
    expect(HUB_ROOT).toBe('campus/v1');
    expect(LAN_TELEMETRY_TOPIC).toBe('lan/v1/telemetry');
  });

  it('builds prefix, telemetry, state and command filter with a Chinese district', () => {
    expect(gatewayPrefix(YUZHONG)).toBe('campus/v1/渝中区/S01/G01');
    expect(telemetryTopic(YUZHONG)).toBe('campus/v1/渝中区/S01/G01/telemetry');
    expect(stateTopic(YUZHONG)).toBe('campus/v1/渝中区/S01/G01/state');
    expect(commandFilter(YUZHONG)).toBe('campus/v1/渝中区/S01/G01/cmd/#');
  });
});

describe('parseGatewayTopic', () => {
  it('parses telemetry and state topics with a Chinese district and no rest', () => {
    expect(parseGatewayTopic('campus/v1/渝中区/S01/G01/telemetry')).toEqual({
      district: '渝中区',
      school: 'S01',
      gateway: 'G01',
      channel: 'telemetry',
      rest: [],
    });
    expect(parseGatewayTopic('campus/v1/江北区/巴蜀小学/网关-1/state')).toEqual({
      district: '江北区',
      school: '巴蜀小学',
      gateway: '网关-1',
      channel: 'state',
      rest: [],
    });
  });

  it('round-trips the builders', () => {
    expect(parseGatewayTopic(telemetryTopic(YUZHONG))).toEqual({ ...YUZHONG, channel: 'telemetry', rest: [] });
    expect(parseGatewayTopic(stateTopic(YUZHONG))).toEqual({ ...YUZHONG, channel: 'state', rest: [] });
  });

  it('keeps the levels after cmd and cmdres in rest', () => {
    expect(parseGatewayTopic('campus/v1/D1/S01/G01/cmd/reboot/now')).toEqual({
      district: 'D1',
      school: 'S01',
      gateway: 'G01',
      channel: 'cmd',
      rest: ['reboot', 'now'],
    });
    expect(parseGatewayTopic('campus/v1/D1/S01/G01/cmdres/c-17')).toEqual({
      district: 'D1',
      school: 'S01',
      gateway: 'G01',
      channel: 'cmdres',
      rest: ['c-17'],
    });
    expect(parseGatewayTopic('campus/v1/D1/S01/G01/cmd')?.rest).toEqual([]);
  });

  it.each([
    ['wildcard + in district', 'campus/v1/+/S01/G01/telemetry'],
    ['wildcard + in gateway', 'campus/v1/D1/S01/+/state'],
    ['wildcard # after cmd', 'campus/v1/D1/S01/G01/cmd/#'],
    ['wildcard + after cmdres', 'campus/v1/D1/S01/G01/cmdres/+'],
    ['unknown channel', 'campus/v1/D1/S01/G01/status'],
    ['channel with different case', 'campus/v1/D1/S01/G01/Telemetry'],
    ['only five levels', 'campus/v1/D1/S01/G01'],
    ['wrong version', 'campus/v2/D1/S01/G01/telemetry'],
    ['wrong root', 'school/v1/D1/S01/G01/telemetry'],
    ['LAN topic', 'lan/v1/telemetry'],
    ['empty district level', 'campus/v1//S01/G01/telemetry'],
    ['empty gateway level', 'campus/v1/D1/S01//telemetry'],
    ['extra level after telemetry', 'campus/v1/D1/S01/G01/telemetry/extra'],
    ['trailing slash after telemetry', 'campus/v1/D1/S01/G01/telemetry/'],
    ['extra level after state', 'campus/v1/D1/S01/G01/state/x'],
    ['leading slash', '/campus/v1/D1/S01/G01/telemetry'],
    ['empty string', ''],
  ])('returns null for %s', (_what, topic) => {
    expect(parseGatewayTopic(topic)).toBeNull();
  });
});
