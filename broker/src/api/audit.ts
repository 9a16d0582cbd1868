import type { Principal } from '../auth/authorize.ts';
import { RegistryConflictError, RegistryInvalidError } from '../errors.ts';
import { toError } from '../../../runtime/src/errors.ts';
import { ApiError } from './apiError.ts';
import type { ApiBase } from './app.ts';

/**
 * The audit entry of a change made through the API: who (`user:<id>`), what, on which target,
 * and how it ended. A refused change that reached its handler is written too, with the
 * refusal as its outcome, so that an attempt outside a caller's rights is on record.
 */
export type Outcome = 'ok' | 'conflict' | 'invalid' | 'not_found' | 'forbidden' | 'error';

export interface Change {
  /** `district.create`, `school.timetable.set`, … */
  action: string;
  /** `district:<id>`, `school:<id>`, `room:<school>/<id>`, `user:<id>`, `token:<id>`, … */
  target: string;
  /** The target's scope: whoever can see that scope sees the entry. */
  district?: string | null | undefined;
  school?: string | null | undefined;
  detail?: string | undefined;
}

export function outcomeOf(e: unknown): Outcome {
  if (e instanceof RegistryConflictError) return 'conflict';
  if (e instanceof RegistryInvalidError) return 'invalid';
  if (e instanceof ApiError) {
    if (e.status === 404) return 'not_found';
    if (e.status === 403) return 'forbidden';
    if (e.status === 409) return 'conflict';
    if (e.status >= 400 && e.status < 500) return 'invalid';
  }
  return 'error';
}

export interface Auditor {
  /** Writes one entry. */
  write(c: Change, outcome: Outcome): void;
  /** Runs `fn` (authorisation included) and writes its entry: `ok`, or the refusal, which is rethrown. */
  run<T>(c: Change, fn: () => T): T;
}

/**
 * The token (or console session) that made the request ends every entry's detail: a user's
 * tokens may be held by others (an administrator minted one for them), and the entry must say
 * which one acted.
 */
export const withToken = (detail: string | undefined, token: string | undefined, session?: string | undefined): string | undefined => {
  const via = token !== undefined ? `via token ${token}` : session !== undefined ? `via session ${session}` : undefined;
  return via === undefined ? detail : [detail, via].filter(Boolean).join('; ');
};

/** The auditor of one request's caller. */
export function auditOf(deps: Pick<ApiBase, 'registry' | 'now'>, principal: Principal): Auditor {
  const registry = deps.registry();
  const now = deps.now;
  const write = (c: Change, outcome: Outcome): void => {
    let district = c.district ?? undefined;
    // A school's entry carries its district, so that the district's operator sees it too.
    if (district === undefined && c.school) district = registry.getSchool(c.school)?.district;
    registry.appendAudit({
      at: now(),
      actor: `user:${principal.user}`,
      action: c.action,
      target: c.target,
      outcome,
      detail: withToken(c.detail, principal.token, principal.session),
      district,
      school: c.school ?? undefined,
    });
  };
  return {
    write,
    run(c, fn) {
      let out: ReturnType<typeof fn>;
      try {
        out = fn();
      } catch (e) {
        write({ ...c, detail: [c.detail, toError(e).message].filter(Boolean).join(': ') }, outcomeOf(e));
        throw e;
      }
      write(c, 'ok');
      return out;
    },
  };
}
