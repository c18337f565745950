/** `/console/sign-in`: the admin key → a console session. */
import { useState } from 'preact/hooks';
import { safeNext } from '../../lib/route.js';
import { ApiError, errorText, signIn } from '../api.js';
import { usePageTitle } from '../hooks.js';
import { navigate } from '../router.js';

export function SignInPage({ search }: { search: string }) {
  const heading = usePageTitle('Sign in');
  const [key, setKey] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const onSubmit = async (event: Event): Promise<void> => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await signIn(key);
      navigate(safeNext(new URLSearchParams(search).get('next')), { replace: true });
    } catch (failure) {
      setError(failure instanceof ApiError && failure.status === 401 ? 'That key is not right.' : errorText(failure));
      setBusy(false);
    }
  };

  return (
    <section class="narrow">
      <h1 tabIndex={-1} ref={heading}>
        Sign in
      </h1>
      <form onSubmit={(event) => void onSubmit(event)} class="stack">
        <label for="admin-key">Admin key</label>
        <input
          id="admin-key"
          name="key"
          type="password"
          autoComplete="current-password"
          required
          value={key}
          onInput={(event) => setKey(event.currentTarget.value)}
          aria-describedby={error === null ? undefined : 'sign-in-error'}
          data-testid="sign-in-key"
        />
        {error === null ? null : (
          <p id="sign-in-error" class="error" role="alert" data-testid="sign-in-error">
            {error}
          </p>
        )}
        <button type="submit" disabled={busy || key === ''} data-testid="sign-in-button">
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
      <p class="muted">The admin key is the server's CALLBRIDGE_API_KEY.</p>
    </section>
  );
}
