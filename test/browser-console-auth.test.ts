/**
 * Console sign-in in a real Chromium: the right key signs in, a wrong one is refused on the page, an expired session
 * sends the page back to sign-in, and a page on another site cannot make a signed-in browser change anything (the
 * cookie is SameSite=Strict and the server checks Origin and the CSRF token). The other site is a host name Chromium
 * maps to a plain page server of its own (`evil.test`), so its requests come from a different origin exactly as a
 * real attacker's would (and without our pages' Content-Security-Policy, which would stop the form on its own).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock, type Clock } from '../src/clock.js';
import { startBridge, type Bridge } from './helpers/e2e.js';
import { launchChromium, screenshot, type BrowserSession } from './helpers/chromium.js';

const ADMIN_KEY = 'console-admin-key-for-auth-tests-9876543210';
const TTL_S = 120;

/** The system clock, able to jump forward (only the console's sessions read it in these tests: no call runs). */
const offsetMs = { value: 0 };
const jumpingClock: Clock = {
  now: () => systemClock.now() + offsetMs.value,
  setTimeout: (callback, delayMs) => systemClock.setTimeout(callback, delayMs),
  clearTimeout: (handle) => systemClock.clearTimeout(handle),
};

let bridge: Bridge;
let browser: BrowserSession;
let attacker: http.Server;

beforeAll(async () => {
  bridge = await startBridge({ env: { CALLBRIDGE_API_KEY: ADMIN_KEY, CONSOLE_SESSION_TTL_S: String(TTL_S) }, clock: jumpingClock });
  attacker = http.createServer((_req, res) => res.writeHead(200, { 'Content-Type': 'text/html' }).end('<!doctype html><title>evil</title><body></body>'));
  await new Promise<void>((resolve) => attacker.listen(0, '127.0.0.1', resolve));
  browser = await launchChromium({ args: [`--host-resolver-rules=MAP evil.test 127.0.0.1`] });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await bridge?.close();
  attacker?.close();
});

describe('console sign-in in Chromium', () => {
  it('a wrong key is refused on the page and sets no cookie; the right key signs in', async () => {
    const page = await browser.context.newPage();
    await page.goto(`${bridge.baseUrl}/console`);
    await page.waitForURL((url) => url.pathname === '/console/sign-in');
    await page.getByTestId('sign-in-key').fill('not-the-key');
    await page.getByTestId('sign-in-button').click();
    await expect.poll(() => page.getByTestId('sign-in-error').textContent(), { timeout: 5_000 }).toMatch(/key/i);
    expect((await browser.context.cookies()).filter((cookie) => cookie.name === 'cb_session')).toEqual([]);
    await screenshot(page, 'console-sign-in-refused');
    await page.getByTestId('sign-in-key').fill(ADMIN_KEY);
    await page.getByTestId('sign-in-button').click();
    await page.waitForURL((url) => url.pathname === '/console');
    const [cookie] = (await browser.context.cookies()).filter((entry) => entry.name === 'cb_session');
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Strict', path: '/' });
    await page.close();
  });

  it('works from the keyboard alone: Tab to the key, type it, Enter signs in; Tab reaches the navigation', async () => {
    const context = await browser.browser.newContext();
    const page = await context.newPage();
    await page.goto(`${bridge.baseUrl}/console/sign-in`);
    let focused = '';
    for (let presses = 0; presses < 10 && focused !== 'sign-in-key'; presses++) {
      await page.keyboard.press('Tab');
      focused = await page.evaluate(() => (globalThis as unknown as { document: { activeElement: { getAttribute(name: string): string | null } | null } }).document.activeElement?.getAttribute('data-testid') ?? '');
    }
    expect(focused).toBe('sign-in-key');
    await page.keyboard.type(ADMIN_KEY);
    await page.keyboard.press('Enter');
    await page.waitForURL((url) => url.pathname === '/console');
    await page.keyboard.press('Tab');
    const first = await page.evaluate(() => {
      const element = (globalThis as unknown as { document: { activeElement: { tagName: string; textContent: string | null } | null } }).document.activeElement;
      return { tag: element?.tagName ?? '', text: element?.textContent?.trim() ?? '' };
    });
    expect(first.tag).toBe('A');
    await context.close();
  });

  it('a page on another site cannot change anything with the signed-in browser', async () => {
    const page = await browser.context.newPage();
    await page.goto(`${bridge.baseUrl}/console`);
    await page.waitForURL((url) => url.pathname === '/console');
    const port = bridge.server.port;
    // The attacker's page: a form (a "simple" request: no preflight) posting to the console's API, and a fetch.
    const evil = await browser.context.newPage();
    await evil.goto(`http://evil.test:${(attacker.address() as AddressInfo).port}/`);
    const formStatus = evil.waitForResponse((response) => response.url().includes('/console/api/phone-token'));
    await evil.evaluate((target) => {
      const document = (globalThis as unknown as { document: { createElement(tag: string): Record<string, unknown> & { appendChild(child: unknown): void; submit(): void }; body: { appendChild(child: unknown): void } } }).document;
      const form = document.createElement('form');
      form.method = 'POST';
      form.action = target;
      form.enctype = 'text/plain';
      const field = document.createElement('input');
      field.name = '{"agent":"default","x":"';
      field.value = '"}';
      form.appendChild(field);
      document.body.appendChild(form);
      form.submit();
    }, `http://127.0.0.1:${port}/console/api/phone-token`).catch(() => undefined); // the submit navigates the page away
    expect([401, 403]).toContain((await formStatus).status());
    await evil.waitForURL((url) => url.pathname === '/console/api/phone-token');
    await evil.goto(`http://evil.test:${(attacker.address() as AddressInfo).port}/`);
    const fetched = await evil.evaluate(async (target) => {
      try {
        const response = await fetch(target, { method: 'POST', credentials: 'include', mode: 'no-cors', body: '{"agent":"default"}' });
        return response.type;
      } catch (error) {
        return String(error);
      }
    }, `http://127.0.0.1:${port}/console/api/phone-token`);
    // An opaque answer at best: the page learns nothing, and the server refused it (below).
    expect(fetched).toBe('opaque');
    // Nothing was issued to the other site; the same-site page still gets a token (its session is intact).
    expect(bridge.server.phoneTokens.size).toBe(0);
    const own = await page.evaluate(async () => {
      const session = (await (await fetch('/console/api/session')).json()) as { csrfToken: string };
      const response = await fetch('/console/api/phone-token', { method: 'POST', headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': session.csrfToken }, body: '{"agent":"default"}' });
      return response.status;
    });
    expect(own).toBe(200);
    expect(bridge.server.phoneTokens.size).toBe(1);
    await evil.close();
    await page.close();
  });

  it('an expired session sends the page back to sign-in', async () => {
    const page = await browser.context.newPage();
    await page.goto(`${bridge.baseUrl}/console/history`);
    await page.waitForURL((url) => url.pathname === '/console/history');
    offsetMs.value += (TTL_S + 1) * 1000;
    const status = await page.evaluate(async () => {
      const response = await fetch('/console/api/session');
      return { status: response.status, body: (await response.json()) as unknown };
    });
    expect(status).toEqual({ status: 401, body: { error: { code: 'session_expired', message: expect.any(String) } } });
    await page.goto(`${bridge.baseUrl}/console/overview`);
    await page.waitForURL((url) => url.pathname === '/console/sign-in', { timeout: 5_000 });
    await page.close();
  });
});
