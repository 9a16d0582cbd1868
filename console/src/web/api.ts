/**
 * The management API as the console calls it: same origin, the session cookie, and the
 * session's CSRF token on every change (the hub refuses a change without it).
 */

export interface SessionUser {
  id: string;
  displayName: string;
  role: 'city_admin' | 'district_operator' | 'school_it' | 'viewer';
  district: string | null;
  school: string | null;
}
export interface Session {
  user: SessionUser;
  csrfToken: string;
  expiresAt: number;
}
export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

export class ApiFailure extends Error {
  readonly status: number;
  readonly code: string;
  readonly details: Record<string, unknown> | undefined;
  constructor(status: number, code: string, message: string, details?: Record<string, unknown>) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details;
  }
}

export const API = '/api/v1';
let csrfToken: string | undefined;
let onSignedOut: () => void = () => {};

/** Called when the hub answers 401: the session ended (expired, revoked, signed out elsewhere). */
export function whenSignedOut(cb: () => void): void {
  onSignedOut = cb;
}

const SAFE = new Set(['GET', 'HEAD', 'OPTIONS']);

export interface CallOptions {
  body?: unknown;
  /** A body sent as is with this content type (CSV), instead of JSON. */
  raw?: { text: string; type: string };
  headers?: Record<string, string>;
  /** 401 is an answer, not the end of the session (signing in). */
  quiet401?: boolean;
}

async function call(method: string, path: string, opts: CallOptions = {}): Promise<Response> {
  const headers: Record<string, string> = { accept: 'application/json', ...opts.headers };
  if (!SAFE.has(method) && csrfToken !== undefined) headers['x-csrf-token'] = csrfToken;
  let body: string | undefined;
  if (opts.raw) {
    headers['content-type'] = opts.raw.type;
    body = opts.raw.text;
  } else if (opts.body !== undefined) {
    headers['content-type'] = 'application/json';
    body = JSON.stringify(opts.body);
  }
  const res = await fetch(`${API}${path}`, { method, headers, credentials: 'same-origin', body });
  if (res.status === 401 && !opts.quiet401) {
    csrfToken = undefined;
    onSignedOut();
  }
  return res;
}

async function failure(res: Response): Promise<ApiFailure> {
  const text = await res.text();
  try {
    const b = JSON.parse(text) as { code?: string; message?: string; details?: Record<string, unknown> };
    return new ApiFailure(res.status, b.code ?? `HTTP_${res.status}`, b.message ?? res.statusText, b.details);
  } catch {
    return new ApiFailure(res.status, `HTTP_${res.status}`, text || res.statusText);
  }
}

/** A JSON answer, or an ApiFailure carrying the hub's error body. */
export async function api<T>(method: string, path: string, opts: CallOptions = {}): Promise<T> {
  const res = await call(method, path, opts);
  if (!res.ok) throw await failure(res);
  if (res.status === 204) return undefined as T;
  return (await res.json()) as T;
}

export const get = <T>(path: string): Promise<T> => api<T>('GET', path);

/** Every page of a list (the console's lists are a school's or a district's, not a city's). */
export async function getAll<T>(path: string): Promise<T[]> {
  const out: T[] = [];
  let cursor: string | null = null;
  do {
    const sep = path.includes('?') ? '&' : '?';
    const page: Page<T> = await get<Page<T>>(`${path}${sep}limit=1000${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    out.push(...page.items);
    cursor = page.nextCursor;
  } while (cursor !== null);
  return out;
}

/** The session the cookie holds, or null. */
export async function currentSession(): Promise<Session | null> {
  const res = await call('GET', '/session', { quiet401: true });
  if (res.status === 401) return null;
  if (!res.ok) throw await failure(res);
  const s = (await res.json()) as Session;
  csrfToken = s.csrfToken;
  return s;
}

export async function signIn(user: string, password: string): Promise<Session> {
  const res = await call('POST', '/session', { body: { user, password }, quiet401: true });
  if (!res.ok) throw await failure(res);
  const s = (await res.json()) as Session;
  csrfToken = s.csrfToken;
  return s;
}

export async function signOut(): Promise<void> {
  try {
    await api('DELETE', '/session', { quiet401: true });
  } finally {
    csrfToken = undefined;
  }
}

/** Query string from the values given (undefined and '' left out). */
export function qs(params: Record<string, string | number | undefined | null>): string {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') p.set(k, String(v));
  const s = p.toString();
  return s ? `?${s}` : '';
}
