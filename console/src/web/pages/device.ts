import { useState } from 'preact/hooks';
import { ApiFailure, api, get, qs, type Page } from '../api.ts';
import { useApp, useLoad } from '../context.ts';
import { duration, percent, startOfDay, telemetryValue, time } from '../format.ts';
import { html } from '../html.ts';
import { useLive, type CommandOutcome } from '../live.ts';
import { COMMAND_ACTIONS, COMMAND_INPUTS, INPUT_KINDS, type AuditRow, type CommandRecord, type DeviceAvailability, type DeviceDetail } from '../types.ts';
import { Show, StateBadge } from '../widgets.ts';

interface DeviceView {
  device: DeviceDetail;
  commands: CommandRecord[];
  audit: AuditRow[];
  today: DeviceAvailability;
}

/** Today since local midnight, as the hub has it: figures and runs of states (unknown where nothing observed it). */
const today = (id: string) => {
  const now = Date.now();
  return get<DeviceAvailability>(`/devices/${encodeURIComponent(id)}/availability${qs({ from: startOfDay(now), to: now })}`);
};

async function loadDevice(id: string): Promise<DeviceView> {
  // The device first: a 404 (absent or another school's) is the refusal page, nothing else asked.
  const device = await get<DeviceDetail>(`/devices/${encodeURIComponent(id)}`);
  const [commands, audit, history] = await Promise.all([get<Page<CommandRecord>>(`/commands${qs({ device: id, limit: 20 })}`), get<Page<AuditRow>>(`/audit${qs({ target: `device:${id}`, limit: 20 })}`), today(id)]);
  return { device, commands: commands.items, audit: audit.items, today: history };
}

/** One device: last telemetry, its state and changes seen live, commands with their outcome. */
export function DevicePage(props: { device: string }) {
  const { t } = useApp();
  const [loaded, reload, update] = useLoad(() => loadDevice(props.device), [props.device]);
  const [changes, setChanges] = useState<Array<{ ts: number; from: string | null; to: string }>>([]);
  // Outcomes may come before the POST's answer: kept by id and applied to whatever record shows.
  const [outcomes, setOutcomes] = useState(new Map<string, CommandOutcome>());
  const [error, setError] = useState<string | undefined>();
  const [input, setInput] = useState<string>(COMMAND_INPUTS[0]);
  useLive('presence', (e) => {
    if (e.type === 'device_state' && e.device === props.device) {
      setChanges((c) => [{ ts: e.ts, from: e.from, to: e.to }, ...c]);
      update((v) => ({ ...v, device: { ...v.device, state: e.to as DeviceDetail['state'], since: e.ts } }));
      // The minute that changed is in InfluxDB by now or soon: today's runs read again.
      today(props.device).then((h) => update((v) => ({ ...v, today: h })), () => {});
    } else if (e.type === 'gateway_offline') update((v) => (v.device.gateway === e.gateway ? { ...v, device: { ...v.device, state: 'unknown' } } : v));
  });
  useLive('command', (o) => {
    if (o.device !== props.device) return;
    setOutcomes((m) => new Map(m).set(o.id, o));
  });
  const send = async (action: string, withInput?: string) => {
    setError(undefined);
    try {
      const body = withInput === undefined ? { action } : { action, input: withInput };
      const r = await api<CommandRecord>('POST', `/devices/${encodeURIComponent(props.device)}/commands`, { body, headers: { 'idempotency-key': crypto.randomUUID() } });
      update((v) => ({ ...v, commands: [r, ...v.commands.filter((c) => c.id !== r.id)] }));
      // The audit entry is written by the command path; read it once the command is recorded.
      get<Page<AuditRow>>(`/audit${qs({ target: `device:${props.device}`, limit: 20 })}`).then((a) => update((v) => ({ ...v, audit: a.items })), () => {});
    } catch (e) {
      setError(e instanceof ApiFailure ? `${e.code}: ${e.message}` : String(e));
    }
  };
  return html`<${Show} loaded=${loaded}>${(v: DeviceView) => {
    const d = v.device;
    return html`<section data-testid="device-page">
      <h1>${d.id}</h1>
      <p class="meta">${[t(`kind.${d.kind}`), `${t('room')} ${d.room}`, `${d.vendor} ${d.model}`.trim(), d.serial ? `${t('serial')} ${d.serial}` : ''].filter((x) => x !== '').join(' · ')}</p>
      <p>${t('state')}: <span data-testid="device-state" data-state=${d.state}><${StateBadge} state=${d.state} /></span> ${t('since')} ${time(d.since)}</p>
      <section class="card" data-testid="device-today" data-up=${v.today.upMinutes} data-expected=${v.today.expectedMinutes} data-observed=${v.today.observedMinutes}>
        <h2>${t('historyToday')}</h2>
        <p>${t('availabilityToday')}: <strong data-testid="device-availability">${percent(v.today.availability)}</strong> · ${t('coverage')}: <strong data-testid="device-coverage">${percent(v.today.coverage)}</strong></p>
        <div class="runs" role="img" aria-label=${t('historyRuns')}>${v.today.runs.map((r) => html`<span class=${`run state-${r.state}`} style=${`flex-grow: ${r.to - r.from}`} title=${`${time(r.from)} – ${time(r.to)}: ${t(`state.${r.state}`)}`}></span>`)}</div>
        <table class="list" data-testid="device-runs"><thead><tr><th scope="col">${t('since')}</th><th scope="col">${t('state')}</th><th scope="col">${t('duration')}</th></tr></thead>
          <tbody>${[...v.today.runs].reverse().map((r) => html`<tr data-state=${r.state}><td>${time(r.from)}</td><td><${StateBadge} state=${r.state} /></td><td>${duration(r.to - r.from)}</td></tr>`)}</tbody></table>
      </section>
      <div class="cols">
        <section class="card">
          <h2>${t('lastTelemetry')}</h2>
          ${d.lastTelemetry
            ? html`<p>${t('reportedAt')} ${time(d.lastTelemetry.ts)}</p>
              <table class="kv" data-testid="telemetry"><tbody>${Object.entries(d.lastTelemetry.data)
                .filter(([k]) => k !== 'hist' && k !== 'seq')
                .map(([k, x]) => html`<tr><th scope="row">${k}</th><td data-field=${k}>${telemetryValue(k, x)}</td></tr>`)}</tbody></table>`
            : html`<p>${t('noTelemetry')}</p>`}
        </section>
        <section class="card">
          <h2>${t('stateChanges')}</h2>
          <ol class="changes" data-testid="state-changes">${changes.map((c) => html`<li>${time(c.ts)} ${c.from ? html`<${StateBadge} state=${c.from} /> → ` : null}<${StateBadge} state=${c.to} /></li>`)}</ol>
          ${changes.length === 0 ? html`<p>${t('none')}</p>` : null}
        </section>
      </div>
      <section class="card">
        <h2>${t('commands')}</h2>
        <div class="actions" role="group" aria-label=${t('commands')}>
          ${COMMAND_ACTIONS.filter((a) => a !== 'switch_input').map((a) => html`<button type="button" data-testid=${`cmd-${a}`} onClick=${() => send(a)}>${t(`action.${a}`)}</button>`)}
        </div>
        ${INPUT_KINDS.includes(d.kind)
          ? html`<div class="actions" role="group" aria-label=${t('action.switch_input')} data-testid="switch-input">
              <label>${t('input')}
                <select name="input" data-testid="cmd-input" onChange=${(e: Event) => setInput((e.target as HTMLSelectElement).value)}>
                  ${COMMAND_INPUTS.map((i) => html`<option value=${i} selected=${input === i}>${i}</option>`)}
                </select></label>
              <button type="button" data-testid="cmd-switch_input" onClick=${() => send('switch_input', input)}>${t('action.switch_input')}</button>
            </div>`
          : null}
        ${error ? html`<p class="error" role="alert" data-testid="command-error">${error}</p>` : null}
        <table class="list" data-testid="commands"><thead><tr><th scope="col">${t('issuedAt')}</th><th scope="col">${t('action')}</th><th scope="col">${t('status')}</th><th scope="col">${t('detail')}</th><th scope="col">${t('actor')}</th></tr></thead>
          <tbody aria-live="polite">${v.commands.map((c) => {
            const o = outcomes.get(c.id);
            const status = o && o.status !== 'sent' ? o.status : c.status;
            return html`<tr data-testid=${`command-${c.id}`}><td>${time(c.issuedAt)}</td><td>${t(`action.${c.action}`)}${c.input ? ` ${c.input}` : ''}</td>
              <td data-testid="command-status" data-status=${status}>${t(`status.${status}`)}</td><td>${o?.detail ?? c.detail ?? ''}</td><td>${c.actor}</td></tr>`;
          })}</tbody></table>
      </section>
      <section class="card">
        <h2>${t('audit')}</h2>
        <table class="list" data-testid="audit"><thead><tr><th scope="col">${t('at')}</th><th scope="col">${t('actor')}</th><th scope="col">${t('action')}</th><th scope="col">${t('outcome')}</th><th scope="col">${t('detail')}</th></tr></thead>
          <tbody>${v.audit.map((a) => html`<tr><td>${time(a.at)}</td><td>${a.actor}</td><td>${a.action}</td><td>${a.outcome}</td><td>${a.detail ?? ''}</td></tr>`)}</tbody></table>
        <button type="button" onClick=${reload}>${t('refresh')}</button>
      </section>
    </section>`;
  }}</${Show}>`;
}
