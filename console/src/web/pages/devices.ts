import { useState } from 'preact/hooks';
import { get, qs, type Page } from '../api.ts';
import { useApp, useLoad } from '../context.ts';
import { time } from '../format.ts';
import { html } from '../html.ts';
import { useLive } from '../live.ts';
import { pathOf } from '../route.ts';
import { COLUMNS, sortQuery, type SortKey } from '../sort.ts';
import { DEVICE_KINDS, LIVE_STATES, type DeviceStatus, type Room } from '../types.ts';
import { Link, Show, StateBadge } from '../widgets.ts';

export const PAGE_SIZE = 25;
/** Devices of the caller's scope: search, filters by kind, state and room, paged. */
export function DevicesPage(props: { search: string }) {
  const { t, session, navigate } = useApp();
  const params = new URLSearchParams(props.search);
  const filters = { q: params.get('q') ?? '', kind: params.get('kind') ?? '', state: params.get('state') ?? '', room: params.get('room') ?? '' };
  const [cursors, setCursors] = useState<Array<string | null>>([null]);
  const [sort, setSort] = useState<{ key: SortKey; dir: 1 | -1 }>({ key: 'id', dir: 1 });
  const [q, setQ] = useState(filters.q);
  const cursor = cursors[cursors.length - 1] ?? null;
  const key = JSON.stringify([filters, sort]);
  const [loaded, , update] = useLoad(() => get<Page<DeviceStatus>>(`/devices${qs({ ...filters, ...sortQuery(sort.key, sort.dir), limit: PAGE_SIZE, cursor })}`), [key, cursor]);
  const school = session.user.school;
  const [rooms] = useLoad(() => (school ? get<{ items: Room[] }>(`/schools/${encodeURIComponent(school)}/rooms`).then((r) => r.items) : Promise.resolve([])), [school]);
  useLive('presence', (e) => {
    if (e.type === 'device_state') update((p) => ({ ...p, items: p.items.map((d) => (d.id === e.device ? { ...d, state: e.to as DeviceStatus['state'], since: e.ts } : d)) }));
    else if (e.type === 'gateway_offline') update((p) => ({ ...p, items: p.items.map((d) => (d.gateway === e.gateway ? { ...d, state: 'unknown' } : d)) }));
  });

  const setFilter = (name: string, value: string) => {
    const next = new URLSearchParams(props.search);
    if (value) next.set(name, value);
    else next.delete(name);
    setCursors([null]);
    const s = next.toString();
    navigate(pathOf.devices(s ? `?${s}` : ''));
  };
  const select = (name: 'kind' | 'state', options: readonly string[], prefix: string) => html`<label>${t(name)}
    <select name=${name} data-testid=${`filter-${name}`} value=${filters[name]} onChange=${(e: Event) => setFilter(name, (e.target as HTMLSelectElement).value)}>
      <option value="">${t('all')}</option>
      ${options.map((o) => html`<option value=${o} selected=${filters[name] === o}>${t(`${prefix}.${o}`)}</option>`)}
    </select></label>`;

  return html`<section>
    <h1>${t('devices')}</h1>
    <form class="filters" role="search" onSubmit=${(e: Event) => (e.preventDefault(), setFilter('q', q.trim()))}>
      <label>${t('search')}<input type="search" name="q" placeholder=${t('searchHint')} value=${q} data-testid="filter-q" onInput=${(e: Event) => setQ((e.target as HTMLInputElement).value)} /></label>
      ${select('kind', DEVICE_KINDS, 'kind')}
      ${select('state', LIVE_STATES, 'state')}
      <label>${t('room')}${school && rooms.state === 'ok'
        ? html`<select name="room" data-testid="filter-room" onChange=${(e: Event) => setFilter('room', (e.target as HTMLSelectElement).value)}>
            <option value="">${t('all')}</option>
            ${rooms.value.map((r) => html`<option value=${r.id} selected=${filters.room === r.id}>${r.name || r.id}</option>`)}
          </select>`
        : html`<input name="room" data-testid="filter-room" value=${filters.room} onChange=${(e: Event) => setFilter('room', (e.target as HTMLInputElement).value.trim())} />`}</label>
      <button type="submit">${t('search')}</button>
    </form>
    <${Show} loaded=${loaded}>${(page: Page<DeviceStatus>) => html`
      <table class="list" data-testid="device-table">
        <thead><tr>${COLUMNS.map((c) => html`<th scope="col" aria-sort=${sort.key === c ? (sort.dir === 1 ? 'ascending' : 'descending') : 'none'}>
          <button type="button" class="sort" title=${t('sortBy')} data-testid=${`sort-${c}`} onClick=${() => (setCursors([null]), setSort((s) => ({ key: c, dir: s.key === c ? (-s.dir as 1 | -1) : 1 })))}>${t(c)}${sort.key === c ? (sort.dir === 1 ? ' ▲' : ' ▼') : ''}</button></th>`)}
          <th scope="col">${t('model')}</th></tr></thead>
        <tbody>
          ${page.items.length === 0 ? html`<tr><td colspan="6" data-testid="no-devices">${t('noDevices')}</td></tr>` : null}
          ${page.items.map((d) => html`<tr data-testid=${`row-${d.id}`} data-state=${d.state}>
            <td><${Link} href=${pathOf.device(d.id)}>${d.id}</${Link}></td>
            <td>${t(`kind.${d.kind}`)}</td>
            <td>${d.room}</td>
            <td><${StateBadge} state=${d.state} /></td>
            <td>${time(d.since)}</td>
            <td>${d.model}</td>
          </tr>`)}
        </tbody>
      </table>
      <nav class="pager" aria-label=${t('pageN', { n: cursors.length })}>
        <button type="button" disabled=${cursors.length === 1} onClick=${() => setCursors((c) => c.slice(0, -1))}>${t('prev')}</button>
        <span>${t('pageN', { n: cursors.length })}</span>
        <button type="button" disabled=${page.nextCursor === null} data-testid="next-page" onClick=${() => setCursors((c) => [...c, page.nextCursor])}>${t('next')}</button>
      </nav>`}</${Show}>
  </section>`;
}
