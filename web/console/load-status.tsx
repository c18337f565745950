/** The loading line or the error alert of a page's GET (`Loaded` from useApi, or a page's own state like it). */
export function LoadStatus({ loaded }: { loaded: { readonly state: 'loading' | 'ok' } | { readonly state: 'error'; readonly error: string } }) {
  if (loaded.state === 'loading') return <p class="muted">Loading…</p>;
  if (loaded.state === 'error') {
    return (
      <p class="error" role="alert">
        {loaded.error}
      </p>
    );
  }
  return null;
}
