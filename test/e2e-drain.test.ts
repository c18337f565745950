/**
 * Graceful drain, end to end: readiness goes 503 at once and a new call hears the busy TwiML, while a call in progress
 * finishes normally (its answers play whole, its next turn is answered); a drain that runs out of time has the agent
 * say goodbye to whoever is left. The process-level behaviour (SIGTERM → exit 0 when the last call ends, a second
 * signal ends at once) is in the second half, against the real entry point.
 */
import { once } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import { DRAIN_GOODBYE_INSTRUCTIONS } from '../src/server/app.js';
import { placeCall } from '../src/simulator/twilio-caller.js';
import { BUSY_MESSAGE } from '../src/twilio/twiml.js';
import { AUTH_TOKEN, postWebhook, PUBLIC_BASE_URL, startBridge, waitUntil, type Bridge } from './helpers/e2e.js';
import { callerSpeech, heardToneSegments, wholeResponse } from './helpers/e2e-call-flow.js';
import { listeningPort, runEntry } from './helpers/process-entry.js';

const BUSY_TWIML = new RegExp(`<Say>${BUSY_MESSAGE}</Say><Hangup/>`);

let bridge: Bridge | null = null;
afterEach(async () => {
  await bridge?.close();
  bridge = null;
});

async function readyz(baseUrl: string): Promise<{ status: number; body: unknown }> {
  const response = await fetch(`${baseUrl}/readyz`);
  return { status: response.status, body: await response.json() };
}

describe('drain (in process)', () => {
  it('readiness 503 at once, new calls busy, the live call finishes whole and its next turn is answered', async () => {
    bridge = await startBridge({ sim: { speedFactor: 4, reply: { kind: 'tone-coded', durationMs: 600 } } });
    expect(await readyz(bridge.baseUrl)).toEqual({ status: 200, body: { status: 'ready', activeCalls: 0 } });
    // Greeting (600 ms), a question at 1.5 s (answered), then the caller hangs up at 4.5 s.
    const call = await bridge.call({ audio: callerSpeech([{ atMs: 1_500, durationMs: 400 }], 4_500) });
    await waitUntil(() => bridge!.server.activeCalls === 1, 3_000, 'the call is live');

    const drained = bridge.server.drain({ timeoutMs: 30_000 });
    expect(bridge.server.draining).toBe(true);
    expect(await readyz(bridge.baseUrl)).toEqual({ status: 503, body: { status: 'draining', activeCalls: 1 } });
    const health = await fetch(`${bridge.baseUrl}/healthz`);
    expect(health.status).toBe(200); // alive: its calls are finishing
    const refused = await postWebhook(bridge, { callSid: 'CA00000000000000000000000000000d01' });
    expect(refused.status).toBe(200);
    expect(refused.body).toMatch(BUSY_TWIML);
    expect(refused.body).not.toContain('<Stream');

    const result = await call.closed;
    await drained;
    expect(result.endedBy).toBe('caller');
    expect(result.clears).toEqual([]);
    // The greeting and the answer to the turn taken during the drain, both whole.
    expect(heardToneSegments(result.heardAudio)).toEqual([...wholeResponse(0, 600), ...wholeResponse(1, 600)]);
    expect(bridge.sim.sessions[0]!.responses.map((response) => [response.trigger, response.status])).toEqual([
      ['client', 'completed'],
      ['vad', 'completed'],
    ]);
    expect(bridge.logs.some((line) => line['msg'] === 'drain timed out: the remaining callers hear a goodbye')).toBe(false);
  });

  it('a drain that runs out of time has the agent say goodbye, then the call ends', async () => {
    bridge = await startBridge({ sim: { speedFactor: 4, reply: { kind: 'tone-coded', durationMs: 500 } } });
    const call = await bridge.call({ audio: { kind: 'silence', durationMs: 20_000 } });
    await waitUntil(() => bridge!.server.activeCalls === 1, 3_000, 'the call is live');
    await new Promise((resolve) => setTimeout(resolve, 800)); // the greeting has played
    await bridge.server.drain({ timeoutMs: 200 });
    const result = await call.closed;
    expect(result.endedBy).toBe('server');
    expect(result.closeReason).toBe('server draining');
    const creates = bridge.sim.sessions[0]!.eventsIn('response.create').map((event) => (event['response'] as { instructions?: string } | undefined)?.instructions);
    expect(creates.at(-1)).toBe(DRAIN_GOODBYE_INSTRUCTIONS);
    // Greeting, then the goodbye heard whole before the stream closed.
    expect(heardToneSegments(result.heardAudio)).toEqual([...wholeResponse(0, 500), ...wholeResponse(1, 500)]);
    expect(result.unplayedBytesAtEnd).toBe(0);
  });
});

function runDrainEntry(env: Record<string, string>) {
  return runEntry({ PORT: '0', HOST: '127.0.0.1', PUBLIC_BASE_URL, TWILIO_AUTH_TOKEN: AUTH_TOKEN, ...env });
}

describe('drain (the process, on signals)', () => {
  it('SIGTERM: ready 503 at once, the live call goes on, exit 0 when it ends', { timeout: 60_000 }, async () => {
    const { child, output } = runDrainEntry({ DRAIN_TIMEOUT_S: '60' });
    const port = await listeningPort(child, output);
    const baseUrl = `http://127.0.0.1:${port}`;
    const call = await placeCall({ baseUrl, publicBaseUrl: PUBLIC_BASE_URL, authToken: AUTH_TOKEN, audio: { kind: 'silence', durationMs: 4_000 } });
    await new Promise((resolve) => setTimeout(resolve, 500));
    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    await waitUntil(() => output().stdout.includes('draining'), 5_000, 'the drain starts');
    expect((await fetch(`${baseUrl}/readyz`)).status).toBe(503);
    const result = await call.closed;
    expect(result.endedBy).toBe('caller'); // the caller hung up when they were done, not the server
    const [code] = (await exited) as [number];
    expect(code).toBe(0);
    expect(output().stdout).toContain('"msg":"stopped"');
  });

  it('a second signal ends at once: the live call is hung up and the process exits 0', { timeout: 60_000 }, async () => {
    const { child, output } = runDrainEntry({ DRAIN_TIMEOUT_S: '600' });
    const port = await listeningPort(child, output);
    const call = await placeCall({ baseUrl: `http://127.0.0.1:${port}`, publicBaseUrl: PUBLIC_BASE_URL, authToken: AUTH_TOKEN, audio: { kind: 'silence', durationMs: 60_000 } });
    await new Promise((resolve) => setTimeout(resolve, 500));
    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    await waitUntil(() => output().stdout.includes('draining'), 5_000, 'the drain starts');
    const secondAt = Date.now();
    child.kill('SIGTERM');
    const [code] = (await exited) as [number];
    expect(code).toBe(0);
    expect(Date.now() - secondAt).toBeLessThan(8_000);
    const result = await call.closed;
    expect(result.endedBy).toBe('server');
    expect(output().stdout).toContain('second signal: stopping now');
  });
});
