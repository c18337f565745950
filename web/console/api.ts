/**
 * The console's fetch wrapper: JSON in and out, the session's CSRF token on every state-changing request (kept in
 * memory only), and on any 401 a trip to the sign-in page (coming back here afterwards).
 */
import type { SessionInfo } from '../lib/api-types.js';
import { BASE } from '../lib/route.js';
import { navigate } from './router.js';

export class ApiError extends Error {
  override name = 'ApiError';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

let csrfToken: string | null = null;

export function setSession(session: SessionInfo | null): void {
  csrfToken = session?.csrfToken ?? null;
}

export function hasSession(): boolean {
  return csrfToken !== null;
}

/** Off to sign-in, remembering where we were. */
export function toSignIn(): void {
  csrfToken = null;
  const here = window.location.pathname + window.location.search;
  if (window.location.pathname === `${BASE}/sign-in`) return;
  navigate(`${BASE}/sign-in?next=${encodeURIComponent(here)}`, { replace: true });
}

export interface RequestOptions {
  readonly method?: 'GET' | 'POST' | 'DELETE';
  readonly body?: unknown;
  readonly signal?: AbortSignal;
  /** Do not go to sign-in on 401 (the sign-in request itself, the session probe). */
  readonly quiet401?: boolean;
}

export async function api<T>(path: string, options: RequestOptions = {}): Promise<T> {
  const method = options.method ?? 'GET';
  const headers: Record<string, string> = { Accept: 'application/json' };
  if (method !== 'GET') {
    if (csrfToken === null && !path.endsWith('/console/api/session')) await loadSession();
    if (csrfToken !== null) headers['X-CSRF-Token'] = csrfToken;
  }
  if (options.body !== undefined) headers['Content-Type'] = 'application/json';
  const init: RequestInit = { method, headers, credentials: 'same-origin' };
  if (options.body !== undefined) init.body = JSON.stringify(options.body);
  if (options.signal !== undefined) init.signal = options.signal;
  const response = await fetch(path, init);
  if (response.status === 401 && options.quiet401 !== true) toSignIn();
  if (!response.ok) {
    let code = `http_${response.status}`;
    let message = `${response.status} ${response.statusText}`;
    try {
      const body = (await response.json()) as { error?: { code?: string; message?: string } };
      code = body.error?.code ?? code;
      message = body.error?.message ?? message;
    } catch {
      // not JSON: keep the status line
    }
    throw new ApiError(response.status, code, message);
  }
  if (response.status === 204) return undefined as T;
  const text = await response.text();
  return (text === '' ? {} : JSON.parse(text)) as T;
}

/** GET /console/api/session: keeps the CSRF token; null when signed out. */
export async function loadSession(): Promise<SessionInfo | null> {
  try {
    const session = await api<SessionInfo>('/console/api/session', { quiet401: true });
    setSession(session);
    return session;
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) {
      setSession(null);
      return null;
    }
    throw error;
  }
}

export async function signIn(key: string): Promise<SessionInfo> {
  const session = await api<SessionInfo>('/console/api/session', { method: 'POST', body: { key }, quiet401: true });
  setSession(session);
  return session;
}

export async function signOut(): Promise<void> {
  try {
    await api<void>('/console/api/session', { method: 'DELETE', quiet401: true });
  } finally {
    setSession(null);
  }
}

export function errorText(error: unknown): string {
  if (error instanceof ApiError) return error.status === 401 ? 'Signed out.' : `${error.message} (${error.code})`;
  return error instanceof Error ? error.message : String(error);
}

/** Data for a page: `{data, error, loading}` of a GET, re-run when `path` changes. */
export type Loaded<T> = { readonly state: 'loading' } | { readonly state: 'error'; readonly error: string } | { readonly state: 'ok'; readonly data: T };
