/**
 * Subscription filters refused by configuration (`HUB_REFUSED_SUBSCRIPTIONS`), whoever asks:
 * answered with SUBACK 0x80 [MQTT-3.9.3], before the ACL. A subscription is refused when every
 * topic it could match is matched by a configured filter: `test/nosubscribe` refuses exactly
 * that; `private/#` refuses `private`, `private/a` and `private/+/b`, but not `#`, which also
 * matches topics outside it.
 */
export function filterRefused(refused: readonly string[], filter: string): string | undefined {
  return refused.find((r) => within(filter.split('/'), r.split('/')));
}

function within(f: readonly string[], r: readonly string[]): boolean {
  for (let i = 0; i < r.length; i++) {
    if (r[i] === '#') return true;
    const level = f[i];
    if (level === undefined || level === '#') return false;
    if (r[i] !== '+' && level !== r[i]) return false;
  }
  return f.length === r.length;
}

/** Parses the setting: a comma-separated list of MQTT topic filters, each valid (wildcards whole levels, `#` last). */
export function parseRefusedSubscriptions(value: string): string[] | string {
  const filters = value.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
  for (const f of filters) {
    const levels = f.split('/');
    const bad = levels.some((l, i) => (l.includes('#') && (l !== '#' || i !== levels.length - 1)) || (l.includes('+') && l !== '+'));
    if (bad) return `${JSON.stringify(f)} is not an MQTT topic filter (wildcards must fill a whole level, # only last)`;
  }
  return filters;
}
