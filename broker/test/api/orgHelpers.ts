import { expect } from 'vitest';
import { PRINCIPALS, type ApiRig, type PrincipalName } from '../../../tests/harness/api.ts';
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

/** One endpoint called as every principal, with the statuses expected of each. */
export interface AccessCase {
  name: string;
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  path: (who: PrincipalName) => string;
  body?: (who: PrincipalName) => unknown;
  headers?: Record<string, string>;
  /** city yzOperator jbOperator bashuIt s02It jbIt cityViewer yzViewer bashuViewer */
  expect: string;
  /** Registry writes before the call (a target of its own for each principal). */
  setup?: (rig: ApiRig, who: PrincipalName) => void;
  /** The audit action of a change (of its success, when `okAction` differs); reads have none. */
  action?: string;
  okAction?: string;
  /** The audit outcome of a success when not `ok` (a command's is its status). */
  okOutcome?: string;
  /** A success also written in this school's scope (a move: the destination's). */
  okAlsoIn?: string;
  /** On success: what changed. */
  check?: (rig: ApiRig, who: PrincipalName, body: unknown) => void;
}

/**
 * Calls `c` as every principal and checks, for each whose status is the expected one: a refusal
 * or a read changed nothing in `snap` (the registry read back), a change did; an error has the
 * one error body; a read left no audit entry, a change or refusal exactly one naming the caller
 * (in `auditSchool`'s scope when given). The statuses of all principals are compared at the end,
 * so one failure reports the whole row.
 */
export async function runAccessCase(rig: ApiRig, c: AccessCase, snap: (reg: Registry) => string, auditSchool?: string): Promise<void> {
  const want = statuses(c.expect);
  const got: Record<string, number> = {};
  for (const who of WHO) {
    c.setup?.(rig, who);
    const before = snap(rig.registry);
    const lastAudit = rig.registry.listAudit({ limit: 1 }).items[0]?.id ?? 0;
    const r = await rig.call(who, c.method, c.path(who), c.body?.(who), c.headers);
    got[who] = r.status;
    if (r.status !== want[who]) continue; // reported below, all principals at once
    const after = snap(rig.registry);
    if (r.status >= 300 || c.action === undefined) expect(after, `${who}: nothing changed`).toBe(before);
    else expect(after, `${who}: the change is in the registry`).not.toBe(before);
    if (r.status >= 400) expect(r.body, who).toMatchObject({ code: expect.stringMatching(/^HUB_ERR_/), message: expect.any(String), details: expect.any(Object) });
    else c.check?.(rig, who, r.body);
    const entries = rig.registry.listAudit({ order: 'asc', limit: 1000 }).items.filter((e) => e.id > lastAudit);
    if (c.action === undefined) {
      expect(entries, `${who}: a read is not audited`).toEqual([]);
      continue;
    }
    const ok = r.status < 300;
    const entry = { actor: `user:u-${who}`, action: ok ? (c.okAction ?? c.action) : c.action, outcome: ok ? (c.okOutcome ?? 'ok') : outcomeFor(r.status) };
    expect(entries, who).toMatchObject(ok && c.okAlsoIn ? [entry, { ...entry, school: c.okAlsoIn }] : [entry]);
    if (auditSchool !== undefined) expect(entries[0]!.school, `${who}: the entry is in the school's scope`).toBe(auditSchool);
  }
  expect(got).toEqual(want);
}
