/**
 * The pre-dial pool holds an upstream session per stream token between the webhook and the media stream. An entry
 * must be usable once, and an abandoned one must be closed on time: an unclaimed session is an open, billable socket.
 */
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../src/clock.js';
import { createLogger, silentLogger } from '../src/logger.js';
import { loadConfig } from '../src/config.js';
import { openRealtimeConnection, type RealtimeConnection, type RealtimeConnectionState } from '../src/providers/openai/connection.js';
import { PredialPool } from '../src/server/predial.js';
import { buildSessionUpdate } from '../src/providers/openai/session-config.js';
import { FakeRealtimeServer, sessionUpdatedFor } from './helpers/realtime-fake-server.js';

class FakeConnection {
  state: RealtimeConnectionState = 'ready';
  closeCalls = 0;

  close(): void {
    this.closeCalls++;
    this.state = 'closed';
  }
}

function pool(clock: ManualClock, ttlMs = 5000): PredialPool<FakeConnection> {
  return new PredialPool<FakeConnection>({ clock, ttlMs, logger: silentLogger() });
}

describe('PredialPool', () => {
  it('claim within the TTL returns the connection once, open, and cancels its expiry', () => {
    const clock = new ManualClock();
    const predial = pool(clock);
    const connection = new FakeConnection();
    predial.put('tok_a', connection);
    expect(predial.size).toBe(1);
    clock.advance(4999);
    expect(predial.claim('tok_a')).toBe(connection);
    expect(predial.claim('tok_a')).toBeNull();
    expect(predial.size).toBe(0);
    expect(clock.pendingTimers).toBe(0);
    clock.advance(10_000);
    expect(connection.closeCalls).toBe(0);
  });

  it('an unclaimed connection is closed at exactly ttlMs and can no longer be claimed', () => {
    const clock = new ManualClock();
    const lines: string[] = [];
    const predial = new PredialPool<FakeConnection>({
      clock,
      ttlMs: 5000,
      logger: createLogger({ level: 'info', destination: { write: (line: string) => void lines.push(line) } }),
    });
    const connection = new FakeConnection();
    predial.put('tok_secret_b', connection);
    clock.advance(4999);
    expect(connection.closeCalls).toBe(0);
    clock.advance(1);
    expect(connection.closeCalls).toBe(1);
    expect(predial.size).toBe(0);
    expect(predial.claim('tok_secret_b')).toBeNull();
    const expiry = lines.map((line) => JSON.parse(line) as Record<string, unknown>).filter((entry) => entry['msg'] === 'predialled connection unclaimed: closing');
    expect(expiry).toMatchObject([{ ttlMs: 5000, state: 'ready', component: 'predial' }]);
    expect(lines.join('\n')).not.toContain('tok_secret_b');
  });

  it('tokens are independent; unknown tokens claim null', () => {
    const clock = new ManualClock();
    const predial = pool(clock);
    const first = new FakeConnection();
    const second = new FakeConnection();
    predial.put('tok_1', first);
    clock.advance(3000);
    predial.put('tok_2', second);
    clock.advance(2000);
    expect(first.closeCalls).toBe(1);
    expect(predial.claim('tok_unknown')).toBeNull();
    expect(predial.claim('tok_2')).toBe(second);
    expect(second.closeCalls).toBe(0);
  });

  it('a connection that already closed (failed pre-dial) is not handed out', () => {
    const clock = new ManualClock();
    const predial = pool(clock);
    const connection = new FakeConnection();
    predial.put('tok_c', connection);
    connection.state = 'closed';
    expect(predial.claim('tok_c')).toBeNull();
    expect(predial.size).toBe(0);
    expect(clock.pendingTimers).toBe(0);
  });

  it('putting a second connection under a token closes the first and restarts the TTL', () => {
    const clock = new ManualClock();
    const predial = pool(clock);
    const first = new FakeConnection();
    const second = new FakeConnection();
    predial.put('tok_d', first);
    clock.advance(4000);
    predial.put('tok_d', second);
    expect(first.closeCalls).toBe(1);
    clock.advance(4000);
    expect(second.closeCalls).toBe(0);
    expect(predial.claim('tok_d')).toBe(second);
  });

  it('closeAll closes every unclaimed connection and leaves no timers', () => {
    const clock = new ManualClock();
    const predial = pool(clock);
    const connections = [new FakeConnection(), new FakeConnection(), new FakeConnection()];
    connections.forEach((connection, index) => predial.put(`tok_${index}`, connection));
    expect(predial.claim('tok_1')).toBe(connections[1]);
    predial.closeAll();
    expect(connections.map((connection) => connection.closeCalls)).toStrictEqual([1, 0, 1]);
    expect(predial.size).toBe(0);
    expect(clock.pendingTimers).toBe(0);
  });

  it('with a real connection: claimed ready with buffered events; an expired one closes its socket', async () => {
    const server = await FakeRealtimeServer.start();
    try {
      const clock = new ManualClock();
      const predial = new PredialPool<RealtimeConnection>({ clock, ttlMs: 5000, logger: silentLogger() });
      const sessionUpdate = buildSessionUpdate(loadConfig({ NODE_ENV: 'test' }).openai);
      const dial = () =>
        openRealtimeConnection({ url: `${server.baseUrl}/v1/realtime`, model: 'gpt-realtime', apiKey: 'sk-test', authMode: 'bearer', sessionUpdate, logger: silentLogger() });

      const claimed = dial();
      predial.put('tok_live', claimed);
      await server.waitForMessages(1);
      server.send(sessionUpdatedFor(sessionUpdate.session));
      await server.roundTrip();
      const connection = predial.claim('tok_live');
      expect(connection).toBe(claimed);
      expect(connection?.state).toBe('ready');
      const seen: string[] = [];
      connection?.setHandlers({ onEvent: (event) => void seen.push(event.type), onReady: () => void seen.push('ready'), onFault: () => void seen.push('fault') });
      expect(seen).toStrictEqual(['session.created', 'session.updated', 'ready']);
      connection?.close();
      await connection?.closed;

      const abandoned = dial();
      predial.put('tok_abandoned', abandoned);
      await server.waitForMessages(2);
      clock.advance(5000);
      expect(abandoned.state).toBe('closed');
      await abandoned.closed;
      await server.waitForClientClose(2);
      expect(server.closesFromClient[1]).toStrictEqual({ code: 1000, reason: 'client closing' });
    } finally {
      await server.stop();
    }
  });
});
