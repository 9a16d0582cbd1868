/** How figures read on screen: one place, so a page and its test agree. */

export function percent(ratio: number | null | undefined): string {
  return ratio === null || ratio === undefined ? '—' : `${(ratio * 100).toFixed(1)}%`;
}

const BPS_UNITS = ['bit/s', 'kbit/s', 'Mbit/s', 'Gbit/s', 'Tbit/s'];
export function bps(v: number | null | undefined): string {
  if (v === null || v === undefined) return '—';
  let x = v;
  let i = 0;
  while (Math.abs(x) >= 1000 && i < BPS_UNITS.length - 1) {
    x /= 1000;
    i += 1;
  }
  return `${i === 0 ? x.toFixed(0) : x.toFixed(1)} ${BPS_UNITS[i]}`;
}

export function duration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return '—';
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

/** Local date and time, ISO-like (the same in both languages). */
export function time(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || ms <= 0) return '—';
  const d = new Date(ms);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/** Units of the telemetry fields the API names (storage field names, storage/src/schema.ts). */
export const FIELD_UNITS: Record<string, string> = {
  lamp_hours: 'h',
  temperature_c: '°C',
  stream_kbps: 'kbit/s',
  stream_loss_pct: '%',
  battery_pct: '%',
  capacity_bps: 'bit/s',
  rx_bps: 'bit/s',
  tx_bps: 'bit/s',
  octets_in: 'B',
  octets_out: 'B',
};

/** A telemetry value with its unit; utilisation is a ratio and reads as a percentage. */
export function telemetryValue(field: string, v: unknown): string {
  if (field === 'utilisation' && typeof v === 'number') return percent(v);
  if (field.endsWith('_bps') && typeof v === 'number') return bps(v);
  const unit = FIELD_UNITS[field];
  const s = typeof v === 'number' ? String(Math.round(v * 100) / 100) : typeof v === 'boolean' ? (v ? '✓' : '✗') : String(v);
  return unit ? `${s} ${unit}` : s;
}

/** Local midnight of the day `now` falls in. */
export function startOfDay(now: number): number {
  const d = new Date(now);
  d.setHours(0, 0, 0, 0);
  return d.getTime();
}

/** [from, to) buckets of `stepMs` covering [from, to], the last one cut at `to`. */
export function buckets(from: number, to: number, stepMs: number): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (let a = from; a < to; a += stepMs) out.push([a, Math.min(a + stepMs, to)]);
  return out;
}
