/**
 * Who may do what, and where (docs/design.md#security). One pure function decides every request
 * of the management API; the rule for a resource outside the caller's scope is one rule for
 * reads and writes alike: it does not exist for the caller (404), so that ids of other schools
 * do not leak. A resource inside the scope that the caller's role may not change is 403.
 */
export type Role = 'city_admin' | 'district_operator' | 'school_it' | 'viewer';
export const ROLES: readonly Role[] = ['city_admin', 'district_operator', 'school_it', 'viewer'];

/** The caller: a user (through one of its tokens or a console session) with one role at one scope. */
export interface Principal {
  user: string;
  /** The token that authenticated the request, when it was a token. */
  token?: string | undefined;
  /** The console session that authenticated the request, when it was a session cookie. */
  session?: string | undefined;
  role: Role;
  /** null for the city; a school-scoped principal has both. */
  district: string | null;
  school: string | null;
}

export const ACTIONS = [
  /** Any read: lists, records, status, figures, audit, the event stream. */
  'read',
  /** Districts: create, rename, delete. */
  'district.write',
  /** Schools of a district: create, rename, delete, timetable, uplink capacity. */
  'school.write',
  /** Rooms, devices (create, update, retire, move) and a school's inventory import. */
  'device.write',
  /** Gateways and their credentials: create, rotate, revoke, reinstate, delete. */
  'gateway.write',
  /** Commands to devices. */
  'command.send',
  /** Users and their tokens (the resource is the user's scope). */
  'user.write',
] as const;
export type Action = (typeof ACTIONS)[number];

/** Where a resource lives: `{}` is city-wide (the list of districts, a city admin user). */
export interface Resource {
  district?: string | null | undefined;
  school?: string | null | undefined;
}

export type Decision = 'allow' | 'forbidden' | 'not_found';

/** The lowest scope at which each role may take each action; absent: never. */
const WRITES: Record<Role, Partial<Record<Exclude<Action, 'read'>, 'city' | 'district' | 'school'>>> = {
  city_admin: { 'district.write': 'city', 'school.write': 'city', 'device.write': 'city', 'gateway.write': 'city', 'command.send': 'city', 'user.write': 'city' },
  district_operator: { 'school.write': 'district', 'device.write': 'district', 'gateway.write': 'district', 'command.send': 'district', 'user.write': 'district' },
  school_it: { 'device.write': 'school', 'gateway.write': 'school', 'command.send': 'school' },
  viewer: {},
};

type Visibility = 'inside' | 'above' | 'outside';

/**
 * Where the resource sits against the caller's scope: inside it, above it (a city-wide resource
 * for a district, or the school's own district for a school: visible, never changeable), or
 * outside it (another district or school: hidden).
 */
function place(p: Principal, r: Resource): Visibility {
  const district = r.district ?? null;
  const school = r.school ?? null;
  if (p.district === null) return 'inside';
  if (district === null) return school === null ? 'above' : 'outside';
  if (district !== p.district) return 'outside';
  if (p.school === null) return 'inside';
  if (school === null) return 'above';
  return school === p.school ? 'inside' : 'outside';
}

export function authorize(p: Principal, action: Action, r: Resource): Decision {
  const where = place(p, r);
  if (where === 'outside') return 'not_found';
  if (action === 'read') return 'allow';
  if (where === 'above') return 'forbidden';
  const lowest = WRITES[p.role][action];
  if (lowest === undefined) return 'forbidden';
  // A write needs the caller's own scope to be at least as wide as the action requires.
  const scope = p.school !== null ? 'school' : p.district !== null ? 'district' : 'city';
  const rank = { city: 0, district: 1, school: 2 } as const;
  return rank[scope] <= rank[lowest] ? 'allow' : 'forbidden';
}
