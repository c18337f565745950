/**
 * The console's client-side routes (docs/console.md, "Pages"). Pure: pathname → route, route → pathname.
 */
export type Route =
  | { readonly page: 'live' }
  | { readonly page: 'history' }
  | { readonly page: 'call'; readonly callSid: string }
  | { readonly page: 'overview' }
  | { readonly page: 'agents' }
  | { readonly page: 'phone' }
  | { readonly page: 'sign-in' }
  | { readonly page: 'not-found' };

export const BASE = '/console';

export function parseRoute(pathname: string): Route {
  const path = pathname.length > 1 ? pathname.replace(/\/+$/, '') : pathname;
  if (path === BASE) return { page: 'live' };
  if (!path.startsWith(`${BASE}/`)) return { page: 'not-found' };
  const rest = path.slice(BASE.length + 1).split('/');
  const [first, second] = rest;
  if (rest.length === 1) {
    switch (first) {
      case 'history':
      case 'overview':
      case 'agents':
      case 'phone':
      case 'sign-in':
        return { page: first };
      default:
        return { page: 'not-found' };
    }
  }
  if (rest.length === 2 && first === 'calls' && second !== undefined && second !== '') {
    let callSid: string;
    try {
      callSid = decodeURIComponent(second);
    } catch {
      return { page: 'not-found' };
    }
    return { page: 'call', callSid };
  }
  return { page: 'not-found' };
}

export function callPath(callSid: string): string {
  return `${BASE}/calls/${encodeURIComponent(callSid)}`;
}

/** Where to go after signing in: only a console path of this site (never `//evil` or an absolute URL). */
export function safeNext(next: string | null): string {
  if (next === null || !next.startsWith(`${BASE}`) || next.startsWith('//') || next.startsWith(`${BASE}/sign-in`)) return BASE;
  return next;
}
