import { describe, expect, it } from 'vitest';
import { actionAppliesTo, actionKindProblem, COMMAND_ACTIONS, COMMAND_INPUTS, commandInputProblem, commandRequestSchema, commandResultSchema, lanCommandSchema } from '../src/commands.ts';
import { DEVICE_KINDS, interactiveBoardDataSchema } from '../src/kinds.ts';

const ID = 'cmd-12345678';
const request = (patch: Record<string, unknown>) => ({ v: 1, id: ID, device: 'b-1', action: 'reboot', issuedAt: 1_700_000_000_000, ttlMs: 60_000, ...patch });
const result = (patch: Record<string, unknown>) => ({ v: 1, id: ID, device: 'b-1', action: 'reboot', issuedAt: 1_700_000_000_000, status: 'done', at: 1_700_000_000_500, ...patch });
const lan = (patch: Record<string, unknown>) => ({ v: 1, id: ID, device: 'b-1', action: 'reboot', ttlMs: 59_000, ...patch });
const SCHEMAS = [
  ['commandRequestSchema', commandRequestSchema, request],
  ['commandResultSchema', commandResultSchema, result],
  ['lanCommandSchema', lanCommandSchema, lan],
] as const;

/** The issues of a refused payload, as `path: message`. */
const issues = (r: { success: boolean; error?: { issues: Array<{ path: PropertyKey[]; message: string }> } }) => r.error?.issues.map((i) => `${i.path.join('.')}: ${i.message}`);

describe('switch_input and its input', () => {
  it('lists the actions and inputs, the inputs being the board\'s activeInput values but none', () => {
    expect(COMMAND_ACTIONS).toEqual(['reboot', 'power_on', 'power_off', 'standby', 'switch_input']);
    expect(COMMAND_INPUTS).toEqual(['hdmi1', 'hdmi2', 'ops', 'usb-c', 'vga']);
    expect(interactiveBoardDataSchema.shape.activeInput.options).toEqual(['hdmi1', 'hdmi2', 'ops', 'usb-c', 'vga', 'none']);
  });

  for (const [name, schema, make] of SCHEMAS) {
    it(`${name}: accepts switch_input with each input, and the other actions without one`, () => {
      for (const input of ['hdmi1', 'hdmi2', 'ops', 'usb-c', 'vga']) expect(schema.parse(make({ action: 'switch_input', input }))).toMatchObject({ action: 'switch_input', input });
      for (const action of ['reboot', 'power_on', 'power_off', 'standby']) {
        const parsed = schema.parse(make({ action }));
        expect(parsed.action).toBe(action);
        expect('input' in parsed).toBe(false);
      }
    });

    it(`${name}: refuses switch_input without an input, an input on another action, an unknown input, an unknown key`, () => {
      expect(issues(schema.safeParse(make({ action: 'switch_input' })))).toEqual(['input: switch_input needs an input']);
      expect(issues(schema.safeParse(make({ action: 'reboot', input: 'hdmi2' })))).toEqual(['input: reboot takes no input (only switch_input has one)']);
      expect(issues(schema.safeParse(make({ action: 'standby', input: 'vga' })))).toEqual(['input: standby takes no input (only switch_input has one)']);
      expect(schema.safeParse(make({ action: 'switch_input', input: 'hdmi3' })).success).toBe(false);
      expect(schema.safeParse(make({ action: 'switch_input', input: 'none' })).success).toBe(false);
      expect(schema.safeParse(make({ action: 'switch_input', input: 'HDMI2' })).success).toBe(false);
      expect(schema.safeParse(make({ action: 'switch_input', input: null })).success).toBe(false);
      expect(schema.safeParse(make({ action: 'switch_input', input: 'hdmi2', source: 'hdmi2' })).success).toBe(false);
    });
  }

  it('commandInputProblem says which rule is broken, and nothing when the input fits', () => {
    expect(commandInputProblem({ action: 'switch_input' })).toBe('switch_input needs an input');
    expect(commandInputProblem({ action: 'power_off', input: 'ops' })).toBe('power_off takes no input (only switch_input has one)');
    expect(commandInputProblem({ action: 'switch_input', input: 'ops' })).toBeUndefined();
    expect(commandInputProblem({ action: 'reboot' })).toBeUndefined();
  });

  it('actionAppliesTo: switch_input for boards and classroom AV only, every other action for every kind', () => {
    // Written out by hand: [action, kind] → applies.
    const table: Record<string, Record<string, boolean>> = {
      reboot: { classroom_av: true, interactive_board: true, vr_kit: true, network_node: true, science_kiosk: true },
      power_on: { classroom_av: true, interactive_board: true, vr_kit: true, network_node: true, science_kiosk: true },
      power_off: { classroom_av: true, interactive_board: true, vr_kit: true, network_node: true, science_kiosk: true },
      standby: { classroom_av: true, interactive_board: true, vr_kit: true, network_node: true, science_kiosk: true },
      switch_input: { classroom_av: true, interactive_board: true, vr_kit: false, network_node: false, science_kiosk: false },
    };
    const seen: Record<string, Record<string, boolean>> = {};
    for (const a of COMMAND_ACTIONS) for (const k of DEVICE_KINDS) (seen[a] ??= {})[k] = actionAppliesTo(a, k);
    expect(seen).toEqual(table);
    expect(actionKindProblem('switch_input', 'vr_kit')).toBe('switch_input is not for a vr_kit (only interactive_board, classroom_av)');
    expect(actionKindProblem('switch_input', 'classroom_av')).toBeUndefined();
    expect(actionKindProblem('reboot', 'network_node')).toBeUndefined();
  });
});
