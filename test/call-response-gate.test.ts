import { describe, expect, it } from 'vitest';
import { silentLogger } from '../src/logger.js';
import { ResponseGate, type ResponseGateEvent, type ResponseGateState } from '../src/providers/openai/response-gate.js';

function setup() {
  const sent: Array<ResponseGateEvent & { id: string }> = [];
  const gate = new ResponseGate({
    send: (event) => {
      const id = `evt_${sent.length + 1}`;
      sent.push({ ...event, id });
      return id;
    },
    logger: silentLogger(),
  });
  return { gate, sent, types: () => sent.map((event) => event.type) };
}

type Step =
  | ['create', string?]
  | ['created', string]
  | ['done', string, string?]
  | ['error', string, string]
  | ['cancel'];

function run(gate: ResponseGate, steps: Step[]): ResponseGateState[] {
  const states: ResponseGateState[] = [];
  for (const step of steps) {
    switch (step[0]) {
      case 'create':
        gate.requestCreate(step[1] === undefined ? { reason: 'turn' } : { reason: 'greeting', instructions: step[1] });
        break;
      case 'created':
        gate.onResponseCreated(step[1]);
        break;
      case 'done':
        gate.onResponseDone(step[1], step[2] ?? 'completed');
        break;
      case 'error':
        gate.onError({ code: step[1], eventId: step[2] });
        break;
      case 'cancel':
        gate.cancelActive();
        break;
    }
    states.push(gate.state);
  }
  return states;
}

describe('ResponseGate state machine', () => {
  const table: Array<{ name: string; steps: Step[]; states: ResponseGateState[]; sent: string[] }> = [
    {
      name: 'one create per request, freed by done',
      steps: [['create'], ['created', 'r1'], ['done', 'r1'], ['create']],
      states: ['create_requested', 'active', 'free', 'create_requested'],
      sent: ['response.create', 'response.create'],
    },
    {
      name: 'a request while one is in flight is deferred until done, a third is refused',
      steps: [['create'], ['create'], ['create'], ['created', 'r1'], ['done', 'r1'], ['created', 'r2'], ['done', 'r2']],
      states: ['create_requested', 'create_requested', 'create_requested', 'active', 'create_requested', 'active', 'free'],
      sent: ['response.create', 'response.create'],
    },
    {
      name: 'a server-VAD response blocks creates until its done',
      steps: [['created', 'vad1'], ['create'], ['done', 'vad1']],
      states: ['active', 'active', 'create_requested'],
      sent: ['response.create'],
    },
    {
      name: 'a late done of an older response does not free the newer one',
      steps: [['create'], ['created', 'r2'], ['done', 'r1'], ['create']],
      states: ['create_requested', 'active', 'active', 'active'],
      sent: ['response.create'],
    },
    {
      name: 'conversation_already_has_active_response for our create: wait for that response, then free',
      steps: [['create'], ['error', 'conversation_already_has_active_response', 'evt_1'], ['create'], ['done', 'vad7']],
      states: ['create_requested', 'active', 'active', 'create_requested'],
      sent: ['response.create', 'response.create'],
    },
    {
      name: 'another error on our create frees the gate',
      steps: [['create'], ['error', 'invalid_value', 'evt_1'], ['create']],
      states: ['create_requested', 'free', 'create_requested'],
      sent: ['response.create', 'response.create'],
    },
    {
      name: 'an error for someone else’s event id does not move the gate',
      steps: [['create'], ['error', 'conversation_already_has_active_response', 'evt_other'], ['error', 'invalid_value', 'evt_other']],
      states: ['create_requested', 'create_requested', 'create_requested'],
      sent: ['response.create'],
    },
    {
      name: 'cancel only when active, once',
      steps: [['cancel'], ['create'], ['cancel'], ['created', 'r1'], ['cancel'], ['cancel'], ['done', 'r1', 'cancelled']],
      states: ['free', 'create_requested', 'create_requested', 'active', 'cancel_requested', 'cancel_requested', 'free'],
      sent: ['response.create', 'response.cancel'],
    },
    {
      name: 'response_cancel_not_active for our cancel frees the gate and sends the pending create',
      steps: [['created', 'r1'], ['create'], ['cancel'], ['error', 'response_cancel_not_active', 'evt_1']],
      states: ['active', 'active', 'cancel_requested', 'create_requested'],
      sent: ['response.cancel', 'response.create'],
    },
  ];

  for (const { name, steps, states, sent } of table) {
    it(name, () => {
      const { gate, types } = setup();
      expect(run(gate, steps)).toEqual(states);
      expect(types()).toEqual(sent);
    });
  }

  it('sends GA shapes and counts creates, deferrals, refusals and matched errors', () => {
    const { gate, sent } = setup();
    expect(gate.requestCreate({ reason: 'greeting', instructions: 'Say hello.' })).toBe('sent');
    expect(gate.requestCreate({ reason: 'turn' })).toBe('deferred');
    expect(gate.requestCreate({ reason: 'dtmf' })).toBe('refused');
    gate.onError({ code: 'conversation_already_has_active_response', eventId: 'evt_1' });
    gate.onError({ code: 'something', eventId: null });
    gate.onResponseCreated('r9');
    expect(gate.cancelActive()).toBe(true);
    expect(sent).toEqual([
      { type: 'response.create', response: { instructions: 'Say hello.' }, id: 'evt_1' },
      { type: 'response.cancel', id: 'evt_2' },
    ]);
    expect(gate.stats()).toEqual({ createsSent: 1, createsDeferred: 1, createsRefused: 1, cancelsSent: 1, errors: 1 });
    expect(gate.isResponseActive).toBe(true);
    expect(gate.hasPendingRequest).toBe(true);
  });

  it('marks cancelled and interrupted responses stale so their late deltas are dropped', () => {
    const { gate } = setup();
    gate.onResponseCreated('r1');
    expect(gate.isStale('r1')).toBe(false);
    gate.cancelActive();
    expect(gate.isStale('r1')).toBe(true);
    gate.onResponseDone('r1', 'cancelled');
    gate.onResponseCreated('r2');
    gate.markInterrupted('r2');
    expect(gate.isStale('r2')).toBe(true);
    expect(gate.isStale('r3')).toBe(false);
  });

  it('reset() (re-dial) forgets the active response and the pending request', () => {
    const { gate, types } = setup();
    gate.onResponseCreated('r1');
    gate.requestCreate({ reason: 'turn' });
    gate.reset();
    expect(gate.state).toBe('free');
    expect(gate.activeResponseId).toBeNull();
    gate.onResponseDone('r1', 'completed');
    expect(types()).toEqual([]);
  });
});
