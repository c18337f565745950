/**
 * Re-dialling a lost upstream (UPSTREAM_REDIAL_ATTEMPTS=1). The story: the OpenAI socket drops mid-greeting; a
 * bridge that gives up strands the caller, and one that re-dials naively greets twice or leaves the cut answer
 * dangling (heard as silence mid-answer). Here the bridge opens a new session, does not greet again, ends the cut
 * answer cleanly, and the caller's question is answered by the new session in full; the stream stays open.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { decodeMulaw } from '../src/audio/mulaw.js';
import { decodeToneTimeline } from '../src/simulator/realtime/server.js';
import { startBridge, type Bridge } from './helpers/e2e.js';

let bridge: Bridge | null = null;
afterEach(async () => {
  await bridge?.close();
  bridge = null;
});

describe('upstream re-dial', () => {
  it('continues the call on a new session: no second greeting, the cut answer ends cleanly, the next answer is whole', async () => {
    bridge = await startBridge({
      env: { AGENT_GREETING: 'Say hello.', UPSTREAM_REDIAL_ATTEMPTS: '1' },
      // Faster than real time, as the real API streams: at 1× every delta would land just as the last one ran out.
      sim: { speedFactor: 2, reply: { kind: 'tone-coded', durationMs: 1_000 }, faults: { closeMidResponseAfterDeltas: 3 } },
    });
    const sim = bridge.sim;
    // Only the first session fails.
    void sim.waitForSession(0).then((first) => first.closed.then(() => (sim.faults.closeMidResponseAfterDeltas = undefined)));
    const call = await bridge.call({ audio: { kind: 'fixture', path: 'fixtures/greeting-question.jsonl' } });
    const result = await call.closed;
    const [summary] = await bridge.waitForSummaries(1);

    expect(sim.sessions).toHaveLength(2);
    const [first, second] = sim.sessions as [(typeof sim.sessions)[number], (typeof sim.sessions)[number]];
    expect(first.responses[0]).toMatchObject({ status: 'aborted', deltasSent: 3 });
    expect(second.eventsIn('response.create')).toHaveLength(0);
    expect(second.responsesPerCommittedTurn()).toEqual([1]);
    expect(second.errors()).toEqual([]);

    expect(result.endedBy).toBe('caller');
    expect(result.clears).toHaveLength(0);
    expect(result.underrunCount).toBe(0);
    const heard = decodeToneTimeline(decodeMulaw(result.heardAudio)).map((segment) => [segment.responseIndex, segment.segmentIndex]);
    // A prefix (≤ 300 ms) of the greeting from the first session, then the second session's first answer, whole.
    const cut = heard.length - 10;
    expect(cut).toBeGreaterThanOrEqual(1);
    expect(cut).toBeLessThanOrEqual(3);
    expect(heard.slice(0, cut)).toEqual(Array.from({ length: cut }, (_, index) => [0, index]));
    expect(heard.slice(cut)).toEqual(Array.from({ length: 10 }, (_, index) => [0, index]));
    expect(summary).toMatchObject({ endReason: 'caller hung up', upstreamFaults: 1, sequenceErrors: 0 });
  });
});
