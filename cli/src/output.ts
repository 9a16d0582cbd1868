import { usageError } from './errors.ts';

/** Columns a terminal gives a code point: two for East Asian wide characters (names in 中文). */
function width(s: string): number {
  let w = 0;
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    const wide = (c >= 0x1100 && c <= 0x115f) || (c >= 0x2e80 && c <= 0xa4cf) || (c >= 0xac00 && c <= 0xd7a3) || (c >= 0xf900 && c <= 0xfaff) || (c >= 0xfe30 && c <= 0xfe4f) || (c >= 0xff00 && c <= 0xff60) || (c >= 0xffe0 && c <= 0xffe6) || (c >= 0x20000 && c <= 0x3fffd);
    w += wide ? 2 : 1;
  }
  return w;
}

export type Cell = string | number | boolean | null | undefined;

const text = (v: Cell): string => (v === null || v === undefined || v === '' ? '-' : String(v));

/** Rows under a header, columns padded to the widest cell; `(none)` for no rows. */
export function table(header: readonly string[], rows: ReadonlyArray<readonly Cell[]>): string[] {
  if (rows.length === 0) return ['(none)'];
  const cells = [header.map(String), ...rows.map((r) => r.map(text))];
  const widths = header.map((_, i) => Math.max(...cells.map((r) => width(r[i] ?? ''))));
  return cells.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c + ' '.repeat(widths[i]! - width(c)))).join('  ').trimEnd());
}

/** `key: value` lines, keys padded. */
export function fields(pairs: ReadonlyArray<readonly [string, Cell]>): string[] {
  const w = Math.max(...pairs.map(([k]) => k.length));
  return pairs.map(([k, v]) => `${`${k}:`.padEnd(w + 2)}${text(v)}`);
}

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** `1500ms`, `60s`, `5m`, `1h`; a bare number is seconds. */
export function parseDuration(flag: string, v: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(v.trim());
  if (!m) throw usageError(`--${flag}: "${v}" is not a duration (e.g. 60s, 5m, 1500ms)`);
  return Math.round(Number(m[1]) * UNIT_MS[m[2] ?? 's']!);
}

/** A positive number of Mbit/s as bit/s (the API's unit). */
export function mbpsToBps(flag: string, v: string): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw usageError(`--${flag}: "${v}" is not a positive number of Mbit/s`);
  return Math.round(n * 1e6);
}

export function parseNonNegativeInt(flag: string, v: string): number {
  if (!/^\d+$/.test(v)) throw usageError(`--${flag}: "${v}" is not a whole number`);
  return Number(v);
}

export const mbps = (bps: number | null | undefined): string | undefined => (bps == null ? undefined : `${bps / 1e6} Mbit/s`);

/** An instant as ISO UTC, to the second. */
export const iso = (ms: number | null | undefined): string | undefined => (ms == null ? undefined : new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z'));

/** `1-5`, `1,3,5` or `1-3,6` as ISO weekdays. */
export function parseDays(v: string): number[] {
  const days = new Set<number>();
  for (const part of v.split(',')) {
    const m = /^([1-7])(?:-([1-7]))?$/.exec(part.trim());
    if (!m) throw usageError(`--days: "${v}" is not a list of weekdays 1-7 (e.g. 1-5 or 1,3,5)`);
    const from = Number(m[1]);
    const to = Number(m[2] ?? m[1]);
    if (to < from) throw usageError(`--days: "${part}" runs backwards`);
    for (let d = from; d <= to; d++) days.add(d);
  }
  return [...days].sort((a, b) => a - b);
}
