/**
 * Connecting to the simulated ElevenLabs Agents server: the signed-URL endpoint and its key check, one-time
 * signatures, public agents, the `convai` subprotocol, the initiation → metadata exchange with the agent's formats,
 * overrides accepted or refused (1008), dynamic variables, malformed messages, and the hang fault.
 */
import { describe, expect, it } from 'vitest';
import type { SimulatedAgentConfig } from '../src/simulator/elevenlabs/server.js';
import { EL_API_KEY, expectUpgradeRefused, getSignedUrl, RawConvaiClient, useSimulatedElevenLabs } from './helpers/elevenlabs-sim-client.js';

const sims = useSimulatedElevenLabs();

const PRIVATE: SimulatedAgentConfig = { agentId: 'agent_private', inputFormat: 'ulaw_8000', outputFormat: 'ulaw_8000', pingIntervalMs: 0 };
const PUBLIC: SimulatedAgentConfig = { agentId: 'agent_public', public: true, inputFormat: 'pcm_16000', outputFormat: 'pcm_22050', pingIntervalMs: 0 };

describe('signed URLs', () => {
  it('answers a wrong or missing xi-api-key with 401 invalid_api_key', async () => {
    const server = await sims.start({ agents: [PRIVATE] });
    const invalid = { detail: { status: 'invalid_api_key', message: 'Invalid API key' } };
    expect(await getSignedUrl(server, 'agent_private', 'xi-wrong')).toEqual({ status: 401, body: invalid });
    expect(await getSignedUrl(server, 'agent_private', null)).toEqual({ status: 401, body: invalid });
    expect(server.signedUrlRequests.map((request) => [request.agentId, request.status])).toEqual([
      ['agent_private', 401],
      ['agent_private', 401],
    ]);
  });

  it('answers an unknown agent with 404 and a missing agent_id with 422', async () => {
    const server = await sims.start({ agents: [PRIVATE] });
    expect(await getSignedUrl(server, 'agent_nobody', EL_API_KEY)).toEqual({
      status: 404,
      body: { detail: { status: 'agent_not_found', message: 'Agent with id agent_nobody was not found.' } },
    });
    expect(await getSignedUrl(server, null, EL_API_KEY)).toEqual({
      status: 422,
      body: { detail: [{ type: 'missing', loc: ['query', 'agent_id'], msg: 'Field required', input: null }] },
    });
  });

  it('issues a one-time signed URL bound to its agent', async () => {
    const server = await sims.start({ agents: [PRIVATE, PUBLIC] });
    const { status, body } = await getSignedUrl(server, 'agent_private', EL_API_KEY);
    expect(status).toBe(200);
    const signedUrl = (body as { signed_url: string }).signed_url;
    expect(signedUrl).toMatch(new RegExp(`^ws://127\\.0\\.0\\.1:${server.port}/v1/convai/conversation\\?agent_id=agent_private&conversation_signature=sim_[A-Za-z0-9_-]{32}$`));

    const client = await RawConvaiClient.connect(signedUrl);
    expect(client.socket.protocol).toBe('convai');
    const conversation = await server.waitForConversation(0);
    expect([conversation.agentId, conversation.signed, conversation.subprotocol]).toEqual(['agent_private', true, 'convai']);

    expect(await expectUpgradeRefused(signedUrl)).toEqual({
      status: 403,
      body: { detail: { status: 'invalid_conversation_signature', message: 'The conversation signature has already been used.' } },
    });
    const other = ((await getSignedUrl(server, 'agent_private', EL_API_KEY)).body as { signed_url: string }).signed_url;
    expect(await expectUpgradeRefused(other.replace('agent_id=agent_private', 'agent_id=agent_public'))).toEqual({
      status: 403,
      body: { detail: { status: 'invalid_conversation_signature', message: 'The conversation signature was issued for another agent.' } },
    });
    expect(server.upgradeAttempts.map((attempt) => [attempt.agentId, attempt.status])).toEqual([
      ['agent_private', 101],
      ['agent_private', 403],
      ['agent_public', 403],
    ]);
    client.close();
  });

  it('refuses a private agent without a signature and an unknown agent with 403; a public agent needs none', async () => {
    const server = await sims.start({ agents: [PRIVATE, PUBLIC] });
    expect(await expectUpgradeRefused(`${server.wsUrl}?agent_id=agent_private`)).toEqual({
      status: 403,
      body: { detail: { status: 'authorization_required', message: 'This agent requires a signed URL.' } },
    });
    expect(await expectUpgradeRefused(`${server.wsUrl}?agent_id=agent_nobody`)).toMatchObject({ status: 403 });
    expect(await expectUpgradeRefused(`${server.wsUrl}?agent_id=agent_public&conversation_signature=forged`)).toMatchObject({ status: 403 });

    const client = await RawConvaiClient.connect(`${server.wsUrl}?agent_id=agent_public`, []);
    expect(client.socket.protocol).toBe('');
    const conversation = await server.waitForConversation(0);
    expect([conversation.agentId, conversation.signed, conversation.subprotocol]).toEqual(['agent_public', false, null]);
    client.close();
  });
});

describe('initiation', () => {
  it('answers the initiation with the metadata carrying the agent’s formats, and records it', async () => {
    await sims.start({ agents: [PUBLIC] });
    const client = await sims.connectPublic('agent_public', { dynamic_variables: { caller_name: 'Ada', vip: true, visits: 3 }, user_id: 'caller-1' });
    const metadata = await client.waitFor('conversation_initiation_metadata');
    const conversation = await sims.current.waitForConversation(0);
    expect(metadata).toEqual({
      type: 'conversation_initiation_metadata',
      conversation_initiation_metadata_event: {
        conversation_id: conversation.conversationId,
        agent_output_audio_format: 'pcm_22050',
        user_input_audio_format: 'pcm_16000',
      },
    });
    expect(conversation.conversationId).toMatch(/^conv_sim0[a-z0-9]{8}$/);
    expect(conversation.initiation).toEqual({
      atMs: expect.any(Number),
      overrides: null,
      dynamicVariables: { caller_name: 'Ada', vip: true, visits: 3 },
      customLlmExtraBody: null,
      userId: 'caller-1',
      accepted: true,
    });
    // No first message configured: the agent waits for the caller.
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(client.types).toEqual(['conversation_initiation_metadata']);
    client.close();
  });

  it('accepts the overrides the agent allows and speaks the overridden first message with dynamic variables filled in', async () => {
    await sims.start({
      agents: [{ ...PUBLIC, firstMessage: 'Configured greeting.', allowOverrides: { firstMessage: true, prompt: true, language: true, voice: true }, speedFactor: Infinity }],
    });
    const overrides = {
      agent: { prompt: { prompt: 'Be brief with {{caller_name}}.' }, first_message: 'Hi {{caller_name}}, this is {{ system__agent_id }}.', language: 'fr' },
      tts: { voice_id: 'voice-42' },
    };
    const client = await sims.connectPublic('agent_public', { conversation_config_override: overrides, dynamic_variables: { caller_name: 'Ada' } });
    const response = await client.waitFor('agent_response');
    expect(response).toEqual({ type: 'agent_response', agent_response_event: { agent_response: 'Hi Ada, this is agent_public.', event_id: 1 } });
    const conversation = await sims.current.waitForConversation(0);
    expect(conversation.settings).toEqual({ prompt: 'Be brief with Ada.', firstMessage: 'Hi Ada, this is agent_public.', language: 'fr', voiceId: 'voice-42' });
    expect(conversation.initiation).toMatchObject({ overrides, accepted: true });
    client.close();
  });

  it.each([
    ['agent.first_message', { agent: { first_message: 'Hello!' } }, 'first_message'],
    ['agent.prompt.prompt', { agent: { prompt: { prompt: 'Be rude.' } } }, 'prompt'],
    ['agent.language', { agent: { language: 'de' } }, 'language'],
    ['tts.voice_id', { tts: { voice_id: 'v' } }, 'voice_id'],
  ])('refuses an override of %s the agent does not allow: error, then close 1008', async (_path, override, label) => {
    await sims.start({ agents: [{ ...PUBLIC, allowOverrides: { firstMessage: label !== 'first_message', prompt: label !== 'prompt', language: label !== 'language' } }] });
    const client = await sims.connectPublic('agent_public', { conversation_config_override: override });
    const closed = await client.closed;
    const message = `Override for field '${label}' is not allowed by config.`;
    expect(client.events).toEqual([{ type: 'error', error_event: { code: 1008, message, error_type: 'override_error' } }]);
    expect(closed).toEqual({ code: 1008, reason: message });
    const conversation = await sims.current.waitForConversation(0);
    expect(conversation.initiation).toMatchObject({ overrides: override, accepted: false });
    expect(conversation.metadataAtMs).toBeNull();
  });

  it('ends the conversation 1008 when the first message needs a dynamic variable the client did not send', async () => {
    await sims.start({ agents: [{ ...PUBLIC, firstMessage: 'Hello {{caller_name}}, order {{order_id}}?' }] });
    const client = await sims.connectPublic('agent_public', { dynamic_variables: { caller_name: 'Ada' } });
    expect(await client.closed).toEqual({ code: 1008, reason: 'Missing required dynamic variables in first message: order_id' });
    expect(client.bodies('error')).toEqual([{ code: 1008, message: 'Missing required dynamic variables in first message: order_id', error_type: 'missing_dynamic_variable' }]);
  });

  it('starts with the configured settings when the first message is not an initiation', async () => {
    await sims.start({ agents: [{ ...PUBLIC, firstMessage: 'Configured greeting.', speedFactor: Infinity }] });
    const client = await sims.connectPublic('agent_public', null);
    client.send({ type: 'user_activity' });
    await client.waitFor('agent_response');
    const conversation = await sims.current.waitForConversation(0);
    expect(client.timeline()).toEqual(['conversation_initiation_metadata', 'agent_response:1', 'audio:1 ×8']);
    expect(conversation.initiation).toBeNull();
    expect(conversation.userActivity).toHaveLength(1);
    client.close();
  });

  it('answers text that is not a JSON object, or an unknown type, with invalid_message and close 1008', async () => {
    await sims.start({ agents: [PUBLIC] });
    const first = await sims.connectPublic('agent_public');
    await first.waitFor('conversation_initiation_metadata');
    first.socket.send(' ');
    expect(await first.closed).toEqual({ code: 1008, reason: 'Invalid message received' });
    expect(first.bodies('error')).toEqual([{ code: 1008, message: 'Invalid message received', error_type: 'invalid_message' }]);

    const second = await sims.connectPublic('agent_public');
    await second.waitFor('conversation_initiation_metadata');
    second.send({ type: 'ping' });
    expect(await second.closed).toEqual({ code: 1008, reason: 'Invalid message received: unknown type "ping"' });
    expect((await sims.current.waitForConversation(1)).violations.invalidMessage).toBe(1);
  });

  it('with the hang fault accepts the socket but never sends the metadata', async () => {
    await sims.start({ agents: [{ ...PUBLIC, firstMessage: 'Hello.', pingIntervalMs: 10, faults: { hang: true } }] });
    const client = await sims.connectPublic('agent_public');
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(client.events).toEqual([]);
    const conversation = await sims.current.waitForConversation(0);
    expect(conversation.eventsIn().map((event) => event['type'])).toEqual(['conversation_initiation_client_data']);
    expect(conversation.metadataAtMs).toBeNull();
    client.close();
  });
});
