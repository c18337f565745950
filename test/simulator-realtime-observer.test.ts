/**
 * The session observer, over a real socket: what a benchmark sees (every client event as parsed, every server event
 * as it leaves, audio included), in the order it happens; `logAudioEvents: false` keeping audio out of the session
 * log while the observer still sees it; and an observer that throws leaving the session unharmed.
 */
import { describe, expect, it } from 'vitest';
import type { SimulatedSession, SimulatedSessionObserver } from '../src/simulator/realtime/server.js';
import { GA_SESSION, SIM_API_KEY as API_KEY, silence, toneBurst, useSimulatedServer } from './helpers/realtime-sim-client.js';

const sims = useSimulatedServer();

/** Records every observer call as one line: `started`, `in <type>` or `out <type>`, with the session it was for. */
function recordingObserver(): { observer: SimulatedSessionObserver; calls: string[]; sessions: SimulatedSession[]; outEvents: string[] } {
  const calls: string[] = [];
  const sessions: SimulatedSession[] = [];
  const outEvents: string[] = [];
  const observer: SimulatedSessionObserver = {
    sessionStarted(session) {
      sessions.push(session);
      calls.push(`started ${session.index}`);
    },
    clientEvent(_session, event) {
      calls.push(`in ${String(event.type)}`);
    },
    serverEvent(_session, event) {
      outEvents.push(JSON.stringify(event));
      calls.push(`out ${event.type}`);
    },
  };
  return { observer, calls, sessions, outEvents };
}

describe('observer', () => {
  it('sees the session start, then client events as parsed and server events as sent, in order', async () => {
    const recorded = recordingObserver();
    const client = await sims.connect({ apiKey: API_KEY, observer: recorded.observer });
    client.send({ type: 'session.update', session: GA_SESSION });
    await client.waitFor('session.updated');
    client.appendPcm(silence(20));
    client.send({ type: 'input_audio_buffer.clear' });
    await client.waitFor('input_audio_buffer.cleared');

    expect(recorded.calls).toEqual([
      'started 0',
      'out session.created',
      'in session.update',
      'out session.updated',
      'in input_audio_buffer.append',
      'in input_audio_buffer.clear',
      'out input_audio_buffer.cleared',
    ]);
    expect(recorded.sessions).toEqual([sims.current.sessions[0]]);
    // What the observer saw is exactly what went on the socket.
    expect(recorded.outEvents).toEqual(client.events.map((event) => JSON.stringify(event)));
    client.close();
  });

  it('logAudioEvents: false keeps appends and deltas out of session.log; the observer still sees them', async () => {
    const recorded = recordingObserver();
    const client = await sims.connect({
      apiKey: API_KEY,
      observer: recorded.observer,
      logAudioEvents: false,
      speedFactor: Infinity,
      deltaBytes: 4_800,
      reply: { kind: 'tone', frequencyHz: 500, durationMs: 300 },
    });
    client.appendPcm(silence(100));
    client.send({ type: 'response.create' });
    await client.waitFor('response.done');

    const session = sims.current.sessions[0]!;
    const deltas = client.ofType('response.output_audio.delta').length;
    expect(deltas).toBe(3);
    expect(recorded.calls.filter((call) => call === 'in input_audio_buffer.append')).toHaveLength(5);
    expect(recorded.calls.filter((call) => call === 'out response.output_audio.delta')).toHaveLength(deltas);
    expect(session.eventsIn('input_audio_buffer.append')).toEqual([]);
    expect(session.eventsOut('response.output_audio.delta')).toEqual([]);
    expect(session.log.map((entry) => `${entry.direction} ${String(entry.event.type)}`)).toEqual(
      recorded.calls.filter((call) => call !== 'started 0' && call !== 'in input_audio_buffer.append' && call !== 'out response.output_audio.delta'),
    );
    // The figures the session keeps do not depend on the log.
    expect(session.appendedAudioMs).toBe(100);
    expect(session.responses[0]).toMatchObject({ status: 'completed', deltasSent: deltas, audioMsTotal: 300 });
    client.close();
  });

  it('logs audio events by default', async () => {
    const client = await sims.connect({ apiKey: API_KEY, speedFactor: Infinity, deltaBytes: 4_800, reply: { kind: 'tone', frequencyHz: 500, durationMs: 300 } });
    client.appendPcm(silence(100));
    client.send({ type: 'response.create' });
    await client.waitFor('response.done');
    const session = sims.current.sessions[0]!;
    expect(session.eventsIn('input_audio_buffer.append')).toHaveLength(5);
    expect(session.eventsOut('response.output_audio.delta')).toHaveLength(3);
    client.close();
  });

  it('an observer that throws from every hook never breaks the session', async () => {
    const thrown: string[] = [];
    const observer: SimulatedSessionObserver = {
      sessionStarted() {
        thrown.push('started');
        throw new Error('observer bug');
      },
      clientEvent(_session, event) {
        thrown.push(`in ${String(event.type)}`);
        throw new Error('observer bug');
      },
      serverEvent(_session, event) {
        thrown.push(`out ${event.type}`);
        throw new Error('observer bug');
      },
    };
    const client = await sims.connect({ apiKey: API_KEY, observer, speedFactor: Infinity, reply: { kind: 'tone', frequencyHz: 500, durationMs: 200 } });
    client.send({ type: 'session.update', session: GA_SESSION });
    client.appendPcm(toneBurst(600));
    client.appendPcm(silence(700));
    await client.waitFor('response.done');

    const session = sims.current.sessions[0]!;
    expect(session.isOpen).toBe(true);
    expect(session.committedTurns).toHaveLength(1);
    expect(session.responses.map((response) => response.status)).toEqual(['completed']);
    expect(thrown.slice(0, 3)).toEqual(['started', 'out session.created', 'in session.update']);
    expect(thrown.filter((call) => call.startsWith('out ')).map((call) => call.slice(4))).toEqual(client.types);
    client.close();
  });
});
