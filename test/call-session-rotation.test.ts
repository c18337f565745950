/**
 * SessionRotation and ConversationMemory alone, on a manual clock: the fresh session is dialled when the timer fires,
 * the switch waits for both a quiet moment and the fresh session being ready, a fresh session that dies first is
 * dropped (the current one goes on), and the conversation handed over is the one the caller heard.
 */
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../src/clock.js';
import { silentLogger } from '../src/logger.js';
import { ConversationMemory, SessionRotation } from '../src/call/session-rotation.js';
import type { VoiceAgentSession } from '../src/voice/port.js';
import { FakeVoiceAgent } from './helpers/fake-voice-agent.js';

function setup(afterMs: number | null = 1_000) {
  const clock = new ManualClock();
  let quiet = false;
  const dialled: FakeVoiceAgent[] = [];
  const switched: VoiceAgentSession[] = [];
  const rotation = new SessionRotation({
    clock,
    logger: silentLogger(),
    afterMs,
    dial: () => {
      const next = new FakeVoiceAgent({ name: `fresh-${dialled.length + 1}` });
      dialled.push(next);
      return next;
    },
    isIdle: () => quiet,
    switchTo: (next) => switched.push(next),
  });
  return { clock, rotation, dialled, switched, setQuiet: (value: boolean) => (quiet = value) };
}

describe('SessionRotation', () => {
  it('dials when the timer fires and switches only once the call is quiet and the fresh session is ready', () => {
    const { clock, rotation, dialled, switched, setQuiet } = setup();
    rotation.sessionStarted();
    clock.advance(999);
    expect(dialled).toHaveLength(0);
    clock.advance(1);
    expect(dialled).toHaveLength(1);
    setQuiet(true);
    clock.advance(500); // quiet, but the fresh session is still connecting
    expect(switched).toEqual([]);
    dialled[0]!.state = 'ready';
    setQuiet(false); // ready, but the agent is talking
    clock.advance(500);
    expect(switched).toEqual([]);
    setQuiet(true);
    clock.advance(100);
    expect(switched).toEqual([dialled[0]]);
    expect(rotation.count).toBe(1);
    expect(dialled[0]!.commands).toEqual([]); // the call seeds and listens, not the rotation
  });

  it('a fresh session that closes before it takes over is dropped; the current session goes on', () => {
    const { clock, rotation, dialled, switched } = setup();
    rotation.sessionStarted();
    clock.advance(1_000);
    dialled[0]!.state = 'closed';
    clock.advance(1_000);
    expect(switched).toEqual([]);
    expect(rotation.count).toBe(0);
  });

  it('cancel closes the waiting session and stops the timer; no rotation when afterMs is null', () => {
    const { clock, rotation, dialled } = setup();
    rotation.sessionStarted();
    clock.advance(1_000);
    rotation.cancel();
    expect(dialled[0]!.commands).toEqual([{ kind: 'close' }]);
    clock.advance(10_000);
    expect(dialled).toHaveLength(1);
    const never = setup(null);
    never.rotation.sessionStarted();
    never.clock.advance(1_000_000);
    expect(never.dialled).toEqual([]);
  });
});

describe('ConversationMemory', () => {
  it('keeps final lines in order, builds lines from pieces, and cuts an interrupted answer to what was heard', () => {
    const memory = new ConversationMemory();
    memory.transcript('agent', '0/a1', 'Hello, how can I help?', true);
    memory.transcript('caller', '0/u1', 'What are your hours?', true);
    memory.transcript('agent', '0/a2', 'We are open ', false);
    memory.transcript('agent', '0/a2', 'from nine to five every weekday and from ten to two on Saturdays.', false);
    memory.bargeIn([{ responseId: '0/r2', itemId: '0/a2', heardMs: 1_000, audioMs: 4_000 }]);
    memory.transcript('caller', '0/u2', 'Sunday?', true);
    memory.transcript('caller', '0/u2', 'late piece', false); // after the final line: ignored
    expect(memory.turns()).toEqual([
      { role: 'assistant', text: 'Hello, how can I help?' },
      { role: 'user', text: 'What are your hours?' },
      { role: 'assistant', text: 'We are open from' }, // a quarter of 78 characters is 19: back to the word boundary
      { role: 'user', text: 'Sunday?' },
    ]);
  });
});
