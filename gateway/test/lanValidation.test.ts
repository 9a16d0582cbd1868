import { describe, expect, it } from 'vitest';
import { validateCommandResult, validatePayload, validateSample, type PayloadSchema } from '../src/lanValidation.ts';
import { boardSample } from './lanRig.ts';

const T0 = Date.UTC(2026, 2, 3, 1, 0);
const MAX = 256;
const throwing: PayloadSchema<never> = {
  safeParse() {
    throw new RangeError('validator blew up');
  },
};

describe('lanValidation: a LAN payload → a typed value or why not', () => {
  it.each([
    ['oversize', 'x'.repeat(MAX + 1), { ok: false, reason: 'oversize_payload', detail: `${MAX + 1} bytes` }],
    ['exactly the bound is not oversize (but not JSON)', 'x'.repeat(MAX), { ok: false, reason: 'malformed_json', detail: 'not JSON' }],
    ['malformed JSON', '{"device":', { ok: false, reason: 'malformed_json', detail: 'not JSON' }],
    ['JSON but not a sample', '{"device":"b1"}', { ok: false, reason: 'invalid_sample' }],
    ['an unknown field', JSON.stringify({ ...JSON.parse(boardSample('b1', 1, T0)), extra: 1 }), { ok: false, reason: 'invalid_sample' }],
  ])('%s', (_name, payload, expected) => {
    expect(validateSample(Buffer.from(payload), MAX)).toMatchObject(expected);
  });

  it('a validator that throws is a refusal with its message, never a throw', () => {
    expect(validatePayload(Buffer.from('{}'), MAX, throwing)).toEqual({ ok: false, reason: 'invalid_sample', detail: 'validator blew up' });
  });

  it('a good sample comes back typed, as sent', () => {
    expect(validateSample(boardSample('b1', 7, T0), MAX)).toEqual({
      ok: true,
      value: { device: 'b1', kind: 'interactive_board', seq: 7, ts: T0, data: { power: 'on', touchOk: true, activeInput: 'ops', firmware: 'v1' } },
    });
  });

  it('a command result: valid, invalid, oversize', () => {
    const good = { v: 1, id: 'cmd-0001', device: 'b1', status: 'done' };
    expect(validateCommandResult(Buffer.from(JSON.stringify(good)), MAX)).toEqual({ ok: true, value: good });
    expect(validateCommandResult(Buffer.from(JSON.stringify({ ...good, status: 'maybe' })), MAX)).toMatchObject({ ok: false, reason: 'invalid_sample' });
    expect(validateCommandResult(Buffer.from(JSON.stringify({ ...good, detail: 'y'.repeat(MAX) })), MAX)).toMatchObject({ ok: false, reason: 'oversize_payload' });
  });
});
