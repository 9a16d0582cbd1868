import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ACTIONS, authorize, ROLES, type Decision, type Principal, type Resource } from '../../src/auth/authorize.ts';

/**
 * The whole matrix of roles × scopes × actions × where the resource is, written out by hand:
 * one string per principal and resource, one letter per action in ACTIONS order (read,
 * district.write, school.write, device.write, gateway.write, command.send, user.write):
 * a = allow, f = forbidden (403), n = not found (404: outside the caller's scope).
 */
const RESOURCES: Record<string, Resource> = {
  city: {},
  A: { district: 'A' },
  'A/a1': { district: 'A', school: 'a1' },
  'A/a2': { district: 'A', school: 'a2' },
  B: { district: 'B' },
  'B/b1': { district: 'B', school: 'b1' },
};

const P = (role: Principal['role'], district: string | null, school: string | null): Principal => ({ user: 'u', role, district, school });

const MATRIX: Array<[string, Principal, Record<keyof typeof RESOURCES, string>]> = [
  ['city admin', P('city_admin', null, null), { city: 'aaaaaaa', A: 'aaaaaaa', 'A/a1': 'aaaaaaa', 'A/a2': 'aaaaaaa', B: 'aaaaaaa', 'B/b1': 'aaaaaaa' }],
  ['district operator of A', P('district_operator', 'A', null), { city: 'affffff', A: 'afaaaaa', 'A/a1': 'afaaaaa', 'A/a2': 'afaaaaa', B: 'nnnnnnn', 'B/b1': 'nnnnnnn' }],
  ['school IT of A/a1', P('school_it', 'A', 'a1'), { city: 'affffff', A: 'affffff', 'A/a1': 'affaaaf', 'A/a2': 'nnnnnnn', B: 'nnnnnnn', 'B/b1': 'nnnnnnn' }],
  ['viewer of the city', P('viewer', null, null), { city: 'affffff', A: 'affffff', 'A/a1': 'affffff', 'A/a2': 'affffff', B: 'affffff', 'B/b1': 'affffff' }],
  ['viewer of A', P('viewer', 'A', null), { city: 'affffff', A: 'affffff', 'A/a1': 'affffff', 'A/a2': 'affffff', B: 'nnnnnnn', 'B/b1': 'nnnnnnn' }],
  ['viewer of A/a1', P('viewer', 'A', 'a1'), { city: 'affffff', A: 'affffff', 'A/a1': 'affffff', 'A/a2': 'nnnnnnn', B: 'nnnnnnn', 'B/b1': 'nnnnnnn' }],
];

const LETTER: Record<Decision, string> = { allow: 'a', forbidden: 'f', not_found: 'n' };

describe('authorize: roles × scopes × actions', () => {
  it('has seven actions and four roles (the matrix covers them all)', () => {
    expect(ACTIONS).toHaveLength(7);
    expect(new Set(MATRIX.map(([, p]) => p.role))).toEqual(new Set(ROLES));
  });

  for (const [name, principal, row] of MATRIX) {
    for (const [where, expected] of Object.entries(row)) {
      it(`${name} on ${where}: ${expected}`, () => {
        const got = ACTIONS.map((a) => LETTER[authorize(principal, a, RESOURCES[where]!)]).join('');
        expect(got).toBe(expected);
      });
    }
  }

  it('a resource naming a school without its district is outside every scoped principal', () => {
    expect(authorize(P('school_it', 'A', 'a1'), 'read', { school: 'a1' })).toBe('not_found');
    expect(authorize(P('district_operator', 'A', null), 'read', { school: 'a1' })).toBe('not_found');
    expect(authorize(P('city_admin', null, null), 'read', { school: 'a1' })).toBe('allow');
  });

  it('for any principal and resource: hidden from reads means hidden from every action, and a write allowed means reads allowed', () => {
    const id = fc.constantFrom('A', 'B', 'C');
    const school = fc.constantFrom('a1', 'a2', 'b1');
    const principal = fc.oneof(
      fc.constant(P('city_admin', null, null)),
      id.map((d) => P('district_operator', d, null)),
      fc.tuple(id, school).map(([d, s]) => P('school_it', d, s)),
      fc.tuple(fc.option(id, { nil: null }), fc.option(school, { nil: null })).map(([d, s]) => P('viewer', d, d === null ? null : s)),
    );
    const resource = fc.record({ district: fc.option(id, { nil: undefined }), school: fc.option(school, { nil: undefined }) });
    fc.assert(
      fc.property(principal, resource, (p, r) => {
        const read = authorize(p, 'read', r);
        for (const a of ACTIONS) {
          const d = authorize(p, a, r);
          if (read === 'not_found') expect(d).toBe('not_found');
          if (d === 'allow') expect(read).toBe('allow');
          if (p.role === 'viewer' && a !== 'read') expect(d).not.toBe('allow');
        }
      }),
      { numRuns: 2000 },
    );
  });
});
