import { readFileSync } from 'node:fs';
import { toError } from '../../runtime/src/errors.ts';
import type { CliConfig } from './config.ts';
import { CLI_ERR, CliError, EXIT, type ExitCode } from './errors.ts';

/** Every request gives up after this long and counts as the hub not answering. */
const REQUEST_TIMEOUT_MS = 30_000;
/** The largest page the API serves; lists are walked page by page. */
const PAGE_LIMIT = 1000;

export type Query = Record<string, string | number | boolean | undefined>;

export interface RequestOptions {
  query?: Query;
  /** A JSON body. */
  json?: unknown;
  /** Raw bytes sent as they are (a CSV file: its encoding is the hub's to detect). */
  raw?: { body: Uint8Array; contentType: string };
  headers?: Record<string, string>;
  /**
   * Further attempts after a network failure. Only for requests that are safe to repeat: a
   * command carries its Idempotency-Key, so a repeat reaches the device once.
   */
  retries?: number;
}

export interface ApiReply {
  status: number;
  /** Parsed JSON, or undefined (204, CSV). */
  body: unknown;
  text: string;
  bytes: Uint8Array;
}

/** What a token may hold (it goes into an HTTP header); a token is never echoed back. */
const TOKEN_CHARS = /^[\x21-\x7e]{1,512}$/;

/** The token: CAMPUS_TOKEN, else the first line of the token file; exit 3 when there is none. */
export function resolveToken(config: CliConfig, read: (path: string) => string = (p) => readFileSync(p, 'utf8')): string {
  if (config.token) {
    if (!TOKEN_CHARS.test(config.token)) throw new CliError(EXIT.UNAUTHENTICATED, CLI_ERR.NO_TOKEN, 'CAMPUS_TOKEN is not a token: it holds spaces, line breaks or characters no token has');
    return config.token;
  }
  let text: string;
  try {
    text = read(config.tokenFile);
  } catch (e) {
    throw new CliError(EXIT.UNAUTHENTICATED, CLI_ERR.NO_TOKEN, `no API token: CAMPUS_TOKEN is not set and ${config.tokenFile} cannot be read (${toError(e).message})`, { cause: e });
  }
  const token = (text.split(/\r?\n/).find((l) => l.trim() !== '') ?? '').trim();
  if (!token) throw new CliError(EXIT.UNAUTHENTICATED, CLI_ERR.NO_TOKEN, `no API token: ${config.tokenFile} is empty`);
  if (!TOKEN_CHARS.test(token)) throw new CliError(EXIT.UNAUTHENTICATED, CLI_ERR.NO_TOKEN, `the first line of ${config.tokenFile} is not a token: it holds spaces or characters no token has`);
  return token;
}

/** The exit code of a refusal by its HTTP status. */
export function exitCodeOf(status: number): ExitCode {
  if (status === 401) return EXIT.UNAUTHENTICATED;
  if (status === 403 || status === 404) return EXIT.NOT_FOUND;
  if (status === 409) return EXIT.CONFLICT;
  if (status === 400 || status === 422) return EXIT.INVALID;
  return EXIT.OTHER;
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The lines printed under a refusal: each zod issue, each bad CSV row. */
export function detailLines(details: unknown): string[] {
  if (!isRecord(details)) return [];
  const out: string[] = [];
  if (Array.isArray(details['issues'])) {
    for (const i of details['issues'].filter(isRecord)) out.push(`${[i['in'], i['path']].filter((x) => x !== undefined && x !== '').join(' ') || '(request)'}: ${String(i['message'])}`);
  }
  if (Array.isArray(details['errors'])) {
    for (const r of details['errors'].filter(isRecord)) {
      out.push(`line ${String(r['line'])}: ${String(r['code'])}: ${String(r['reason'])}`);
    }
  }
  return out;
}

/** A fetch-based client of the hub's management API (/api/v1), with a Bearer token. */
export class ApiClient {
  readonly base: string;
  readonly #token: () => string;
  constructor(url: string, token: () => string) {
    this.base = `${url}/api/v1`;
    this.#token = token;
  }

  /** One request; a refusal or an unreachable hub throws a CliError with its exit code. */
  async request(method: string, path: string, opts: RequestOptions = {}): Promise<ApiReply> {
    const token = this.#token();
    const url = new URL(`${this.base}${path}`);
    for (const [k, v] of Object.entries(opts.query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    const headers: Record<string, string> = { authorization: `Bearer ${token}`, accept: 'application/json', ...opts.headers };
    let body: string | Uint8Array | undefined;
    if (opts.raw) {
      headers['content-type'] = opts.raw.contentType;
      body = opts.raw.body;
    } else if (opts.json !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(opts.json);
    }
    let res: Response;
    for (let attempt = 0; ; attempt++) {
      try {
        res = await fetch(url, { method, headers, body, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
        break;
      } catch (e) {
        if (attempt >= (opts.retries ?? 0)) {
          const err = toError(e);
          const cause = err.cause as { code?: string; message?: string } | undefined;
          const why = cause?.code ?? cause?.message ?? err.message;
          throw new CliError(EXIT.UNREACHABLE, CLI_ERR.UNREACHABLE, `cannot reach the hub at ${url.origin}: ${why}`, { cause: e });
        }
      }
    }
    const bytes = new Uint8Array(await res.arrayBuffer());
    const text = new TextDecoder().decode(bytes);
    let parsed: unknown;
    if ((res.headers.get('content-type') ?? '').includes('application/json') && text) {
      try {
        parsed = JSON.parse(text);
      } catch (e) {
        throw new CliError(EXIT.OTHER, CLI_ERR.BAD_REPLY, `${method} ${path}: the hub's JSON cannot be read`, { cause: e });
      }
    }
    if (!res.ok) {
      const b = isRecord(parsed) ? parsed : {};
      const code = typeof b['code'] === 'string' ? b['code'] : `HTTP_${res.status}`;
      const message = typeof b['message'] === 'string' ? b['message'] : `${method} ${path} answered ${res.status} ${res.statusText}`;
      throw new CliError(exitCodeOf(res.status), code, message, { lines: detailLines(b['details']) });
    }
    return { status: res.status, body: parsed, text, bytes };
  }

  /** JSON in, JSON out. */
  async json<T>(method: string, path: string, opts: RequestOptions = {}): Promise<T> {
    return (await this.request(method, path, opts)).body as T;
  }

  /** Every item of a paged list, page after page. */
  async all<T>(path: string, query: Query = {}): Promise<T[]> {
    const items: T[] = [];
    let cursor: string | undefined;
    do {
      const page = await this.json<{ items: T[]; nextCursor?: string | null }>('GET', path, { query: { ...query, limit: PAGE_LIMIT, cursor } });
      items.push(...page.items);
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    return items;
  }
}
