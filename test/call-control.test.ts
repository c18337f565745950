/**
 * Call control on a manual clock: the after-stream decision, ending only once the last words have played, the
 * silence check-in and time limit, the built-in tools' handlers, and the hold sound.
 */
import { describe, expect, it } from 'vitest';
import { decideAfterStream, UPSTREAM_LOST_GOODBYE, type StreamOutcome } from '../src/call/after-stream.js';
import { builtinToolSpecs, builtinTools, type CallControlSettings } from '../src/call/builtin-tools.js';
import { CallEnding, ENDING_DEADLINE_MS } from '../src/call/call-ending.js';
import { CallLimits } from '../src/call/call-limits.js';
import { HOLD_CYCLE_MS, HoldPlayer, holdCycleMulaw } from '../src/call/hold-sound.js';
import { decodeMulaw } from '../src/audio/mulaw.js';
import { ManualClock } from '../src/clock.js';
import { recoveryFor } from '../src/call/session-recovery.js';

const TRANSFER: StreamOutcome = { kind: 'transfer', destinationName: 'billing', target: '+15550009999', timeoutS: 20, callerId: '+15550000001', agentName: 'reception' };

describe('decideAfterStream', () => {
  it.each([
    [null, null, { kind: 'hang_up' }],
    [{ kind: 'hang_up', reason: 'goodbye' }, null, { kind: 'hang_up' }],
    [{ kind: 'upstream_lost' }, null, { kind: 'say_and_hang_up', text: UPSTREAM_LOST_GOODBYE }],
    [TRANSFER, null, { kind: 'dial', target: '+15550009999', timeoutS: 20, callerId: '+15550000001' }],
    [TRANSFER, 'completed', { kind: 'hang_up' }],
    [TRANSFER, 'answered', { kind: 'hang_up' }],
  ] as const)('%j after dial %s → %j', (outcome, dialStatus, step) => {
    expect(decideAfterStream(outcome, dialStatus)).toEqual(step);
  });

  it.each(['busy', 'no-answer', 'failed', 'canceled'] as const)('a %s transfer goes back to the agent, told why', (dialStatus) => {
    expect(decideAfterStream(TRANSFER, dialStatus)).toEqual({
      kind: 'back_to_agent',
      agentName: 'reception',
      note: `You tried to transfer the caller to billing, but the transfer failed (${dialStatus.replace('-', ' ')}). Tell the caller briefly and offer to help another way.`,
    });
  });
});

describe('CallEnding', () => {
  function setup() {
    const clock = new ManualClock(0);
    let playing = true;
    const fired: StreamOutcome[] = [];
    const ending = new CallEnding(clock, () => playing, (outcome) => fired.push(outcome));
    return { clock, ending, fired, stopPlaying: () => (playing = false) };
  }

  it('closes only after the follow-up answer is done AND nothing is left to play', () => {
    const { clock, ending, fired, stopPlaying } = setup();
    ending.request({ kind: 'hang_up', reason: 'goodbye' });
    ending.check();
    expect(fired).toEqual([]); // the goodbye has not even been answered
    ending.onResponseDone('completed'); // a response already on its way when the goodbye was asked for: not it
    ending.check();
    expect(fired).toEqual([]);
    ending.onResponseStarted();
    ending.onResponseDone('completed');
    ending.check();
    clock.advance(300);
    expect(fired).toEqual([]); // still playing: looked at every 100 ms
    stopPlaying();
    clock.advance(100);
    expect(fired).toEqual([{ kind: 'hang_up', reason: 'goodbye' }]);
    ending.check();
    clock.advance(ENDING_DEADLINE_MS);
    expect(fired).toHaveLength(1);
  });

  it('a barge-in during the goodbye waits for the next answer; a cancelled goodbye is not it', () => {
    const { ending, fired, stopPlaying } = setup();
    ending.request(TRANSFER);
    ending.onResponseStarted();
    ending.onResponseDone('completed');
    ending.onBargeIn();
    ending.onResponseDone('cancelled');
    stopPlaying();
    ending.check();
    expect(fired).toEqual([]);
    ending.onResponseStarted();
    ending.onResponseDone('completed');
    ending.check();
    expect(fired).toEqual([TRANSFER]);
  });

  it('ends anyway at the deadline when the provider never answers; nothing before a request', () => {
    const { clock, ending, fired, stopPlaying } = setup();
    stopPlaying();
    ending.onResponseDone('completed');
    ending.check();
    expect(fired).toEqual([]);
    ending.request({ kind: 'hang_up', reason: 'max duration' });
    clock.advance(ENDING_DEADLINE_MS - 1);
    expect(fired).toEqual([]);
    clock.advance(1);
    expect(fired).toEqual([{ kind: 'hang_up', reason: 'max duration' }]);
  });
});

describe('CallLimits', () => {
  function setup(settings: { maxCallDurationS: number | null; silenceCheckInS: number | null }) {
    const clock = new ManualClock(0);
    const actions: string[] = [];
    let busy = false;
    const limits = new CallLimits(clock, settings, {
      agentBusy: () => busy,
      checkIn: () => actions.push(`check-in@${clock.now()}`),
      goodbye: (reason) => actions.push(`goodbye ${reason}@${clock.now()}`),
    });
    limits.start();
    return { clock, limits, actions, setBusy: (value: boolean) => (busy = value) };
  }

  it('checks in after the silence, then says goodbye after as long again', () => {
    const { clock, actions } = setup({ maxCallDurationS: null, silenceCheckInS: 10 });
    clock.advance(25_000);
    expect(actions).toEqual(['check-in@10000', 'goodbye caller silent@20000']);
  });

  it('caller activity restarts the count and forgets the check-in; a busy agent postpones it', () => {
    const { clock, limits, actions, setBusy } = setup({ maxCallDurationS: null, silenceCheckInS: 10 });
    clock.advance(9_000);
    limits.onCallerActivity();
    clock.advance(9_000);
    expect(actions).toEqual([]);
    setBusy(true);
    clock.advance(1_000); // due at 19 000, the agent is talking: postponed
    expect(actions).toEqual([]);
    setBusy(false);
    clock.advance(10_000);
    expect(actions).toEqual(['check-in@29000']);
    limits.onCallerActivity();
    clock.advance(10_000);
    expect(actions).toEqual(['check-in@29000', 'check-in@39000']);
  });

  it('the time limit says goodbye once, and stop() cancels everything', () => {
    const { clock, actions } = setup({ maxCallDurationS: 60, silenceCheckInS: null });
    clock.advance(60_000);
    clock.advance(60_000);
    expect(actions).toEqual(['goodbye max duration@60000']);
    const second = setup({ maxCallDurationS: 60, silenceCheckInS: 5 });
    second.limits.stop();
    second.clock.advance(120_000);
    expect(second.actions).toEqual([]);
  });
});

describe('built-in tools', () => {
  const settings: CallControlSettings = {
    agentName: 'reception',
    builtinTools: ['end_call', 'transfer_call'],
    transferDestinations: [
      { name: 'billing', target: '+15550009999', description: 'invoices and payments' },
      { name: 'front', target: 'sip:front@example.com', description: 'a person at reception' },
    ],
    transferTimeoutS: 20,
    transferCallerId: '+15550000001',
  };

  it('offers the model the destinations by name only', () => {
    const specs = builtinToolSpecs(settings);
    expect(specs.map((spec) => spec.name)).toEqual(['end_call', 'transfer_call']);
    expect(specs[1]!.parameters).toEqual({
      type: 'object',
      properties: {
        destination: { type: 'string', enum: ['billing', 'front'], description: 'One of the named destinations.' },
        reason: { type: 'string', description: 'Why the caller is transferred, in a few words.' },
      },
      required: ['destination'],
      additionalProperties: false,
    });
    expect(builtinToolSpecs({ ...settings, builtinTools: ['transfer_call'], transferDestinations: [] })).toEqual([]);
  });

  it('end_call and transfer_call ask the call to end the stream; an invented destination is refused', async () => {
    const requested: StreamOutcome[] = [];
    const [endCall, transferCall] = builtinTools(settings, (outcome) => requested.push(outcome));
    const context = { callSid: 'CA1', streamSid: 'MZ1' };
    await endCall!.handler({ reason: 'caller is done' }, context);
    await transferCall!.handler({ destination: 'billing' }, context);
    expect(requested).toEqual([{ kind: 'hang_up', reason: 'caller is done' }, { ...TRANSFER, agentName: 'reception' }]);
    expect(() => transferCall!.handler({ destination: '+15551234567' }, context)).toThrow(
      'unknown destination "+15551234567": choose one of billing, front. You cannot transfer to any other number.',
    );
    expect(requested).toHaveLength(2);
  });
});

describe('HoldPlayer', () => {
  function holdWithSink(busyUntilMs = 0) {
    const clock = new ManualClock(0);
    const log: string[] = [];
    const hold = new HoldPlayer(clock, {
      enqueue: (responseId, itemId, mulaw) => log.push(`${responseId}/${itemId} ${mulaw.length}@${clock.now()}`) > 0,
      endItem: (_responseId, itemId) => void log.push(`end ${itemId}`),
      isActive: () => clock.now() < busyUntilMs,
      interrupt: () => log.push(`clear@${clock.now()}`),
    });
    return { clock, log, hold };
  }

  it("waits until the agent's own words have played, then starts; a stop while waiting sends no clear", () => {
    const { clock, log, hold } = holdWithSink(250);
    hold.start();
    clock.advance(200);
    expect(log).toEqual([]);
    clock.advance(100);
    expect(log).toEqual(['callbridge-hold/callbridge-hold-1 8000@300', 'end callbridge-hold-1']);
    const second = holdWithSink(1_000);
    second.hold.start();
    second.clock.advance(500);
    second.hold.stop();
    second.clock.advance(2_000);
    expect(second.log).toEqual([]);
  });

  it('queues one cycle at a time until stopped, then clears once', () => {
    const { clock, log, hold } = holdWithSink();
    hold.start();
    hold.start();
    clock.advance(HOLD_CYCLE_MS);
    hold.stop();
    hold.stop();
    clock.advance(5 * HOLD_CYCLE_MS);
    expect(log).toEqual([
      'callbridge-hold/callbridge-hold-1 8000@0',
      'end callbridge-hold-1',
      'callbridge-hold/callbridge-hold-2 8000@1000',
      'end callbridge-hold-2',
      'clear@1000',
    ]);
  });

  it('is two soft beeps, silent elsewhere, with no clicks at the edges', () => {
    const samples = decodeMulaw(holdCycleMulaw());
    const peak = samples.reduce((max, value) => Math.max(max, Math.abs(value)), 0);
    expect(peak).toBeGreaterThan(1_500);
    expect(peak).toBeLessThan(2_100);
    expect(Math.abs(samples[0]!)).toBeLessThan(40);
    expect(samples.subarray(8 * 400).every((value) => Math.abs(value) < 40)).toBe(true);
  });
});

describe('recoveryFor (a lost provider session)', () => {
  const base = { agentSpoke: false, fallbackAvailable: true, redialsLeft: 1, canRedial: true };
  it.each([
    [{ ...base, fault: 'ended' }, 'end_after_playback'],
    [{ ...base, fault: 'unauthorized' }, 'fallback'],
    [{ ...base, fault: 'connect_timeout' }, 'fallback'],
    [{ ...base, fault: 'handshake_failed' }, 'fallback'],
    [{ ...base, fault: 'connect_failed', agentSpoke: true }, 'redial'],
    [{ ...base, fault: 'unauthorized', fallbackAvailable: false }, 'redial'],
    [{ ...base, fault: 'closed' }, 'redial'],
    [{ ...base, fault: 'closed', redialsLeft: 0 }, 'apologise'],
    [{ ...base, fault: 'session_expired', canRedial: false }, 'apologise'],
  ] as const)('%j → %s', (inputs, recovery) => {
    expect(recoveryFor(inputs)).toBe(recovery);
  });
});
