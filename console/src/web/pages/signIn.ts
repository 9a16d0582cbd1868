import { useState } from 'preact/hooks';
import { ApiFailure, signIn, type Session } from '../api.ts';
import { html } from '../html.ts';
import { label, type Lang } from '../i18n.ts';

/** Sign-in with a user id and password; the hub sets the session cookie. */
export function SignInPage(props: { lang: Lang; onLang: () => void; onSignedIn: (s: Session) => void }) {
  const t = (k: string, v?: Record<string, string | number>) => label(props.lang, k, v);
  const [user, setUser] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<string | undefined>();
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      props.onSignedIn(await signIn(user, password));
    } catch (err) {
      if (err instanceof ApiFailure && err.status === 429) setError(t('backoff', { s: Number(err.details?.['retryAfterS'] ?? 0) }));
      else if (err instanceof ApiFailure && err.status === 401) setError(t('signInFailed'));
      else setError(`${t('error')}${err instanceof Error ? err.message : String(err)}`);
    } finally {
      setBusy(false);
    }
  };
  return html`<main id="main" class="sign-in">
    <form onSubmit=${submit} aria-labelledby="sign-in-title" data-testid="sign-in-form">
      <h1 id="sign-in-title">${t('appName')}</h1>
      <label>${t('userId')}<input name="user" autocomplete="username" required value=${user} onInput=${(e: Event) => setUser((e.target as HTMLInputElement).value)} /></label>
      <label>${t('password')}<input name="password" type="password" autocomplete="current-password" required value=${password} onInput=${(e: Event) => setPassword((e.target as HTMLInputElement).value)} /></label>
      ${error ? html`<p class="error" role="alert" data-testid="sign-in-error">${error}</p>` : null}
      <button type="submit" disabled=${busy}>${t('signIn')}</button>
      <button type="button" class="link" onClick=${props.onLang} aria-label=${t('switchLangLabel')} data-testid="lang">${t('switchLang')}</button>
    </form>
  </main>`;
}
