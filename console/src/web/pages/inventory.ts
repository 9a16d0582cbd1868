import { useState } from 'preact/hooks';
import { API, ApiFailure, api } from '../api.ts';
import { useApp } from '../context.ts';
import { html } from '../html.ts';

interface ImportAnswer {
  dryRun: boolean;
  encoding: string;
  created: number;
  updated: number;
  unchanged: number;
}
interface RowError {
  line: number;
  column?: string;
  code: string;
  reason: string;
}

/** Inventory: a CSV import (checked first, or written) with every row error shown; the export. */
export function InventoryPage() {
  const { t } = useApp();
  const [text, setText] = useState('');
  const [dryRun, setDryRun] = useState(true);
  const [result, setResult] = useState<ImportAnswer | undefined>();
  const [errors, setErrors] = useState<RowError[] | undefined>();
  const [failure, setFailure] = useState<string | undefined>();
  const onFile = async (e: Event) => {
    const f = (e.target as HTMLInputElement).files?.[0];
    if (f) setText(await f.text());
  };
  const submit = async (e: Event) => {
    e.preventDefault();
    setResult(undefined);
    setErrors(undefined);
    setFailure(undefined);
    try {
      setResult(await api<ImportAnswer>('POST', `/inventory/import?dryRun=${dryRun}`, { raw: { text, type: 'text/csv; charset=utf-8' } }));
    } catch (err) {
      if (err instanceof ApiFailure && Array.isArray(err.details?.['errors'])) setErrors(err.details['errors'] as RowError[]);
      else setFailure(err instanceof ApiFailure ? `${err.code}: ${err.message}` : String(err));
    }
  };
  return html`<section>
    <h1>${t('inventory')}</h1>
    <form class="card" onSubmit=${submit}>
      <h2>${t('importCsv')}</h2>
      <label>${t('csvFile')}<input type="file" accept=".csv,text/csv" data-testid="csv-file" onChange=${onFile} /></label>
      <label>${t('csvText')}<textarea rows="8" data-testid="csv-text" value=${text} onInput=${(e: Event) => setText((e.target as HTMLTextAreaElement).value)}></textarea></label>
      <label class="check"><input type="checkbox" data-testid="dry-run" checked=${dryRun} onChange=${(e: Event) => setDryRun((e.target as HTMLInputElement).checked)} />${t('dryRun')}</label>
      <button type="submit" data-testid="import">${t('doImport')}</button>
    </form>
    ${result ? html`<p role="status" data-testid="import-result">${t('imported', { c: result.created, u: result.updated, n: result.unchanged })} (${result.encoding}${result.dryRun ? `, ${t('dryRun')}` : ''})</p>` : null}
    ${failure ? html`<p class="error" role="alert">${failure}</p>` : null}
    ${errors
      ? html`<table class="list" data-testid="row-errors"><caption>${t('rowErrors')}</caption>
          <thead><tr><th scope="col">${t('line')}</th><th scope="col">${t('column')}</th><th scope="col">${t('code')}</th><th scope="col">${t('reason')}</th></tr></thead>
          <tbody>${errors.map((r) => html`<tr><td>${r.line}</td><td>${r.column ?? ''}</td><td>${r.code}</td><td>${r.reason}</td></tr>`)}</tbody></table>`
      : null}
    <p><a class="button" href=${`${API}/inventory/export`} download="inventory.csv" data-testid="export">${t('exportCsv')}</a></p>
  </section>`;
}
