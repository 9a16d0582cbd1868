/** `node tests/bench/weekMinuteBench.ts`: localWeekMinute per call, formatted by Intl each time against once per minute and zone (5,000 records a minute, as ingest asks). */
import { localWeekMinute, formatWeekMinute } from '../../protocol/src/schedule.ts';
const N = 300_000; const base = Date.UTC(2026, 10, 24, 2, 0);
for (const [name, f] of [['formatted each call', formatWeekMinute], ['once per minute', localWeekMinute], ['formatted each call', formatWeekMinute], ['once per minute', localWeekMinute]] as const) {
  const t = performance.now(); let s = 0;
  for (let i = 0; i < N; i++) s += f(base + Math.floor(i / 5000) * 60_000, 'Asia/Shanghai').minute;
  console.log(name, ((performance.now() - t) * 1000 / N).toFixed(3), 'µs/call', s);
}
