import { getAll } from '../api.ts';
import { useApp, useLoad, useSettled } from '../context.ts';
import { duration, time } from '../format.ts';
import { html } from '../html.ts';
import { useLive } from '../live.ts';
import type { GatewayStatus } from '../types.ts';
import { Show } from '../widgets.ts';

/** Gateways: connection, bdSeq, outbox backlog and age, last uplink, replay progress. */
export function GatewaysPage() {
  const { t } = useApp();
  const [loaded, reload] = useLoad(() => getAll<GatewayStatus>('/gateways'), []);
  const refresh = useSettled(reload);
  useLive('presence', (e) => {
    if (e.type !== 'device_state') refresh();
  });
  return html`<section>
    <h1>${t('gateways')}</h1>
    <button type="button" onClick=${reload}>${t('refresh')}</button>
    <${Show} loaded=${loaded}>${(gws: GatewayStatus[]) => html`<table class="list" data-testid="gateway-table">
      <thead><tr>
        <th scope="col">${t('id')}</th><th scope="col">${t('school')}</th><th scope="col">${t('connection')}</th><th scope="col">${t('bdSeq')}</th>
        <th scope="col">${t('outboxBacklog')}</th><th scope="col">${t('outboxAge')}</th><th scope="col">${t('lastUplink')}</th><th scope="col">${t('replay')}</th>
      </tr></thead>
      <tbody>${gws.map((g) => html`<tr data-testid=${`gateway-${g.id}`} data-connection=${g.connection}>
        <td>${g.id}${g.revoked ? html` <span class="badge state-down">${t('revoked')}</span>` : null}</td>
        <td>${g.school}</td>
        <td><span class=${`badge conn-${g.connection}`}>${t(`connection.${g.connection}`)}</span></td>
        <td>${g.bdSeq ?? '—'}</td>
        <td>${g.health ? `${g.health.outboxRecords} (${g.health.outboxBytes} B)` : '—'}</td>
        <td>${g.health ? duration(g.health.outboxOldestAgeMs) : '—'}</td>
        <td>${time(g.health?.lastUplinkOkAt)}</td>
        <td>${g.health ? (g.health.replayActive ? t('replayRemaining', { n: g.health.replayRemaining }) : t('replayIdle')) : '—'}</td>
      </tr>`)}</tbody>
    </table>`}</${Show}>
  </section>`;
}
