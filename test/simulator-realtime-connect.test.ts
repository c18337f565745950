/**
 * Connecting to the simulated Realtime server as a bridge would: the API key is checked before the WebSocket
 * handshake, the retired beta protocol is refused the way OpenAI refuses it, and the GA session object comes back on
 * connect and after each update. Faults that concern the connection itself are here too.
 */
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../src/clock.js';
import {
  expectUpgradeRejected,
  RawRealtimeClient,
  SIM_API_KEY as API_KEY,
  SIM_AUTH as AUTH,
  useSimulatedServer,
} from './helpers/realtime-sim-client.js';

const sims = useSimulatedServer();

describe('upgrade', () => {
  it('answers HTTP 401 before the handshake without a key, and with a wrong one (never echoing it whole)', async () => {
    await sims.start({ apiKey: API_KEY });
    const missing = await expectUpgradeRejected(`${sims.current.url}?model=gpt-realtime`, {});
    expect(missing.status).toBe(401);
    expect(missing.body).toMatchObject({ error: { type: 'invalid_request_error', code: null } });

    const wrong = await expectUpgradeRejected(`${sims.current.url}?model=gpt-realtime`, { Authorization: 'Bearer sk-wrong-key-99999999' });
    expect(wrong.status).toBe(401);
    expect(wrong.body).toEqual({
      error: {
        message: 'Incorrect API key provided: sk-***9999. You can find your API key at https://platform.openai.com/account/api-keys.',
        type: 'invalid_request_error',
        param: null,
        code: 'invalid_api_key',
      },
    });
    expect(sims.current.sessions).toHaveLength(0);
    expect(sims.current.upgradeAttempts.map((attempt) => attempt.status)).toEqual([401, 401]);
  });

  it('accepts the Azure shape: /openai/v1/realtime with an api-key header, recording the deployment as model', async () => {
    await sims.start({ apiKey: API_KEY });
    const url = sims.current.url.replace('/v1/realtime', '/openai/v1/realtime?model=my-deployment');
    const client = await RawRealtimeClient.connect(url, { 'api-key': API_KEY });
    await client.waitFor('session.created');
    const session = await sims.current.waitForSession();
    expect(session.path).toBe('/openai/v1/realtime');
    expect(session.model).toBe('my-deployment');
    client.close();
  });

  it('answers HTTP 503 while refusing connections, and accepts again once that is switched off', async () => {
    await sims.start({ apiKey: API_KEY, refuseConnections: true });
    expect((await expectUpgradeRejected(sims.current.url, AUTH)).status).toBe(503);
    sims.current.refuseConnections = false;
    const client = await RawRealtimeClient.connect(sims.current.url, AUTH);
    await client.waitFor('session.created');
    expect(sims.current.upgradeAttempts.map((attempt) => attempt.status)).toEqual([503, 101]);
    client.close();
  });

  it('holds the upgrade for handshakeDelayMs on the injected clock', async () => {
    const clock = new ManualClock();
    await sims.start({ apiKey: API_KEY, clock, handshakeDelayMs: 2_000 });
    let opened = false;
    const connecting = RawRealtimeClient.connect(sims.current.url, AUTH).then((client) => {
      opened = true;
      return client;
    });
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(opened).toBe(false);
    clock.advance(1_999);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(opened).toBe(false);
    clock.advance(1);
    const client = await connecting;
    await client.waitFor('session.created');
    client.close();
  });
});

describe('beta protocol', () => {
  it('refuses the OpenAI-Beta: realtime=v1 header: beta_api_shape_disabled as the first frame, then close 4000', async () => {
    await sims.start({ apiKey: API_KEY });
    const client = await RawRealtimeClient.connect(sims.current.url, { ...AUTH, 'OpenAI-Beta': 'realtime=v1' });
    const closed = await client.closed;
    expect(client.events).toEqual([
      {
        type: 'error',
        event_id: expect.stringMatching(/^event_/),
        error: {
          type: 'invalid_request_error',
          code: 'beta_api_shape_disabled',
          message: 'The Realtime Beta API is no longer supported. Please use /v1/realtime for the GA API.',
          param: null,
          event_id: null,
        },
      },
    ]);
    expect(closed).toEqual({ code: 4000, reason: 'invalid_request_error.beta_api_shape_disabled' });
    expect((await sims.current.waitForSession()).violations.betaShape).toBe(1);
  });

  it.each([
    ['a flat input_audio_format', { type: 'realtime', input_audio_format: 'pcm16' }],
    ['modalities', { type: 'realtime', modalities: ['audio', 'text'] }],
    ['no session.type', { instructions: 'Be brief.' }],
  ])('refuses a session.update with %s: error echoing the event_id, then close 4000', async (_name, session: Record<string, unknown>) => {
    await sims.start({ apiKey: API_KEY });
    const client = await RawRealtimeClient.connect(sims.current.url, AUTH);
    await client.waitFor('session.created');
    client.send({ type: 'session.update', event_id: 'evt_beta_1', session } as Record<string, unknown>);
    const closed = await client.closed;
    expect(client.types).toEqual(['session.created', 'error']);
    expect(client.ofType('error')[0]!.error).toEqual({
      type: 'invalid_request_error',
      code: 'beta_api_shape_disabled',
      message: 'The Realtime Beta API is no longer supported. Please use /v1/realtime for the GA API.',
      param: null,
      event_id: 'evt_beta_1',
    });
    expect(closed.code).toBe(4000);
  });
});

describe('session object', () => {
  it('sends a full GA session on connect and merges each update into session.updated', async () => {
    await sims.start({ apiKey: API_KEY });
    const client = await RawRealtimeClient.connect(`${sims.current.url}?model=gpt-realtime`, AUTH);
    const created = await client.waitFor('session.created');
    expect(created.session).toMatchObject({
      type: 'realtime',
      object: 'realtime.session',
      id: expect.stringMatching(/^sess_/),
      model: 'gpt-realtime',
      output_modalities: ['audio'],
      audio: {
        input: {
          format: { type: 'audio/pcm', rate: 24_000 },
          turn_detection: {
            type: 'server_vad',
            threshold: 0.5,
            prefix_padding_ms: 300,
            silence_duration_ms: 500,
            create_response: true,
            interrupt_response: true,
          },
        },
        output: { format: { type: 'audio/pcm', rate: 24_000 }, voice: 'marin' },
      },
    });

    client.send({
      type: 'session.update',
      session: {
        type: 'realtime',
        instructions: 'Be brief.',
        audio: {
          input: { format: { type: 'audio/pcmu' }, turn_detection: { type: 'server_vad', silence_duration_ms: 300 } },
          output: { voice: 'cedar' },
        },
      },
    });
    const updated = await client.waitFor('session.updated');
    expect(updated.session).toMatchObject({
      id: (created.session as unknown as { id: string }).id,
      instructions: 'Be brief.',
      audio: {
        // Formats and voice merge field by field; a new turn_detection gets its defaults back.
        input: {
          format: { type: 'audio/pcmu' },
          turn_detection: { type: 'server_vad', threshold: 0.5, prefix_padding_ms: 300, silence_duration_ms: 300, create_response: true },
        },
        output: { format: { type: 'audio/pcm', rate: 24_000 }, voice: 'cedar' },
      },
    });
    const session = await sims.current.waitForSession();
    expect(session.session).toEqual(updated.session);
    client.close();
  });
});

describe('session expiry', () => {
  it('sends session_expired after sessionExpiredAfterMs and closes 1001', async () => {
    const clock = new ManualClock();
    await sims.start({ apiKey: API_KEY, clock, faults: { sessionExpiredAfterMs: 60_000 } });
    const client = await RawRealtimeClient.connect(sims.current.url, AUTH);
    await client.waitFor('session.created');
    clock.advance(59_999);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(client.types).toEqual(['session.created']);
    clock.advance(1);
    const closed = await client.closed;
    expect(client.ofType('error')[0]!.error).toEqual({
      type: 'invalid_request_error',
      code: 'session_expired',
      message: 'Your session hit the maximum duration of 60 minutes.',
      param: null,
      event_id: null,
    });
    expect(closed.code).toBe(1001);
  });
});
