import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import { ApiFailure } from './api.ts';
import { onLink, useApp, type Loaded } from './context.ts';
import { html } from './html.ts';
import { pathOf } from './route.ts';

export function Link(props: { href: string; children?: unknown; class?: string; testid?: string }) {
  const { navigate } = useApp();
  return html`<a href=${props.href} class=${props.class} data-testid=${props.testid} onClick=${onLink(navigate)}>${props.children}</a>`;
}

export function StateBadge(props: { state: string }) {
  const { t } = useApp();
  return html`<span class=${`badge state-${props.state}`} data-state=${props.state}>${t(`state.${props.state}`)}</span>`;
}

/** The refusal page: a 404 (absent or out of scope, told alike) or a 403. */
export function Refusal(props: { status: number }) {
  const { t } = useApp();
  return html`<section class="refusal" data-testid="refusal" data-status=${props.status}>
    <h1 tabindex="-1">${t('refusedTitle')}</h1>
    <p>${props.status === 403 ? t('refused403') : t('refused404')}</p>
    <p><${Link} href=${pathOf.overview()}>${t('backToOverview')}</${Link}></p>
  </section>`;
}

/** A loaded value's view; a 404 or 403 becomes the refusal page. */
export function Show<T>(props: { loaded: Loaded<T>; children: (v: T) => unknown }) {
  const { t } = useApp();
  const l = props.loaded;
  if (l.state === 'loading') return html`<p class="loading" aria-live="polite">${t('loading')}</p>`;
  if (l.state === 'failed') {
    if (l.error instanceof ApiFailure && (l.error.status === 404 || l.error.status === 403)) return html`<${Refusal} status=${l.error.status} />`;
    return html`<p class="error" role="alert">${t('error')}${l.error.message}</p>`;
  }
  return props.children(l.value);
}

/** A small uPlot chart; its series are given as aligned arrays (x in seconds). */
export function Chart(props: { title: string; data: uPlot.AlignedData; series: uPlot.Series[]; height?: number; yRange?: [number, number]; yFormat?: (v: number) => string; testid?: string }) {
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const width = Math.max(200, el.clientWidth || 300);
    const opts: uPlot.Options = {
      width,
      height: props.height ?? 120,
      legend: { show: true },
      cursor: { show: true },
      scales: { x: { time: true }, ...(props.yRange ? { y: { range: props.yRange } } : {}) },
      series: [{}, ...props.series],
      axes: [{ size: 30 }, { size: 80, ...(props.yFormat ? { values: (_u: uPlot, vals: number[]) => vals.map((v) => props.yFormat!(v)) } : {}) }],
    };
    const plot = new uPlot(opts, props.data, el);
    const ro = new ResizeObserver(() => plot.setSize({ width: Math.max(200, el.clientWidth), height: props.height ?? 120 }));
    ro.observe(el);
    return () => {
      ro.disconnect();
      plot.destroy();
    };
  }, [props.data, props.title]);
  return html`<figure class="chart" data-testid=${props.testid}><figcaption>${props.title}</figcaption><div ref=${box} role="img" aria-label=${props.title}></div></figure>`;
}
