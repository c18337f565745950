/**
 * The real API's rules on the simulated server: each violation gets the real error (code, message, param, echoed
 * event_id), is counted, and leaves the session open. Also the function-call round trip, text items (forwarded
 * DTMF), and the mid-response connection drop.
 */
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../src/clock.js';
import type { SimulatedRealtimeServerOptions } from '../src/simulator/realtime/server.js';
import { SIM_API_KEY as API_KEY, useSimulatedServer } from './helpers/realtime-sim-client.js';

const sims = useSimulatedServer();

const connect = (options: SimulatedRealtimeServerOptions) => sims.connect(options);

describe('response single flight', () => {
  it('rejects response.create while one is active with the real error, and sends no response.done for it', async () => {
    const clock = new ManualClock();
    const client = await connect({ apiKey: API_KEY, clock, speedFactor: 1, deltaBytes: 4_800, reply: { kind: 'tone-coded', durationMs: 500 } });
    client.send({ type: 'response.create', event_id: 'evt_create_1', response: { instructions: 'Greet the caller.' } });
    const created = await client.waitFor('response.created');
    client.send({ type: 'response.create', event_id: 'evt_create_2' });
    const error = await client.waitFor('error');
    expect(error.error).toEqual({
      type: 'invalid_request_error',
      code: 'conversation_already_has_active_response',
      message: `Conversation already has an active response in progress: ${created.response.id}. Wait until the response is finished before creating a new one.`,
      param: null,
      event_id: 'evt_create_2',
    });
    clock.advance(1_000);
    await client.waitFor('response.done');
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(client.ofType('response.created')).toHaveLength(1);
    expect(client.ofType('response.done')).toHaveLength(1);
    const session = await sims.current.waitForSession();
    expect(session.violations.responseCreateWhileActive).toBe(1);
    expect(session.responseCreateRequests.map((request) => [request.eventId, request.accepted, request.instructions])).toEqual([
      ['evt_create_1', true, 'Greet the caller.'],
      ['evt_create_2', false, null],
    ]);
    expect(session.responses).toMatchObject([{ trigger: 'client', instructions: 'Greet the caller.', afterTurnIndex: -1 }]);
  });

  it('answers response.cancel with nothing active with response_cancel_not_active', async () => {
    const client = await connect({ apiKey: API_KEY });
    client.send({ type: 'response.cancel', event_id: 'evt_cancel_1' });
    const error = await client.waitFor('error');
    expect(error.error).toEqual({
      type: 'invalid_request_error',
      code: 'response_cancel_not_active',
      message: 'Cancellation failed: no active response found',
      param: null,
      event_id: 'evt_cancel_1',
    });
    expect((await sims.current.waitForSession()).violations.cancelNotActive).toBe(1);
  });

  it('cancels an active response on response.cancel: response.done cancelled/client_cancelled', async () => {
    const clock = new ManualClock();
    const client = await connect({ apiKey: API_KEY, clock, speedFactor: 1, deltaBytes: 4_800 });
    client.send({ type: 'response.create' });
    await client.waitFor('response.output_audio.delta');
    client.send({ type: 'response.cancel' });
    const done = await client.waitFor('response.done');
    expect(done.response).toMatchObject({ status: 'cancelled', status_details: { type: 'cancelled', reason: 'client_cancelled' } });
  });
});

describe('conversation.item.truncate', () => {
  it('answers each invalid truncate with the real error and accepts one within the audio sent', async () => {
    const clock = new ManualClock();
    const client = await connect({ apiKey: API_KEY, clock, speedFactor: 1, deltaBytes: 4_800, reply: { kind: 'tone-coded', durationMs: 2_000 } });
    client.send({ type: 'conversation.item.create', item: { type: 'message', role: 'user', content: [{ type: 'input_text', text: 'Hi' }] } });
    const userItem = await client.waitFor('conversation.item.done');
    client.send({ type: 'response.create' });
    await client.waitFor('response.output_audio.delta');
    clock.advance(200);
    await client.waitFor('response.output_audio.delta', 3); // 300 ms sent
    client.send({ type: 'response.cancel' });
    await client.waitFor('response.done');
    const itemId = client.ofType('response.output_item.added')[0]!.item.id!;

    const cases: Array<[Record<string, unknown>, Record<string, unknown>]> = [
      [
        { item_id: 'item_nope', content_index: 0, audio_end_ms: 100 },
        { code: 'item_not_found', message: "Item with item_id 'item_nope' not found.", param: 'item_id' },
      ],
      [
        { item_id: userItem.item.id, content_index: 0, audio_end_ms: 100 },
        { code: null, message: 'Only model output audio messages can be truncated', param: null },
      ],
      [
        { item_id: itemId, content_index: 1, audio_end_ms: 100 },
        { code: 'invalid_value', message: "Invalid 'content_index': expected 0 for an audio message, but got 1 instead.", param: 'content_index' },
      ],
      [
        { item_id: itemId, content_index: 0, audio_end_ms: 150.5 },
        { code: 'invalid_type', message: "Invalid type for 'audio_end_ms': expected an integer, but got a decimal number instead.", param: 'audio_end_ms' },
      ],
      [
        { item_id: itemId, content_index: 0, audio_end_ms: -20 },
        { code: 'integer_below_min_value', message: "Invalid 'audio_end_ms': integer below minimum value. Expected a value >= 0, but got -20 instead.", param: 'audio_end_ms' },
      ],
    ];
    for (const [index, [fields, expected]] of cases.entries()) {
      client.send({ type: 'conversation.item.truncate', event_id: `evt_truncate_${index}`, ...fields });
      const error = await client.waitFor('error', index + 1);
      expect(error.error).toEqual({ type: 'invalid_request_error', event_id: `evt_truncate_${index}`, ...expected });
    }
    // Beyond the audio sent: code null and, as observed on the real service, no echoed event_id.
    client.send({ type: 'conversation.item.truncate', event_id: 'evt_truncate_over', item_id: itemId, content_index: 0, audio_end_ms: 301 });
    const overshoot = await client.waitFor('error', cases.length + 1);
    expect(overshoot.error).toEqual({
      type: 'invalid_request_error',
      code: null,
      message: 'Audio content of 300ms is already shorter than 301ms',
      param: null,
      event_id: null,
    });
    client.send({ type: 'conversation.item.truncate', item_id: itemId, content_index: 0, audio_end_ms: 300 });
    const truncated = await client.waitFor('conversation.item.truncated');
    expect(truncated).toEqual({ type: 'conversation.item.truncated', event_id: expect.any(String), item_id: itemId, content_index: 0, audio_end_ms: 300 });

    const session = await sims.current.waitForSession();
    expect(session.violations.truncateRejected).toBe(6);
    expect(session.truncates().map(({ itemId: id, audioEndMs, sentAudioMs, accepted }) => ({ id, audioEndMs, sentAudioMs, accepted }))).toEqual([
      { id: 'item_nope', audioEndMs: 100, sentAudioMs: NaN, accepted: false },
      { id: userItem.item.id, audioEndMs: 100, sentAudioMs: NaN, accepted: false },
      { id: itemId, audioEndMs: 100, sentAudioMs: 300, accepted: false },
      { id: itemId, audioEndMs: 150.5, sentAudioMs: NaN, accepted: false },
      { id: itemId, audioEndMs: -20, sentAudioMs: NaN, accepted: false },
      { id: itemId, audioEndMs: 301, sentAudioMs: 300, accepted: false },
      { id: itemId, audioEndMs: 300, sentAudioMs: 300, accepted: true },
    ]);
    expect(session.errors('invalid_type')).toHaveLength(1);
    expect(session.errors(null)).toHaveLength(2);
    expect(session.isOpen).toBe(true);
  });
});

describe('function calling', () => {
  it('streams a scripted function call, accepts its output, and records that the next response.create came after it', async () => {
    const client = await connect({
      apiKey: API_KEY,
      speedFactor: Infinity,
      script: [
        { kind: 'function_call', name: 'lookup_order', arguments: '{"order_id":"A-1042"}', callId: 'call_test_1' },
        { kind: 'audio', reply: { kind: 'tone', frequencyHz: 1_000, durationMs: 300 } },
      ],
    });
    client.send({ type: 'response.create' });
    const done = await client.waitFor('response.done');
    expect(client.types.slice(1)).toEqual([
      'response.created',
      'response.output_item.added',
      'conversation.item.added',
      'response.function_call_arguments.delta',
      'response.function_call_arguments.delta',
      'response.function_call_arguments.delta',
      'response.function_call_arguments.done',
      'response.output_item.done',
      'conversation.item.done',
      'response.done',
    ]);
    const args = client.ofType('response.function_call_arguments.delta').map((delta) => delta.delta).join('');
    expect(args).toBe('{"order_id":"A-1042"}');
    expect(client.ofType('response.function_call_arguments.done')[0]).toMatchObject({ call_id: 'call_test_1', name: 'lookup_order', arguments: args });
    expect(done.response.output).toEqual([
      { id: expect.any(String), object: 'realtime.item', type: 'function_call', status: 'completed', name: 'lookup_order', call_id: 'call_test_1', arguments: args },
    ]);

    client.send({ type: 'conversation.item.create', item: { type: 'function_call_output', call_id: 'call_test_1', output: '{"status":"shipped"}' } });
    await client.waitFor('conversation.item.done', 2);
    client.send({ type: 'response.create' });
    const second = await client.waitFor('response.done', 2);
    expect(second.response.status).toBe('completed');

    const session = await sims.current.waitForSession();
    expect(session.functionCallOutputs).toMatchObject([{ callId: 'call_test_1', output: '{"status":"shipped"}', knownCall: true }]);
    const [firstCreate, secondCreate] = session.responseCreateRequests;
    expect(session.functionCallOutputs[0]!.logIndex).toBeGreaterThan(firstCreate!.logIndex);
    expect(session.functionCallOutputs[0]!.logIndex).toBeLessThan(secondCreate!.logIndex);
    expect(session.responses.map((response) => [response.kind, response.callId, response.functionName])).toEqual([
      ['function_call', 'call_test_1', 'lookup_order'],
      ['audio', null, null],
    ]);
  });
});

describe('text items', () => {
  it('adds a user text message (forwarded DTMF) with conversation.item.added and .done, chained by previous_item_id', async () => {
    const client = await connect({ apiKey: API_KEY });
    client.send({ type: 'conversation.item.create', item: { type: 'message', role: 'user', content: [{ type: 'input_text', text: 'The caller pressed 1.' }] } });
    client.send({ type: 'conversation.item.create', item: { type: 'message', role: 'user', content: [{ type: 'input_text', text: 'The caller pressed #.' }] } });
    const second = await client.waitFor('conversation.item.done', 2);
    const first = client.ofType('conversation.item.added')[0]!;
    expect(first.item).toEqual({
      id: expect.stringMatching(/^item_/),
      object: 'realtime.item',
      type: 'message',
      status: 'completed',
      role: 'user',
      content: [{ type: 'input_text', text: 'The caller pressed 1.' }],
    });
    expect(first.previous_item_id).toBeNull();
    expect(second.previous_item_id).toBe(first.item.id);
    expect((await sims.current.waitForSession()).userTextMessages.map((message) => message.text)).toEqual(['The caller pressed 1.', 'The caller pressed #.']);
  });
});

describe('faults', () => {
  it('drops the connection (no close frame) right after the n-th delta of a response', async () => {
    const client = await connect({ apiKey: API_KEY, speedFactor: Infinity, faults: { closeMidResponseAfterDeltas: 3 } });
    client.send({ type: 'response.create' });
    const closed = await client.closed;
    expect(closed.code).toBe(1006);
    expect(client.ofType('response.output_audio.delta')).toHaveLength(3);
    expect(client.types).not.toContain('response.done');
    const session = await sims.current.waitForSession();
    await session.closed;
    expect(session.responses[0]).toMatchObject({ status: 'aborted', deltasSent: 3 });
  });
});
