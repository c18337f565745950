/**
 * Client-side navigation with the history API: `navigate`, the `useLocation` hook and `Link` (a real <a>, so
 * keyboard, middle-click and "open in new tab" work; a plain click is handled here).
 */
import { createElement, type ComponentChildren } from 'preact';
import { useEffect, useState } from 'preact/hooks';

export interface Location {
  readonly pathname: string;
  readonly search: string;
}

const listeners = new Set<() => void>();
const current = (): Location => ({ pathname: window.location.pathname, search: window.location.search });

window.addEventListener('popstate', () => {
  for (const listener of listeners) listener();
});

export function navigate(href: string, options: { replace?: boolean } = {}): void {
  const target = new URL(href, window.location.href);
  const path = target.pathname + target.search + target.hash;
  if (path === window.location.pathname + window.location.search + window.location.hash) return;
  if (options.replace === true) window.history.replaceState(null, '', path);
  else window.history.pushState(null, '', path);
  for (const listener of listeners) listener();
}

export function useLocation(): Location {
  const [location, setLocation] = useState(current);
  useEffect(() => {
    const update = (): void => setLocation(current());
    listeners.add(update);
    update();
    return () => {
      listeners.delete(update);
    };
  }, []);
  return location;
}

export interface LinkProps {
  readonly href: string;
  readonly children?: ComponentChildren;
  readonly class?: string;
  readonly 'aria-current'?: 'page' | undefined;
}

export function Link(props: LinkProps) {
  const onClick = (event: MouseEvent): void => {
    if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    event.preventDefault();
    navigate(props.href);
  };
  return createElement('a', { ...props, onClick }, props.children);
}
