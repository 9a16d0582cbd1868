import { describe, expect, it } from 'vitest';
import { telemetryBatchEnvelopeSchema, telemetryRecordSchema } from '../../protocol/src/telemetry.ts';
import { telemetryTopic } from '../../protocol/src/topics.ts';
import { loadHubConfig } from '../src/config.ts';

/**
 * The largest telemetry batch the protocol allows, built by hand: the envelope's 10 000 records
 * (its max), each the longest valid record (a device id of 128 three-byte characters, the longest
 * number forms, every optional field).
 */
function largestValidBatch(): string {
  const device = '渝'.repeat(128);
  const common = { device, seq: Number.MAX_SAFE_INTEGER, ts: Date.UTC(2099, 11, 31, 23, 59, 59, 999), rx: -Number.MAX_SAFE_INTEGER, hist: false };
  const candidates = [
    { ...common, kind: 'classroom_av', data: { power: 'standby', lampHours: 199999.12345678901, temperatureC: -39.123456789012345, inSession: false, streamKbps: 999999.1234567891, streamLossPct: 1.2345678901234567e-7 } },
    { ...common, kind: 'interactive_board', data: { power: 'standby', touchOk: false, activeInput: 'usb-c', firmware: '"'.repeat(64) } },
    { ...common, kind: 'network_node', data: { role: 'district_uplink', capacityBps: 399_999_999_999, octetsIn: '18446744073709551615', octetsOut: '18446744073709551615', operUp: false }, rate: { rxBps: 1.2345678901234567e300, txBps: 1.2345678901234567e300 } },
    { ...common, kind: 'availability', deviceKind: 'interactive_board', state: 'down' },
  ];
  for (const r of candidates) expect(telemetryRecordSchema.safeParse(r).success, r.kind).toBe(true);
  const longest = candidates.reduce((a, b) => (JSON.stringify(b).length > JSON.stringify(a).length ? b : a));
  const batch = { v: 1, gateway: 'g'.repeat(64), batch: 'b'.repeat(64), records: Array.from({ length: 10_000 }, () => longest) };
  expect(telemetryBatchEnvelopeSchema.safeParse(batch).success).toBe(true);
  return JSON.stringify(batch);
}

describe('default payload and packet limits', () => {
  it("fit the protocol's largest valid telemetry batch, and the packet limit fits the payload limit", () => {
    const bytes = Buffer.byteLength(largestValidBatch());
    const { hub } = loadHubConfig({});
    expect(hub.limits.maxPayloadBytes).toBeGreaterThanOrEqual(bytes);
    const topic = Buffer.byteLength(telemetryTopic({ district: 'd'.repeat(64), school: 's'.repeat(64), gateway: 'g'.repeat(64) }));
    // A QoS 1 PUBLISH: 2 bytes of topic length, the topic, 2 of message id, the payload.
    expect(hub.mqttLimits!.maxPacketBytes).toBeGreaterThanOrEqual(2 + topic + 2 + hub.limits.maxPayloadBytes);
  });
});
