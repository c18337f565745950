/**
 * Behind a TLS-terminating proxy: with TRUST_PROXY naming it, the console's session cookie is Secure (the browser
 * spoke https to the proxy) and the sign-in throttle counts the real client (X-Forwarded-For), not the proxy; without
 * it, forwarded headers are ignored.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { startBridge, type Bridge } from './helpers/e2e.js';

const KEY = 'proxy-test-admin-key-0123456789abcdef';
let bridge: Bridge | null = null;
afterEach(async () => {
  await bridge?.close();
  bridge = null;
});

const signIn = (b: Bridge, key: string, headers: Record<string, string>) =>
  fetch(`${b.baseUrl}/console/api/session`, { method: 'POST', headers: { 'Content-Type': 'application/json', ...headers }, body: JSON.stringify({ key }) });

describe('the console behind a proxy', () => {
  it('TRUST_PROXY=loopback: Secure cookie over the proxy https, and the throttle keys on the forwarded client', async () => {
    bridge = await startBridge({ env: { CALLBRIDGE_API_KEY: KEY, TRUST_PROXY: 'loopback' } });
    const ok = await signIn(bridge, KEY, { 'X-Forwarded-Proto': 'https', 'X-Forwarded-For': '203.0.113.7' });
    expect(ok.status).toBe(200);
    expect(ok.headers.get('set-cookie')).toMatch(/; Secure$/);
    // Ten wrong keys from one client lock that client out, not the next one behind the same proxy.
    for (let attempt = 0; attempt < 10; attempt++) expect((await signIn(bridge, 'wrong', { 'X-Forwarded-For': '203.0.113.8' })).status).toBe(401);
    expect((await signIn(bridge, 'wrong', { 'X-Forwarded-For': '203.0.113.8' })).status).toBe(429);
    expect((await signIn(bridge, KEY, { 'X-Forwarded-For': '203.0.113.9' })).status).toBe(200);
  });

  it('without TRUST_PROXY the forwarded headers are not believed', async () => {
    bridge = await startBridge({ env: { CALLBRIDGE_API_KEY: KEY } });
    const ok = await signIn(bridge, KEY, { 'X-Forwarded-Proto': 'https' });
    expect(ok.status).toBe(200);
    expect(ok.headers.get('set-cookie')).not.toMatch(/Secure/);
  });
});
