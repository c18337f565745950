/**
 * The console API behind a session over real HTTP: the live stream (snapshot, then updates in order with their exact
 * JSON, keepalives on the manual clock, the end when the session expires or the client goes), hang-up, agents (and
 * that no secret leaks), the overview from fake records, and browser-phone tokens.
 */
import { describe, expect, it } from 'vitest';
import type { CallEvent } from '../src/call/call-events.js';
import { emptySummary } from '../src/call/call-summary.js';
import { MAX_LIVE_STREAMS, OPERATOR_HANGUP_REASON } from '../src/console/router.js';
import type { CallInfo } from '../src/observers/hub.js';
import { callSid, sampleRecord } from './helpers/fake-record-store.js';
import {
  ADMIN_KEY,
  EPOCH0,
  errorOf,
  MCP_SECRET,
  SECRET_HEADER,
  SIGNING_SECRET,
  signIn,
  SseReader,
  useConsoleApps,
  type ConsoleApp,
  type SignedIn,
} from './helpers/console-app.js';

const start = useConsoleApps();

function info(n: number, overrides: Partial<CallInfo> = {}): CallInfo {
  return {
    callSid: callSid(n),
    streamSid: `MZ${n}`,
    from: '+15551230001',
    to: '+15559870000',
    direction: 'inbound',
    agent: 'front-desk',
    provider: 'openai',
    model: 'gpt-realtime',
    startedAtEpochMs: EPOCH0,
    clockStartMs: 0,
    ...overrides,
  };
}

async function openLive(app: ConsoleApp, session: SignedIn): Promise<SseReader> {
  const response = await app.request('/console/api/live', { headers: { cookie: session.cookie } });
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
  expect(response.headers.get('cache-control')).toBe('no-store');
  expect(response.headers.get('x-accel-buffering')).toBe('no');
  return new SseReader(response);
}

/** Waits until the server has `count` subscribers (the stream's handler ran). */
async function subscribers(app: ConsoleApp, count: number): Promise<void> {
  for (let i = 0; i < 200 && app.liveCalls.subscribers !== count; i++) await new Promise((resolve) => setTimeout(resolve, 5));
  expect(app.liveCalls.subscribers).toBe(count);
}

describe('GET /console/api/live', () => {
  it('sends the snapshot first (transcripts merged), then every update in order with the exact JSON', async () => {
    const app = await start();
    const session = await signIn(app);
    const one = info(1);
    app.liveCalls.callStarted(one);
    app.liveCalls.callEvent(one, { type: 'transcript', atMs: 100, speaker: 'agent', itemId: 's1/i1', text: 'Hello, ', final: false });
    app.liveCalls.callEvent(one, { type: 'dtmf', atMs: 150, digit: '5' });
    app.liveCalls.callEvent(one, { type: 'transcript', atMs: 200, speaker: 'agent', itemId: 's1/i1', text: 'there.', final: false });
    const live = await openLive(app, session);
    expect(await live.next()).toEqual({
      event: 'snapshot',
      data: {
        calls: [
          {
            ...one,
            events: [
              { type: 'transcript', atMs: 100, speaker: 'agent', itemId: 's1/i1', text: 'Hello, there.', final: false },
              { type: 'dtmf', atMs: 150, digit: '5' },
            ],
          },
        ],
      },
    });
    await subscribers(app, 1);

    const two = info(2, { direction: 'outbound', agent: 'sales', provider: 'elevenlabs', model: null });
    const final: CallEvent = { type: 'transcript', atMs: 300, speaker: 'agent', itemId: 's1/i1', text: 'Hello there!', final: true };
    app.liveCalls.callStarted(two);
    app.liveCalls.callEvent(one, final);
    app.liveCalls.callEvent(two, { type: 'call_status', atMs: 10, status: 'ringing' });
    app.liveCalls.callEnded(one, { ...emptySummary(), callSid: one.callSid, endReason: 'caller_hung_up', durationMs: 61_000 });
    app.liveCalls.callNotConnected(two);

    expect(await live.next()).toEqual({ event: 'call_started', data: { call: { ...two, events: [] } } });
    expect(await live.next()).toEqual({ event: 'call_event', data: { callSid: one.callSid, event: final } });
    expect(await live.next()).toEqual({ event: 'call_event', data: { callSid: two.callSid, event: { type: 'call_status', atMs: 10, status: 'ringing' } } });
    expect(await live.next()).toEqual({ event: 'call_ended', data: { callSid: one.callSid, endReason: 'caller_hung_up', durationMs: 61_000 } });
    expect(await live.next()).toEqual({ event: 'call_ended', data: { callSid: two.callSid, endReason: 'ringing', durationMs: 0 } });
    await live.cancel();
    await subscribers(app, 0);
  });

  it('writes a keepalive comment every 15 s, and ends the stream once the session has expired', async () => {
    const app = await start();
    const session = await signIn(app);
    const live = await openLive(app, session);
    expect(await live.next()).toEqual({ event: 'snapshot', data: { calls: [] } });
    await subscribers(app, 1);
    app.clock.advance(14_999);
    app.liveCalls.callStarted(info(3));
    app.clock.advance(1);
    expect(await live.next()).toEqual({ event: 'call_started', data: { call: { ...info(3), events: [] } } });
    expect(await live.next()).toEqual({ comment: 'keepalive' });
    // Keepalives at 30 s, 45 s, … 3585 s; at 3600 s the session has expired and the stream ends.
    app.clock.advance(3_600_000 - 15_000);
    let keepalives = 0;
    for (let message = await live.next(); message !== null; message = await live.next()) {
      expect(message).toEqual({ comment: 'keepalive' });
      keepalives++;
    }
    expect(keepalives).toBe(238);
    await subscribers(app, 0);
    expect(app.clock.pendingTimers).toBe(0);
    expect(app.logs.matching('live stream ended by the server')).toHaveLength(1);
  });

  it('ends the stream soon after sign-out (at the next keepalive)', async () => {
    const app = await start();
    const session = await signIn(app);
    const live = await openLive(app, session);
    await live.next();
    await subscribers(app, 1);
    expect((await app.request('/console/api/session', { method: 'DELETE', headers: { cookie: session.cookie, 'x-csrf-token': session.csrfToken } })).status).toBe(204);
    app.clock.advance(15_000);
    expect(await live.next()).toBeNull();
  });

  it('answers HEAD with the headers only', async () => {
    const app = await start();
    const session = await signIn(app);
    const response = await app.request('/console/api/live', { method: 'HEAD', headers: { cookie: session.cookie } });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/);
    expect(app.liveCalls.subscribers).toBe(0);
  });

  it('needs a session, and caps the number of open streams', async () => {
    const app = await start();
    expect(await errorOf(await app.request('/console/api/live'))).toEqual({ status: 401, code: 'no_session' });
    const session = await signIn(app);
    const readers: SseReader[] = [];
    for (let i = 0; i < MAX_LIVE_STREAMS; i++) readers.push(await openLive(app, session));
    expect(await errorOf(await app.request('/console/api/live', { headers: { cookie: session.cookie } }))).toEqual({ status: 503, code: 'too_many_streams' });
    await readers.pop()!.cancel();
    await subscribers(app, MAX_LIVE_STREAMS - 1);
    readers.push(await openLive(app, session));
    await Promise.all(readers.map((reader) => reader.cancel()));
  });
});

describe('POST /console/api/calls/:callSid/hangup', () => {
  it('202 {} when the call is live here (the hang-up reaches hangUp), 404 not_found otherwise', async () => {
    const app = await start();
    app.live.add(callSid(5));
    const session = await signIn(app);
    const headers = { cookie: session.cookie, 'x-csrf-token': session.csrfToken, origin: app.base };
    const done = await app.request(`/console/api/calls/${callSid(5)}/hangup`, { method: 'POST', headers });
    expect(done.status).toBe(202);
    expect(await done.json()).toEqual({});
    expect(await errorOf(await app.request(`/console/api/calls/${callSid(6)}/hangup`, { method: 'POST', headers }))).toEqual({ status: 404, code: 'not_found' });
    // Not a call sid at all: refused before hangUp is asked.
    expect(await errorOf(await app.request('/console/api/calls/CA%20x%3B/hangup', { method: 'POST', headers }))).toEqual({ status: 404, code: 'not_found' });
    expect(app.hangUps).toEqual([
      { callSid: callSid(5), reason: OPERATOR_HANGUP_REASON },
      { callSid: callSid(6), reason: OPERATOR_HANGUP_REASON },
    ]);
  });
});

describe('GET /console/api/agents', () => {
  it('lists each agent with its tools and destinations, and no secret anywhere', async () => {
    const app = await start();
    const session = await signIn(app);
    const response = await app.request('/console/api/agents', { headers: { cookie: session.cookie } });
    expect(response.status).toBe(200);
    const text = await response.text();
    const body = JSON.parse(text) as { agents: Array<{ tools: Array<{ name: string; description: string }> }> };
    expect(body.agents[0]!.tools.find((tool) => tool.name === 'transfer_call')?.description).toContain('sales: the sales team');
    expect(body).toEqual({
      agents: [
        {
          name: 'front-desk',
          provider: 'openai',
          numbers: ['+15559870000'],
          tools: [
            { name: 'end_call', description: expect.stringContaining('End the phone call.') },
            { name: 'transfer_call', description: expect.stringContaining('Transfer the caller to a person.') },
            { name: 'book_table', description: 'Book a table.' },
            { name: 'mcp:crm', description: 'Tools of the MCP server "crm": only lookup.' },
          ],
          destinations: [
            { name: 'sales', number: '+15550001111' },
            { name: 'pbx', number: 'sip:ops@pbx.example.com' },
          ],
          recording: true,
        },
        { name: 'sales', provider: 'elevenlabs', numbers: ['+15559870001'], tools: [], destinations: [], recording: false },
      ],
    });
    for (const secret of [SECRET_HEADER, 'tool-secret', SIGNING_SECRET, MCP_SECRET, 'url-secret', 'pbx-password', 'sip-token', ADMIN_KEY, 'tools.example.com', 'mcp.example.com']) {
      expect(text).not.toContain(secret);
    }
  });
});

describe('GET /console/api/overview', () => {
  it('gives the exact figures of the last N UTC days from the records', async () => {
    const app = await start();
    // EPOCH0 is 2025-03-10T12:30:00Z; days=2 covers 2025-03-09T00:00Z to now.
    const day1 = Date.UTC(2025, 2, 9);
    const day2 = Date.UTC(2025, 2, 10);
    const turns = (latencies: Array<number | null>) => latencies.map((latencyMs, index) => ({ turn: index + 1, callerStoppedAtMs: 1_000 * index, firstAudioAtMs: null, latencyMs }));
    await app.store.insertCalls([
      sampleRecord({ callSid: callSid(1), startedAtEpochMs: day1 - 1, cost: { totalUsd: 9, priceModel: null }, turns: turns([5_000]) }),
      sampleRecord({ callSid: callSid(2), startedAtEpochMs: day1 + 5 * 3_600_000 + 10, cost: { totalUsd: 0.1, priceModel: null }, turns: turns([300, 500]) }),
      sampleRecord({ callSid: callSid(3), startedAtEpochMs: day1 + 5 * 3_600_000 + 20, cost: { totalUsd: 0.2, priceModel: null }, turns: turns([400, null]), endReason: 'agent_hung_up', counters: { upstreamFaults: 2 } }),
      sampleRecord({ callSid: callSid(4), startedAtEpochMs: day2 + 12 * 3_600_000, cost: { totalUsd: 0.05, priceModel: null }, turns: turns([700, 200, 900]), counters: { upstreamFaults: 1 } }),
      sampleRecord({ callSid: callSid(5), startedAtEpochMs: EPOCH0 + 1, cost: { totalUsd: 100, priceModel: null }, turns: turns([1]) }),
    ]);
    const session = await signIn(app);
    const response = await app.request('/console/api/overview?days=2', { headers: { cookie: session.cookie } });
    expect(response.status).toBe(200);
    const overview = (await response.json()) as { callsPerHour: Array<{ hourStartMs: number; calls: number }> };
    // 24 hours of the 9th and 13 of the 10th (00:00 to the current 12:00 hour).
    expect(overview.callsPerHour).toHaveLength(37);
    expect(overview.callsPerHour[0]).toEqual({ hourStartMs: day1, calls: 0 });
    expect(overview.callsPerHour.filter((hour) => hour.calls > 0)).toEqual([
      { hourStartMs: day1 + 5 * 3_600_000, calls: 2 },
      { hourStartMs: day2 + 12 * 3_600_000, calls: 1 },
    ]);
    expect(overview).toEqual({
      callsPerHour: overview.callsPerHour,
      // Nearest rank over 200 300 400 500 700 900 (the calls before the window and after now are left out).
      turnLatencyMs: { p50: 400, p90: 900, p99: 900, turns: 6 },
      costPerDay: [
        { day: '2025-03-09', usd: 0.3 },
        { day: '2025-03-10', usd: 0.05 },
      ],
      errors: { faults: 3, byEndReason: { caller_hung_up: 2, agent_hung_up: 1 } },
    });
  });

  it('defaults to 7 days, refuses a bad days (400 bad_parameter), and answers 503 without a store', async () => {
    const app = await start();
    const session = await signIn(app);
    const headers = { cookie: session.cookie };
    const week = (await (await app.request('/console/api/overview', { headers })).json()) as { costPerDay: unknown[]; turnLatencyMs: unknown };
    expect(week.costPerDay).toHaveLength(7);
    expect(week.turnLatencyMs).toEqual({ p50: null, p90: null, p99: null, turns: 0 });
    for (const bad of ['0', '91', '7.5', 'x', '-1', '7&days=8', '7&other=1']) {
      expect(await errorOf(await app.request(`/console/api/overview?days=${bad}`, { headers }))).toEqual({ status: 400, code: 'bad_parameter' });
    }
    expect((await app.request('/console/api/overview?days=90', { headers })).status).toBe(200);
    const off = await start({ storeAvailable: false });
    const offSession = await signIn(off);
    expect(await errorOf(await off.request('/console/api/overview', { headers: { cookie: offSession.cookie } }))).toEqual({ status: 503, code: 'records_unavailable' });
  });
});

describe('POST /console/api/phone-token', () => {
  it('issues a one-time token for a known agent; PhoneTokens.consume takes it once', async () => {
    const app = await start();
    const session = await signIn(app);
    const headers = { cookie: session.cookie, 'x-csrf-token': session.csrfToken, 'content-type': 'application/json' };
    const response = await app.request('/console/api/phone-token', { method: 'POST', headers, body: JSON.stringify({ agent: 'sales' }) });
    expect(response.status).toBe(200);
    const body = (await response.json()) as { token: string; url: string; expiresInS: number };
    expect(Object.keys(body).sort()).toEqual(['expiresInS', 'token', 'url']);
    expect(body.expiresInS).toBe(60);
    expect(body.url).toBe(`/phone/ws?token=${body.token}`);
    expect(app.phoneTokens.isLive(body.token)).toBe(true);
    const consumed = app.phoneTokens.consume(body.token);
    expect(consumed?.agentName).toBe('sales');
    expect(consumed?.issuedTo).toMatch(/^[A-Za-z0-9_-]{8}$/);
    expect(app.phoneTokens.consume(body.token)).toBeNull();
    expect(JSON.stringify(app.logs.lines)).not.toContain(body.token);
  });

  it('404 unknown_agent, 400 for a bad body, 403 without the CSRF token', async () => {
    const app = await start();
    const session = await signIn(app);
    const headers = { cookie: session.cookie, 'x-csrf-token': session.csrfToken };
    expect(await errorOf(await app.request('/console/api/phone-token', { method: 'POST', headers, body: '{"agent":"nobody"}' }))).toEqual({ status: 404, code: 'unknown_agent' });
    expect(await errorOf(await app.request('/console/api/phone-token', { method: 'POST', headers, body: '["sales"]' }))).toEqual({ status: 400, code: 'bad_request' });
    expect(await errorOf(await app.request('/console/api/phone-token', { method: 'POST', headers, body: '{"agent":7}' }))).toEqual({ status: 400, code: 'bad_request' });
    expect(await errorOf(await app.request('/console/api/phone-token', { method: 'POST', headers: { cookie: session.cookie }, body: '{"agent":"sales"}' }))).toEqual({
      status: 403,
      code: 'csrf',
    });
  });
});
