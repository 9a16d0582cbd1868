import { get, getAll, qs } from '../api.ts';
import { useApp, useLoad } from '../context.ts';
import { bps, buckets, startOfDay } from '../format.ts';
import { html } from '../html.ts';
import { nameOf } from '../i18n.ts';
import { useLive } from '../live.ts';
import { pathOf } from '../route.ts';
import type { BandwidthAnswer, DeviceStatus, Room, School } from '../types.ts';
import { Chart, Link, Show, StateBadge } from '../widgets.ts';

const HOUR = 3_600_000;

interface SchoolView {
  school: School;
  rooms: Room[];
  devices: DeviceStatus[];
}

async function loadSchool(id: string): Promise<SchoolView> {
  const p = encodeURIComponent(id);
  const [school, rooms, devices] = await Promise.all([get<School>(`/schools/${p}`), get<{ items: Room[] }>(`/schools/${p}/rooms`), getAll<DeviceStatus>(`/devices${qs({ school: id })}`)]);
  return { school, rooms: rooms.items, devices };
}

/** The uplink's mean bandwidth per hour since local midnight (one API answer per hour). */
async function loadBandwidth(id: string): Promise<BandwidthAnswer[]> {
  const now = Date.now();
  return await Promise.all(buckets(startOfDay(now), now, HOUR).map(([from, to]) => get<BandwidthAnswer>(`/figures/bandwidth${qs({ school: id, from, to })}`)));
}

/** A school: rooms × devices as a grid of states, and its uplink over the day. */
export function SchoolPage(props: { school: string }) {
  const { t, lang } = useApp();
  const [loaded, reload, update] = useLoad(() => loadSchool(props.school), [props.school]);
  const [bw] = useLoad(() => loadBandwidth(props.school), [props.school]);
  useLive('presence', (e) => {
    if (e.school !== props.school) return;
    if (e.type === 'device_state') update((v) => ({ ...v, devices: v.devices.map((d) => (d.id === e.device ? { ...d, state: e.to as DeviceStatus['state'], since: e.ts } : d)) }));
    else if (e.type === 'gateway_offline') update((v) => ({ ...v, devices: v.devices.map((d) => (d.gateway === e.gateway ? { ...d, state: 'unknown' } : d)) }));
    // Back online, the gateway's devices are as it reports them next: read them again.
    else reload();
  });
  return html`<${Show} loaded=${loaded}>${(v: SchoolView) => {
    const roomIds = [...new Set([...v.rooms.map((r) => r.id), ...v.devices.map((d) => d.room)])];
    return html`<section>
      <h1>${nameOf(lang, v.school)}</h1>
      <h2>${t('roomsGrid')}</h2>
      <table class="grid" data-testid="room-grid">
        <caption class="visually-hidden">${t('roomsGrid')}</caption>
        <thead><tr><th scope="col">${t('room')}</th><th scope="col">${t('devices')}</th></tr></thead>
        <tbody>
          ${roomIds.map((room) => {
            const r = v.rooms.find((x) => x.id === room);
            return html`<tr>
              <th scope="row">${r?.name || room}</th>
              <td><ul class="tiles">${v.devices
                .filter((d) => d.room === room)
                .map((d) => html`<li class=${`tile state-${d.state}`} data-testid=${`tile-${d.id}`} data-state=${d.state}>
                  <${Link} href=${pathOf.device(d.id)}>${d.id}</${Link}>
                  <span class="kind">${t(`kind.${d.kind}`)}</span>
                  <${StateBadge} state=${d.state} />
                </li>`)}</ul></td>
            </tr>`;
          })}
        </tbody>
      </table>
      <${Show} loaded=${bw}>${(hours: BandwidthAnswer[]) => {
        const xs = hours.map((h) => Math.round(h.from / 1000));
        const row = (h: BandwidthAnswer) => h.schools.find((s) => s.school === props.school);
        return html`<${Chart}
          title=${`${t('bandwidthToday')} (${t('capacity')} ${bps(v.school.uplinkCapacityBps)})`}
          testid="school-bandwidth"
          height=${160}
          yFormat=${bps}
          data=${[xs, hours.map((h) => row(h)?.inBps ?? null), hours.map((h) => row(h)?.outBps ?? null), hours.map(() => v.school.uplinkCapacityBps)]}
          series=${[
            { label: t('inbound'), stroke: '#1f5fa8', value: (_: unknown, x: number | null) => bps(x) },
            { label: t('outbound'), stroke: '#b85c00', value: (_: unknown, x: number | null) => bps(x) },
            { label: t('capacity'), stroke: '#888', dash: [4, 4], value: (_: unknown, x: number | null) => bps(x) },
          ]}
        />`;
      }}</${Show}>
    </section>`;
  }}</${Show}>`;
}
