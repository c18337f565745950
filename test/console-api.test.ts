/**
 * The console's sign-in, sessions and same-site rules over real HTTP (express on 127.0.0.1:0, global fetch): cookie
 * attributes, expiry on a manual clock, login CSRF and CSRF, sign-out, the throttle, the records API with a session,
 * the console being off without a key, and the pages with their security headers.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CONTENT_SECURITY_POLICY, NOT_BUILT_MESSAGE } from '../src/console/pages.js';
import { callSid, sampleRecord } from './helpers/fake-record-store.js';
import { ADMIN_KEY, EPOCH0, errorOf, signIn, useConsoleApps } from './helpers/console-app.js';

const start = useConsoleApps();

const jsonPost = (body: unknown, headers: Record<string, string> = {}): RequestInit & { headers: Record<string, string> } => ({
  method: 'POST',
  headers: { 'content-type': 'application/json', ...headers },
  body: JSON.stringify(body),
});

describe('sign-in and sessions', () => {
  it('signs in with the admin key: 200 {csrfToken, expiresAtMs} and an HttpOnly, SameSite=Strict session cookie', async () => {
    const app = await start();
    app.clock.advance(1_000);
    const response = await app.request('/console/api/session', jsonPost({ key: ADMIN_KEY }));
    expect(response.status).toBe(200);
    expect(response.headers.get('cache-control')).toBe('no-store');
    const body = (await response.json()) as Record<string, unknown>;
    expect(Object.keys(body).sort()).toEqual(['csrfToken', 'expiresAtMs']);
    expect(body['expiresAtMs']).toBe(EPOCH0 + 1_000 + 3_600_000);
    expect(body['csrfToken']).toMatch(/^[A-Za-z0-9_-]{32}$/);
    const cookie = response.headers.get('set-cookie')!;
    expect(cookie).toMatch(/^cb_session=[A-Za-z0-9_-]{43}; Max-Age=3600; Path=\/; HttpOnly; SameSite=Strict$/);
    // Over plain http (no TLS, no trusted proxy) the cookie is not Secure, or the browser would never send it back.
    expect(cookie).not.toContain('Secure');
    expect(JSON.stringify(app.logs.lines)).not.toContain(ADMIN_KEY);
    expect(JSON.stringify(app.logs.lines)).not.toContain(cookie.slice('cb_session='.length, cookie.indexOf(';')));
    expect(app.logs.matching('console signed in')).toHaveLength(1);
  });

  it('GET /console/api/session gives the same token and expiry; without a cookie 401 no_session', async () => {
    const app = await start();
    const session = await signIn(app);
    const response = await app.request('/console/api/session', { headers: { cookie: session.cookie } });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ csrfToken: session.csrfToken, expiresAtMs: session.expiresAtMs });
    expect(await errorOf(await app.request('/console/api/session'))).toEqual({ status: 401, code: 'no_session' });
    expect(await errorOf(await app.request('/console/api/session', { headers: { cookie: 'cb_session=made-up' } }))).toEqual({ status: 401, code: 'no_session' });
  });

  it('a wrong key is 401 bad_key (any length), without a cookie; a body without a key is 400', async () => {
    const app = await start();
    for (const key of ['cb_admin_9d2f71c04e8a3b57', 'x', `${ADMIN_KEY}x`]) {
      const response = await app.request('/console/api/session', jsonPost({ key }));
      expect(response.headers.get('set-cookie')).toBeNull();
      expect(await errorOf(response)).toEqual({ status: 401, code: 'bad_key' });
    }
    expect(await errorOf(await app.request('/console/api/session', jsonPost({ secret: ADMIN_KEY })))).toEqual({ status: 400, code: 'bad_request' });
    expect(await errorOf(await app.request('/console/api/session', { method: 'POST', body: '{"key":' }))).toEqual({ status: 400, code: 'bad_request' });
    expect(app.logs.matching('wrong key refused')).toHaveLength(3);
    expect(JSON.stringify(app.logs.lines)).not.toContain('cb_admin_9d2f71c04e8a3b5');
  });

  it('a session expires after CONSOLE_SESSION_TTL_S (absolute, not renewed by use): 401 session_expired', async () => {
    const app = await start();
    const session = await signIn(app);
    app.clock.advance(3_599_999);
    expect((await app.request('/console/api/session', { headers: { cookie: session.cookie } })).status).toBe(200);
    app.clock.advance(1);
    expect(await errorOf(await app.request('/console/api/session', { headers: { cookie: session.cookie } }))).toEqual({ status: 401, code: 'session_expired' });
    expect(await errorOf(await app.request('/console/api/agents', { headers: { cookie: session.cookie } }))).toEqual({ status: 401, code: 'session_expired' });
  });

  it('throttles sign-in: after 10 wrong keys in a minute from one address, 429 too_many_attempts (even with the right key)', async () => {
    const app = await start();
    for (let attempt = 0; attempt < 10; attempt++) {
      app.clock.advance(1_000);
      expect((await app.request('/console/api/session', jsonPost({ key: 'wrong' }))).status).toBe(401);
    }
    const refused = await app.request('/console/api/session', jsonPost({ key: ADMIN_KEY }));
    // The first failure (at 1 s) leaves the window at 61 s; it is 10 s now.
    expect(refused.headers.get('retry-after')).toBe('51');
    expect(await errorOf(refused)).toEqual({ status: 429, code: 'too_many_attempts' });
    app.clock.advance(51_000);
    expect((await app.request('/console/api/session', jsonPost({ key: ADMIN_KEY }))).status).toBe(200);
  });

  it('signs out: 204, the cookie is cleared, the session is gone', async () => {
    const app = await start();
    const session = await signIn(app);
    const response = await app.request('/console/api/session', { method: 'DELETE', headers: { cookie: session.cookie, 'x-csrf-token': session.csrfToken } });
    expect(response.status).toBe(204);
    expect(response.headers.get('set-cookie')).toBe('cb_session=; Max-Age=0; Path=/; HttpOnly; SameSite=Strict');
    expect(await errorOf(await app.request('/console/api/session', { headers: { cookie: session.cookie } }))).toEqual({ status: 401, code: 'no_session' });
    expect(app.sessions?.size).toBe(0);
  });

  it('sign-out needs the CSRF token of a live session; a stale cookie is simply cleared', async () => {
    const app = await start();
    const session = await signIn(app);
    expect(await errorOf(await app.request('/console/api/session', { method: 'DELETE', headers: { cookie: session.cookie } }))).toEqual({ status: 403, code: 'csrf' });
    expect((await app.request('/console/api/session', { headers: { cookie: session.cookie } })).status).toBe(200);
    expect((await app.request('/console/api/session', { method: 'DELETE', headers: { cookie: 'cb_session=stale' } })).status).toBe(204);
  });

  it('signing in again ends the browser\'s previous session', async () => {
    const app = await start();
    const first = await signIn(app);
    const response = await app.request('/console/api/session', jsonPost({ key: ADMIN_KEY }, { cookie: first.cookie }));
    expect(response.status).toBe(200);
    expect(await errorOf(await app.request('/console/api/session', { headers: { cookie: first.cookie } }))).toEqual({ status: 401, code: 'no_session' });
  });
});

describe('same-site rules', () => {
  it('refuses sign-in from another site (login CSRF): Origin, or Sec-Fetch-Site: cross-site without one', async () => {
    const app = await start();
    expect(await errorOf(await app.request('/console/api/session', jsonPost({ key: ADMIN_KEY }, { origin: 'https://evil.example' })))).toEqual({ status: 403, code: 'csrf' });
    expect(await errorOf(await app.request('/console/api/session', jsonPost({ key: ADMIN_KEY }, { origin: 'null' })))).toEqual({ status: 403, code: 'csrf' });
    expect(await errorOf(await app.request('/console/api/session', jsonPost({ key: ADMIN_KEY }, { 'sec-fetch-site': 'cross-site' })))).toEqual({ status: 403, code: 'csrf' });
    // The request's own origin, and the configured public origin (behind a TLS proxy), are ours.
    expect((await app.request('/console/api/session', jsonPost({ key: ADMIN_KEY }, { origin: app.base, 'sec-fetch-site': 'same-origin' }))).status).toBe(200);
  });

  it('behind a trusted proxy, X-Forwarded-Proto/Host make the origin https and the cookie Secure', async () => {
    const app = await start({ trustProxy: true });
    const forwarded = { 'x-forwarded-proto': 'https', 'x-forwarded-host': 'console.example.com' };
    const response = await app.request('/console/api/session', jsonPost({ key: ADMIN_KEY }, { ...forwarded, origin: 'https://console.example.com' }));
    expect(response.status).toBe(200);
    expect(response.headers.get('set-cookie')).toMatch(/^cb_session=[A-Za-z0-9_-]{43}; Max-Age=3600; Path=\/; HttpOnly; SameSite=Strict; Secure$/);
    // The plain-http origin is another site now.
    expect(await errorOf(await app.request('/console/api/session', jsonPost({ key: ADMIN_KEY }, { ...forwarded, origin: 'http://console.example.com' })))).toEqual({
      status: 403,
      code: 'csrf',
    });
    // Without 'trust proxy' the forwarded headers mean nothing.
    const untrusting = await start();
    expect(await errorOf(await untrusting.request('/console/api/session', jsonPost({ key: ADMIN_KEY }, { ...forwarded, origin: 'https://console.example.com' })))).toEqual({
      status: 403,
      code: 'csrf',
    });
  });

  it('accepts the configured PUBLIC_BASE_URL as our origin', async () => {
    const app = await start({ env: { PUBLIC_BASE_URL: 'https://voice.example.com' } });
    expect((await app.request('/console/api/session', jsonPost({ key: ADMIN_KEY }, { origin: 'https://voice.example.com' }))).status).toBe(200);
    expect((await app.request('/console/api/session', jsonPost({ key: ADMIN_KEY }, { origin: 'https://voice.example.com.evil.example' }))).status).toBe(403);
  });

  it('refuses a cross-site state-changing request with a session (403 csrf), even with the right token, and never acts', async () => {
    const app = await start();
    app.live.add(callSid(7));
    const session = await signIn(app);
    const response = await app.request(`/console/api/calls/${callSid(7)}/hangup`, {
      method: 'POST',
      headers: { cookie: session.cookie, 'x-csrf-token': session.csrfToken, origin: 'https://evil.example' },
    });
    expect(await errorOf(response)).toEqual({ status: 403, code: 'csrf' });
    expect(app.hangUps).toEqual([]);
  });

  it('refuses a state-changing request without the CSRF token or with a wrong one', async () => {
    const app = await start();
    app.live.add(callSid(7));
    const session = await signIn(app);
    const path = `/console/api/calls/${callSid(7)}/hangup`;
    expect(await errorOf(await app.request(path, { method: 'POST', headers: { cookie: session.cookie } }))).toEqual({ status: 403, code: 'csrf' });
    const wrong = `${session.csrfToken.slice(0, -1)}${session.csrfToken.endsWith('A') ? 'B' : 'A'}`;
    expect(await errorOf(await app.request(path, { method: 'POST', headers: { cookie: session.cookie, 'x-csrf-token': wrong } }))).toEqual({ status: 403, code: 'csrf' });
    expect(app.hangUps).toEqual([]);
    // A GET needs no token.
    expect((await app.request('/console/api/agents', { headers: { cookie: session.cookie } })).status).toBe(200);
  });
});

describe('the records API with a console session', () => {
  it('lets a session read /api/calls without the bearer key; without either it is 401; an expired session says so', async () => {
    const app = await start();
    await app.store.insertCalls([sampleRecord({ callSid: callSid(1) })]);
    const session = await signIn(app);
    const listed = await app.request('/api/calls', { headers: { cookie: session.cookie } });
    expect(listed.status).toBe(200);
    expect(((await listed.json()) as { calls: unknown[] }).calls).toHaveLength(1);
    expect((await app.request(`/api/calls/${callSid(1)}`, { headers: { cookie: session.cookie } })).status).toBe(200);
    expect(await errorOf(await app.request('/api/calls'))).toEqual({ status: 401, code: 'unauthorized' });
    // A bearer credential is judged alone: a wrong key is refused even with a live session.
    expect(await errorOf(await app.request('/api/calls', { headers: { cookie: session.cookie, authorization: 'Bearer wrong' } }))).toEqual({ status: 401, code: 'unauthorized' });
    expect((await app.request('/api/calls', { headers: { authorization: `Bearer ${ADMIN_KEY}` } })).status).toBe(200);
    app.clock.advance(3_600_000);
    const expired = await app.request('/api/calls', { headers: { cookie: session.cookie } });
    expect(expired.headers.get('www-authenticate')).toBe('Bearer realm="callbridge"');
    expect(await errorOf(expired)).toEqual({ status: 401, code: 'session_expired' });
  });
});

describe('console off (no admin key)', () => {
  it('answers 404 console_off for the API and a plain 404 for pages; the records API stays off too', async () => {
    const app = await start({ adminKey: null });
    expect(await errorOf(await app.request('/console/api/session', jsonPost({ key: 'anything' })))).toEqual({ status: 404, code: 'console_off' });
    expect(await errorOf(await app.request('/console/api/live'))).toEqual({ status: 404, code: 'console_off' });
    for (const path of ['/console', '/console/history', '/console/assets/app.js']) {
      const response = await app.request(path);
      expect(response.status).toBe(404);
      expect(response.headers.get('content-type')).toMatch(/^text\/plain/);
    }
    expect(await errorOf(await app.request('/api/calls'))).toEqual({ status: 404, code: 'api_disabled' });
  });
});

describe('pages', () => {
  it('serves index.html for /console and its client routes, assets from assets/, with the security headers', async () => {
    const app = await start();
    await writeFile(join(app.assetsDir, 'index.html'), '<!doctype html><title>callbridge</title>');
    await mkdir(join(app.assetsDir, 'assets'));
    await writeFile(join(app.assetsDir, 'assets', 'main-AB12CD34.js'), 'console.log(1)');
    await writeFile(join(app.assetsDir, 'assets', 'plain.css'), 'body{}');
    for (const path of ['/console', '/console/', '/console/history', '/console/calls/CA1234', '/console/sign-in', '/console/phone']) {
      const response = await app.request(path);
      expect(response.status, path).toBe(200);
      expect(response.headers.get('content-type')).toMatch(/^text\/html/);
      expect(response.headers.get('content-security-policy')).toBe(CONTENT_SECURITY_POLICY);
      expect(response.headers.get('x-content-type-options')).toBe('nosniff');
      expect(response.headers.get('referrer-policy')).toBe('no-referrer');
      expect(response.headers.get('cache-control')).toBe('no-cache');
      expect(await response.text()).toBe('<!doctype html><title>callbridge</title>');
    }
    const script = await app.request('/console/assets/main-AB12CD34.js');
    expect(script.status).toBe(200);
    expect(script.headers.get('content-type')).toMatch(/javascript/);
    expect(script.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect((await app.request('/console/assets/plain.css')).headers.get('cache-control')).toBe('no-cache');
    const missing = await app.request('/console/assets/nope.js');
    expect(missing.status).toBe(404);
    expect(await missing.text()).toBe('Not found\n');
    // A traversal the client does not normalise away (fetch would turn `/../` into `/index.html` before sending).
    const traversal = await app.request('/console/assets/..%2findex.html');
    expect(traversal.status).toBe(404);
    expect(await traversal.text()).toBe('Not found\n');
    // Unknown API routes are JSON, never the page.
    expect(await errorOf(await app.request('/console/api/nope'))).toEqual({ status: 404, code: 'not_found' });
    // Other paths are not the console's.
    expect(await (await app.request('/consoles')).text()).toBe('app 404');
  });

  it('answers 503 with a one-line hint when the console was never built', async () => {
    const app = await start();
    const response = await app.request('/console/history');
    expect(response.status).toBe(503);
    expect(response.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(await response.text()).toBe(NOT_BUILT_MESSAGE);
    expect(NOT_BUILT_MESSAGE).toContain('npm run build');
    expect(NOT_BUILT_MESSAGE.trimEnd()).not.toContain('\n');
  });
});
