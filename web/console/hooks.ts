/** Small hooks shared by the pages. */
import { useEffect, useRef, useState } from 'preact/hooks';
import { api, errorText, type Loaded } from './api.js';

/** GET `path` (null = nothing to load), re-run when it changes; aborted when the page goes away. */
export function useApi<T>(path: string | null): Loaded<T> {
  const [loaded, setLoaded] = useState<Loaded<T>>({ state: 'loading' });
  useEffect(() => {
    if (path === null) return;
    const controller = new AbortController();
    setLoaded({ state: 'loading' });
    api<T>(path, { signal: controller.signal }).then(
      (data) => setLoaded({ state: 'ok', data }),
      (error: unknown) => {
        if (!controller.signal.aborted) setLoaded({ state: 'error', error: errorText(error) });
      },
    );
    return () => controller.abort();
  }, [path]);
  return loaded;
}

/** Date.now(), updated every `everyMs`. */
export function useNow(everyMs = 1000): number {
  const [now, setNow] = useState(Date.now);
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), everyMs);
    return () => clearInterval(timer);
  }, [everyMs]);
  return now;
}

/** Sets the document title and moves focus to the page's h1 (so keyboard and screen-reader users land on it). */
export function usePageTitle(title: string) {
  const heading = useRef<HTMLHeadingElement>(null);
  useEffect(() => {
    document.title = `${title} · callbridge`;
  }, [title]);
  useEffect(() => {
    if (document.activeElement === null || document.activeElement === document.body || document.activeElement.closest('nav') !== null) {
      heading.current?.focus({ preventScroll: true });
    }
  }, []);
  return heading;
}
