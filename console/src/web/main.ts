import { render } from 'preact';
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { currentSession, get, signOut, whenSignedOut, type Session } from './api.ts';
import { AppContext, onLink, translator, type AppState, type District } from './context.ts';
import { html } from './html.ts';
import { LANG_KEY, label, storedLang, type Lang } from './i18n.ts';
import { live, useLiveUp } from './live.ts';
import { DevicePage } from './pages/device.ts';
import { DevicesPage } from './pages/devices.ts';
import { GatewaysPage } from './pages/gateways.ts';
import { InventoryPage } from './pages/inventory.ts';
import { OverviewPage } from './pages/overview.ts';
import { SchoolPage } from './pages/school.ts';
import { SignInPage } from './pages/signIn.ts';
import { pathOf, routeOf, type Route } from './route.ts';
import { Refusal } from './widgets.ts';

function navigateTo(path: string, replace = false): void {
  if (replace) history.replaceState(null, '', path);
  else history.pushState(null, '', path);
  dispatchEvent(new PopStateEvent('popstate'));
}

function usePath(): string {
  const [path, setPath] = useState(location.pathname + location.search);
  useEffect(() => {
    const on = () => setPath(location.pathname + location.search);
    addEventListener('popstate', on);
    return () => removeEventListener('popstate', on);
  }, []);
  return path;
}

function Page(props: { route: Route; search: string }) {
  const r = props.route;
  switch (r.page) {
    case 'overview':
      return html`<${OverviewPage} />`;
    case 'school':
      return html`<${SchoolPage} school=${r.school} />`;
    case 'devices':
      return html`<${DevicesPage} search=${props.search} />`;
    case 'device':
      return html`<${DevicePage} device=${r.device} />`;
    case 'gateways':
      return html`<${GatewaysPage} />`;
    case 'inventory':
      return html`<${InventoryPage} />`;
    default:
      return html`<${Refusal} status=${404} />`;
  }
}

const NAV: Array<{ key: string; href: string; pages: Route['page'][] }> = [
  { key: 'overview', href: pathOf.overview(), pages: ['overview', 'school'] },
  { key: 'devices', href: pathOf.devices(), pages: ['devices', 'device'] },
  { key: 'gateways', href: pathOf.gateways(), pages: ['gateways'] },
  { key: 'inventory', href: pathOf.inventory(), pages: ['inventory'] },
];

function Shell(props: { app: AppState; route: Route; search: string; onLang: () => void; onSignOut: () => void }) {
  const { t, session, navigate } = props.app;
  const liveUp = useLiveUp();
  const follow = onLink(navigate);
  return html`<${AppContext.Provider} value=${props.app}>
    <a class="skip" href="#main">${t('skip')}</a>
    <header class="top">
      <span class="brand">${t('appName')}</span>
      <nav aria-label=${t('appName')}>
        <ul>
          ${NAV.map((n) => html`<li><a href=${n.href} onClick=${follow} aria-current=${n.pages.includes(props.route.page) ? 'page' : undefined} data-testid=${`nav-${n.key}`}>${t(n.key)}</a></li>`)}
        </ul>
      </nav>
      <span class=${`live ${liveUp ? 'up' : 'down'}`} role="status" data-testid="live" data-up=${String(liveUp)}>${liveUp ? t('live') : t('liveLost')}</span>
      <span class="who" data-testid="who">${t('signedInAs')}${session.user.displayName || session.user.id}</span>
      <button type="button" onClick=${props.onLang} aria-label=${t('switchLangLabel')} data-testid="lang">${t('switchLang')}</button>
      <button type="button" onClick=${props.onSignOut} data-testid="sign-out">${t('signOut')}</button>
    </header>
    <main id="main" tabindex="-1"><${Page} route=${props.route} search=${props.search} /></main>
  </${AppContext.Provider}>`;
}

function App() {
  const [lang, setLang] = useState<Lang>(storedLang(globalThis.localStorage));
  const [session, setSession] = useState<Session | null | undefined>(undefined);
  const [districts, setDistricts] = useState(new Map<string, District>());
  const path = usePath();
  const url = new URL(path, location.origin);
  const route = routeOf(url.pathname);

  useEffect(() => {
    whenSignedOut(() => setSession(null));
    currentSession().then(setSession, () => setSession(null));
  }, []);
  useEffect(() => {
    document.documentElement.lang = lang === 'zh' ? 'zh-CN' : 'en';
    document.title = label(lang, 'appName');
  }, [lang]);
  useEffect(() => {
    if (!session) {
      live.close();
      return;
    }
    live.open();
    get<{ items: District[] }>('/districts?limit=1000').then((p) => setDistricts(new Map(p.items.map((d) => [d.id, d]))), () => {});
  }, [session]);
  // Focus the page's heading after a navigation (not on the first load: the skip link comes
  // first then), so a keyboard or screen reader user starts there.
  const firstPath = useRef(url.pathname);
  useEffect(() => {
    if (url.pathname === firstPath.current) return;
    firstPath.current = '';
    const h = document.querySelector<HTMLElement>('main h1');
    if (h) {
      h.tabIndex = -1;
      h.focus({ preventScroll: true });
    }
  }, [url.pathname, session]);

  // Signed in, the sign-in page has nothing to show: go to the overview.
  useEffect(() => {
    if (session && route.page === 'signIn') navigateTo(pathOf.overview(), true);
  }, [session, route.page]);

  const app = useMemo<AppState | undefined>(
    () => (session ? { session, lang, t: translator(lang), districts, navigate: (p: string) => navigateTo(p) } : undefined),
    [session, lang, districts],
  );
  const toggleLang = () => {
    const next: Lang = lang === 'zh' ? 'en' : 'zh';
    localStorage.setItem(LANG_KEY, next);
    setLang(next);
  };

  if (session === undefined) return html`<p class="loading">${label(lang, 'loading')}</p>`;
  if (session === null || !app) {
    return html`<${SignInPage}
      lang=${lang}
      onLang=${toggleLang}
      onSignedIn=${(s: Session) => setSession(s)}
    />`;
  }
  if (route.page === 'signIn') return null;
  return html`<${Shell}
    app=${app}
    route=${route}
    search=${url.search}
    onLang=${toggleLang}
    onSignOut=${async () => {
      live.close();
      await signOut().catch(() => {});
      setSession(null);
      navigateTo(pathOf.signIn(), true);
    }}
  />`;
}

render(html`<${App} />`, document.getElementById('app')!);
