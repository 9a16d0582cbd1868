import { PRINCIPALS, type PrincipalName } from '../../../tests/harness/api.ts';
import type { Page, PageRequest, Registry } from '../../src/registry.ts';

/** The principals in the order of the status tables' columns. */
export const WHO = Object.keys(PRINCIPALS) as PrincipalName[];

/**
 * One row of a status table: the expected status of each principal, in the order of `WHO`
 * (city yzOperator jbOperator bashuIt s02It jbIt cityViewer yzViewer bashuViewer).
 */
export function statuses(row: string): Record<PrincipalName, number> {
  const n = row.trim().split(/\s+/).map(Number);
  if (n.length !== WHO.length) throw new Error(`a status row needs ${WHO.length} columns: ${row}`);
  return Object.fromEntries(WHO.map((w, i) => [w, n[i]!])) as Record<PrincipalName, number>;
}

/** Every item of a listing, page after page. */
export function all<T>(list: (p: PageRequest) => Page<T>): T[] {
  const out: T[] = [];
  let cursor: string | undefined;
  do {
    const p = list({ limit: 1000, cursor });
    out.push(...p.items);
    cursor = p.nextCursor ?? undefined;
  } while (cursor !== undefined);
  return out;
}

/** The registry's org and fleet records read back (not the audit log, not a token's last use). */
export function snapshot(reg: Registry): string {
  const schools = all((p) => reg.listSchools(p));
  const users = all((p) => reg.listUsers(p));
  return JSON.stringify({
    districts: all((p) => reg.listDistricts(p)),
    schools,
    rooms: schools.map((s) => reg.listRooms(s.id)),
    users,
    tokens: users.map((u) => reg.listTokens(u.id).map(({ lastUsedAt: _, ...t }) => t)),
    devices: all((p) => reg.listDevices({ ...p, includeRetired: true })),
  });
}

/** The audit outcome a status stands for. */
export function outcomeFor(status: number): string {
  if (status < 300) return 'ok';
  return ({ 400: 'invalid', 403: 'forbidden', 404: 'not_found', 409: 'conflict', 422: 'invalid' } as Record<number, string>)[status] ?? `status ${status}`;
}
