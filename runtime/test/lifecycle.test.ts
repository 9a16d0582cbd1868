import { describe, expect, it } from 'vitest';
import { CodedError } from '../src/errors.ts';
import { Lifecycle, type LifecycleFault } from '../src/lifecycle.ts';

const CODES: Record<LifecycleFault, string> = { started_twice: 'X_ERR_STARTED_TWICE', not_started: 'X_ERR_NOT_STARTED', stopped: 'X_ERR_STOPPED' };
const make = () => new Lifecycle('thing', (f, m) => new CodedError(CODES[f], m));
const codeOf = (fn: () => void): string | undefined => {
  try {
    fn();
  } catch (e) {
    return (e as CodedError).code;
  }
  return undefined;
};

describe('Lifecycle', () => {
  it('goes new → starting → running → stopping → stopped', () => {
    const l = make();
    expect(l.state).toBe('new');
    l.beginStart();
    expect(l.state).toBe('starting');
    l.started();
    expect(l.running).toBe(true);
    expect(l.beginStop()).toBe(true);
    expect(l.state).toBe('stopping');
    l.stopped();
    expect(l.state).toBe('stopped');
  });

  it('refuses a second start, before and after stop', () => {
    const l = make();
    l.beginStart();
    expect(codeOf(() => l.beginStart())).toBe('X_ERR_STARTED_TWICE');
    l.started();
    expect(codeOf(() => l.beginStart())).toBe('X_ERR_STARTED_TWICE');
    l.beginStop();
    l.stopped();
    expect(codeOf(() => l.beginStart())).toBe('X_ERR_STARTED_TWICE');
  });

  it('names use before start and use after stop with their own codes', () => {
    const l = make();
    expect(codeOf(() => l.assertRunning('send'))).toBe('X_ERR_NOT_STARTED');
    l.beginStart();
    expect(codeOf(() => l.assertRunning('send'))).toBe('X_ERR_NOT_STARTED');
    expect(codeOf(() => l.assertRunning('send', true))).toBeUndefined();
    l.started();
    expect(codeOf(() => l.assertRunning('send'))).toBeUndefined();
    l.beginStop();
    expect(codeOf(() => l.assertRunning('send'))).toBe('X_ERR_STOPPED');
    l.stopped();
    expect(codeOf(() => l.assertRunning('send'))).toBe('X_ERR_STOPPED');
  });

  it('stop is idempotent, and a stop before start has nothing to undo', () => {
    const never = make();
    expect(never.beginStop()).toBe(false);
    never.stopped();
    const l = make();
    l.beginStart();
    l.started();
    expect(l.beginStop()).toBe(true);
    expect(l.beginStop()).toBe(false);
    l.stopped();
    expect(l.beginStop()).toBe(false);
  });
});
