import { createContext } from 'preact';
import { useContext, useEffect, useRef, useState } from 'preact/hooks';
import { ApiFailure, type Session } from './api.ts';
import { label, type Lang } from './i18n.ts';

export interface District {
  id: string;
  nameZh: string;
  nameEn: string;
}

export interface AppState {
  session: Session;
  lang: Lang;
  t: (key: string, vars?: Record<string, string | number>) => string;
  districts: Map<string, District>;
  navigate: (path: string) => void;
}

export const AppContext = createContext<AppState | null>(null);

export function useApp(): AppState {
  const a = useContext(AppContext);
  if (!a) throw new Error('useApp outside the signed-in console');
  return a;
}

export const translator = (lang: Lang) => (key: string, vars?: Record<string, string | number>) => label(lang, key, vars);

export type Loaded<T> = { state: 'loading' } | { state: 'ok'; value: T } | { state: 'failed'; error: ApiFailure | Error };

/** Loads `fn` whenever `deps` change; `reload` loads again without clearing what is shown. */
export function useLoad<T>(fn: () => Promise<T>, deps: unknown[]): [Loaded<T>, () => void, (f: (v: T) => T) => void] {
  const [v, setV] = useState<Loaded<T>>({ state: 'loading' });
  const [n, setN] = useState(0);
  useEffect(() => {
    let live = true;
    fn().then(
      (value) => live && setV({ state: 'ok', value }),
      (error: unknown) => live && setV({ state: 'failed', error: error instanceof Error ? error : new Error(String(error)) }),
    );
    return () => {
      live = false;
    };
  }, [...deps, n]);
  const update = (f: (v: T) => T) => setV((cur) => (cur.state === 'ok' ? { state: 'ok', value: f(cur.value) } : cur));
  return [v, () => setN((x) => x + 1), update];
}

/** A link inside the console: a real anchor (keyboard, new tab), followed without a reload. */
export function onLink(navigate: (p: string) => void) {
  return (e: MouseEvent) => {
    const a = e.currentTarget as HTMLAnchorElement;
    if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    e.preventDefault();
    navigate(a.getAttribute('href') ?? '/console/');
  };
}

/** `fn` called once `ms` after the last of a burst of calls (a sample moves many devices at once). */
export function useSettled(fn: () => void, ms = 300): () => void {
  const ref = useRef(fn);
  ref.current = fn;
  const timer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  useEffect(() => () => clearTimeout(timer.current), []);
  return () => {
    clearTimeout(timer.current);
    timer.current = setTimeout(() => ref.current(), ms);
  };
}
