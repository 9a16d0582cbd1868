import { get, qs } from '../api.ts';
import { useApp, useLoad, useSettled } from '../context.ts';
import { bps, buckets, percent } from '../format.ts';
import { html } from '../html.ts';
import { nameOf } from '../i18n.ts';
import { useLive } from '../live.ts';
import { pathOf } from '../route.ts';
import { LIVE_STATES, type AvailabilityAnswer, type BandwidthAnswer, type FleetStatus, type StateCounts } from '../types.ts';
import { Chart, Link, Show } from '../widgets.ts';

const HOUR = 3_600_000;
/** "Now" for bandwidth: the mean over the last five minutes (the sampling interval is a minute). */
export const NOW_WINDOW_MS = 5 * 60_000;

interface Figures {
  availability: AvailabilityAnswer;
  bandwidth: BandwidthAnswer;
  /** Availability per 2 h over the last 24 h, one answer per bucket. */
  series: AvailabilityAnswer[];
}

async function loadFigures(): Promise<Figures> {
  const now = Date.now();
  const [availability, bandwidth, ...series] = await Promise.all([
    get<AvailabilityAnswer>('/figures/availability'),
    get<BandwidthAnswer>(`/figures/bandwidth${qs({ from: now - NOW_WINDOW_MS, to: now })}`),
    ...buckets(now - 24 * HOUR, now, 2 * HOUR).map(([from, to]) => get<AvailabilityAnswer>(`/figures/availability${qs({ from, to })}`)),
  ]);
  return { availability, bandwidth, series };
}

function StateCountsView(props: { counts: StateCounts; testid: string }) {
  const { t } = useApp();
  return html`<dl class="states" data-testid=${props.testid}>
    ${LIVE_STATES.map((s) => html`<div class=${`state-${s}`}><dt>${t(`state.${s}`)}</dt><dd data-testid=${`${props.testid}-${s}`}>${props.counts[s]}</dd></div>`)}
  </dl>`;
}

interface DistrictFigures {
  status: FleetStatus;
  availability: AvailabilityAnswer;
}

/** Each district's own figures, for a caller above districts (a city-wide role). */
async function loadDistricts(ids: string[]): Promise<Map<string, DistrictFigures>> {
  const rows = await Promise.all(
    ids.map(async (d) => {
      const q = qs({ district: d });
      const [status, availability] = await Promise.all([get<FleetStatus>(`/status${q}`), get<AvailabilityAnswer>(`/figures/availability${q}`)]);
      return [d, { status, availability }] as const;
    }),
  );
  return new Map(rows);
}

function DistrictSummary(props: { district: string; f: DistrictFigures | undefined }) {
  const { t } = useApp();
  const f = props.f;
  if (!f) return null;
  const offline = f.status.schools.reduce((a, s) => a + (s.gateways - s.gatewaysOnline), 0);
  const id = props.district;
  return html`<div class="card district-summary" data-testid=${`district-summary-${id}`}>
    <${StateCountsView} counts=${f.status.devices.byState} testid=${`district-states-${id}`} />
    <p>${t('availability24h')}: <strong data-testid=${`district-availability-${id}`} data-value=${String(f.availability.total.availability)}>${percent(f.availability.total.availability)}</strong>
      · ${t('coverage')}: <span data-testid=${`district-coverage-${id}`} data-value=${String(f.availability.total.coverage)}>${percent(f.availability.total.coverage)}</span>
      · ${t('gatewaysOffline')}: <span data-testid=${`district-gateways-offline-${id}`}>${offline}</span></p>
  </div>`;
}

/**
 * The caller's scope: its totals; for a city-wide caller each district's own; then one card per
 * school, grouped by district.
 */
export function OverviewPage() {
  const { t, lang, districts, session } = useApp();
  const [status, reloadStatus] = useLoad(() => get<FleetStatus>('/status'), []);
  const [figures] = useLoad(loadFigures, []);
  // Counts change with every device state; figures over 24 h do not need a live refresh.
  const refresh = useSettled(() => {
    reloadStatus();
    reloadDistricts();
  });
  useLive('presence', refresh);
  const cityWide = session.user.district === null;
  const districtIds = status.state === 'ok' ? [...new Set(status.value.schools.map((s) => s.district))].sort() : [];
  const [perDistrict, reloadDistricts] = useLoad(() => (cityWide && districtIds.length > 0 ? loadDistricts(districtIds) : Promise.resolve(new Map<string, DistrictFigures>())), [cityWide, districtIds.join('\n')]);
  const both = status.state === 'ok' && figures.state === 'ok' ? { state: 'ok' as const, value: { status: status.value, ...figures.value } } : status.state !== 'ok' ? status : figures;
  return html`<section>
    <h1>${t('overview')}</h1>
    <${Show} loaded=${both}>${(o: Figures & { status: FleetStatus }) => {
      const offline = o.status.schools.reduce((a, s) => a + (s.gateways - s.gatewaysOnline), 0);
      const byDistrict = new Map<string, FleetStatus['schools']>();
      for (const s of o.status.schools) byDistrict.set(s.district, [...(byDistrict.get(s.district) ?? []), s]);
      return html`
        <div class="totals card" data-testid="totals">
          <h2>${t('total')}</h2>
          <${StateCountsView} counts=${o.status.devices.byState} testid="total-states" />
          <p>${t('availability24h')}: <strong data-testid="total-availability" data-value=${String(o.availability.total.availability)}>${percent(o.availability.total.availability)}</strong>
            · ${t('coverage')}: <strong data-testid="total-coverage" data-value=${String(o.availability.total.coverage)}>${percent(o.availability.total.coverage)}</strong>
            · ${t('gatewaysOffline')}: <strong data-testid="total-gateways-offline">${offline}</strong></p>
        </div>
        ${[...byDistrict].map(([district, schools]) => {
          const d = districts.get(district);
          return html`<section class="district" data-testid=${`district-${district}`}>
            <h2>${d ? nameOf(lang, d) : district}</h2>
            ${cityWide && perDistrict.state === 'ok' ? html`<${DistrictSummary} district=${district} f=${perDistrict.value.get(district)} />` : null}
            ${((bw) => bw
              ? html`<p class="district-uplink">${t('districtUplinkNow')}: <span data-testid=${`district-bandwidth-${district}`} data-value=${String(bw.inBps)}>${bps(bw.inBps)}</span> ${t('inbound')}
                  · <span data-testid=${`district-bandwidth-out-${district}`} data-value=${String(bw.outBps)}>${bps(bw.outBps)}</span> ${t('outbound')}
                  / ${t('capacity')} ${bps(bw.capacityBps)} (<span data-testid=${`district-utilisation-${district}`} data-value=${String(bw.utilisationIn)}>${percent(bw.utilisationIn)}</span>)</p>`
              : null)(o.bandwidth.districts.find((x) => x.district === district))}
            <div class="cards">
              ${schools.map((s) => {
                const av = o.availability.schools.find((x) => x.school === s.school);
                const bw = o.bandwidth.schools.find((x) => x.school === s.school);
                const xs = o.series.map((a) => Math.round(a.from / 1000));
                const ys = o.series.map((a) => a.schools.find((x) => x.school === s.school)?.availability ?? null);
                return html`<article class="card" data-testid=${`school-card-${s.school}`}>
                  <h3><${Link} href=${pathOf.school(s.school)}>${nameOf(lang, s)}</${Link}></h3>
                  <${StateCountsView} counts=${s.devices} testid=${`states-${s.school}`} />
                  <p>${t('availability24h')}: <strong data-testid=${`availability-${s.school}`} data-value=${String(av?.availability ?? null)}>${percent(av?.availability)}</strong>
                    · ${t('coverage')}: <span data-testid=${`coverage-${s.school}`} data-value=${String(av?.coverage ?? null)}>${percent(av?.coverage)}</span></p>
                  <p>${t('bandwidthNow')}: <span data-testid=${`bandwidth-${s.school}`} data-value=${String(bw?.inBps ?? null)}>${bps(bw?.inBps)}</span>
                    / ${t('capacity')} <span data-testid=${`capacity-${s.school}`}>${bps(bw?.uplinkCapacityBps)}</span></p>
                  <p>${t('gatewaysOffline')}: <span data-testid=${`gateways-offline-${s.school}`}>${s.gateways - s.gatewaysOnline}</span> / ${s.gateways}</p>
                  <${Chart} title=${t('chartAvailability')} data=${[xs, ys]} series=${[{ label: t('availability24h'), stroke: '#2b7a3d', value: (_: unknown, v: number | null) => percent(v) }]} yRange=${[0, 1]} yFormat=${(v: number) => percent(v)} height=${90} />
                </article>`;
              })}
            </div>
          </section>`;
        })}`;
    }}</${Show}>
  </section>`;
}
