import type { Principal, Resource } from '../auth/authorize.ts';
import type { District, Registry, School } from '../registry.ts';
import { notFound } from './apiError.ts';
import type { RouteContext } from './route.ts';

/**
 * Lookups that answer 404 alike for a record that does not exist and one outside the caller's
 * scope (the same message), and the narrowing of a list's filters to the caller's scope.
 */
export type Ctx = Pick<RouteContext<unknown, unknown, unknown, unknown>, 'principal' | 'allow'>;

/** `record` if the caller may read it; 404 with the same message when it is missing or out of scope. */
export function visible<T>(ctx: Ctx, what: string, record: T | undefined, where: (r: T) => Resource): T {
  if (record === undefined) throw notFound(what);
  ctx.allow('read', where(record), what);
  return record;
}

export const districtIn = (ctx: Ctx, reg: Registry, id: string): District => visible(ctx, `district ${id}`, reg.getDistrict(id), (d) => ({ district: d.id }));

export const schoolIn = (ctx: Ctx, reg: Registry, id: string): School => visible(ctx, `school ${id}`, reg.getSchool(id), (s) => ({ district: s.district, school: s.id }));

export const schoolScope = (s: Pick<School, 'district' | 'id'>): Resource => ({ district: s.district, school: s.id });

/**
 * Whether `r` lies inside the caller's scope (not above it). Users and audit entries are
 * shown only there: a school's IT sees its school's users, not the city's administrators.
 */
export function within(p: Principal, r: Resource): boolean {
  if (p.district === null) return true;
  if ((r.district ?? null) !== p.district) return false;
  return p.school === null || (r.school ?? null) === p.school;
}

/**
 * The filters of a scoped list: a named district or school must be visible (else 404), and
 * the caller's own scope is always added, so that a list never leaves it.
 */
export function scopedFilter(ctx: Ctx, reg: Registry, q: { district?: string | undefined; school?: string | undefined }): { district?: string; school?: string } {
  if (q.district !== undefined) districtIn(ctx, reg, q.district);
  if (q.school !== undefined) schoolIn(ctx, reg, q.school);
  const p = ctx.principal;
  const district = p.district ?? q.district;
  const school = p.school ?? q.school;
  return { ...(district === undefined ? {} : { district }), ...(school === undefined ? {} : { school }) };
}

/** The registry's `q` rule (case-insensitive substring of any field) for a single record. */
export function matchesQ(q: string | undefined, fields: ReadonlyArray<string | null>): boolean {
  if (q === undefined) return true;
  const needle = q.toLowerCase();
  return fields.some((f) => f !== null && f.toLowerCase().includes(needle));
}

/** Drops keys whose value is undefined, so that a patch never clears a field it does not name. */
export const defined = <T extends object>(o: T): Partial<T> => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
