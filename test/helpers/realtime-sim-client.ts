/**
 * A bridge-less raw WebSocket client for the simulated OpenAI Realtime server: it sends GA client events and records
 * every server event, so tests assert on exactly what a bridge would see.
 */
import { ProbeWaiters } from './probe-waiters.js';
import type { RealtimeClientEvent, RealtimeServerEvent } from 'openai/resources/realtime/realtime';
import { afterEach } from 'vitest';
import WebSocket from 'ws';
import { PCM_SAMPLE_RATE_HZ } from '../../src/audio/frames.js';
import { bytesToBase64, pcm16ToBytes } from '../../src/audio/pcm.js';
import {
  startSimulatedRealtimeServer,
  type SimulatedRealtimeServer,
  type SimulatedRealtimeServerOptions,
} from '../../src/simulator/realtime/server.js';
import { concatInt16, sineInt16 } from './signal.js';

export class RawRealtimeClient {
  readonly events: RealtimeServerEvent[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  private readonly waiters = new ProbeWaiters();

  private constructor(private readonly socket: WebSocket) {
    socket.on('message', (data) => {
      this.events.push(JSON.parse(String(data)) as RealtimeServerEvent);
      this.waiters.notify();
    });
    this.closed = new Promise((resolve) => {
      socket.on('close', (code, reason) => {
        resolve({ code, reason: reason.toString('utf8') });
        this.waiters.notify();
      });
    });
  }

  static connect(url: string, headers: Record<string, string>): Promise<RawRealtimeClient> {
    const socket = new WebSocket(url, { headers });
    return new Promise((resolve, reject) => {
      const client = new RawRealtimeClient(socket);
      socket.once('open', () => resolve(client));
      socket.once('error', reject);
      socket.once('unexpected-response', (_request, response) => reject(new Error(`HTTP ${response.statusCode}`)));
    });
  }

  get types(): string[] {
    return this.events.map((event) => event.type);
  }

  send(event: RealtimeClientEvent | Record<string, unknown>): void {
    this.socket.send(JSON.stringify(event));
  }

  /** Appends 24 kHz PCM16 in 20 ms pieces, as a bridge streams caller audio. */
  appendPcm(samples: Int16Array, chunkMs = 20): void {
    const chunk = (PCM_SAMPLE_RATE_HZ / 1000) * chunkMs;
    for (let offset = 0; offset < samples.length; offset += chunk) {
      this.send({ type: 'input_audio_buffer.append', audio: bytesToBase64(pcm16ToBytes(samples.slice(offset, offset + chunk))) });
    }
  }

  ofType<T extends RealtimeServerEvent['type']>(type: T): Array<Extract<RealtimeServerEvent, { type: T }>> {
    return this.events.filter((event) => event.type === type) as Array<Extract<RealtimeServerEvent, { type: T }>>;
  }

  /** Resolves with the `count`-th event (1-based) of `type` once it has arrived. */
  waitFor<T extends RealtimeServerEvent['type']>(type: T, count = 1, timeoutMs = 5_000): Promise<Extract<RealtimeServerEvent, { type: T }>> {
    return this.waitUntil(() => this.ofType(type)[count - 1], `${count}× ${type}`, timeoutMs);
  }

  waitUntil<T>(probe: () => T | undefined, what: string, timeoutMs = 5_000): Promise<T> {
    return this.waiters.waitUntil(probe, what, () => this.types.join(', '), timeoutMs);
  }

  close(): void {
    this.socket.close();
  }
}

/** Attempts an upgrade that is expected to fail; resolves with the HTTP status and JSON body. */
export function expectUpgradeRejected(url: string, headers: Record<string, string>): Promise<{ status: number; body: unknown }> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url, { headers });
    socket.once('open', () => {
      socket.close();
      reject(new Error('upgrade unexpectedly accepted'));
    });
    socket.once('unexpected-response', (_request, response) => {
      let text = '';
      response.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body: JSON.parse(text) }));
    });
    socket.once('error', () => undefined);
  });
}

/** `durationMs` of a sine at 24 kHz: caller "speech" the energy VAD hears. */
export function toneBurst(durationMs: number, frequencyHz = 440, amplitude = 8_000): Int16Array {
  return sineInt16(frequencyHz, PCM_SAMPLE_RATE_HZ, (PCM_SAMPLE_RATE_HZ / 1000) * durationMs, amplitude);
}

export function silence(durationMs: number): Int16Array {
  return new Int16Array((PCM_SAMPLE_RATE_HZ / 1000) * durationMs);
}

export function concatSamples(...parts: Int16Array[]): Int16Array {
  return concatInt16(parts);
}

export const SIM_API_KEY = 'sk-test-simulated-key-123456';
export const SIM_AUTH = { Authorization: `Bearer ${SIM_API_KEY}` };

/**
 * One simulated Realtime server per test, closed after it. `connect` starts one and opens a raw client on it
 * (`query` is appended to the URL, e.g. `?model=gpt-realtime`), resolved once `session.created` has arrived.
 */
export function useSimulatedServer() {
  let server: SimulatedRealtimeServer | null = null;
  afterEach(async () => {
    await server?.close();
    server = null;
  });
  const fixture = {
    async start(options: SimulatedRealtimeServerOptions): Promise<SimulatedRealtimeServer> {
      server = await startSimulatedRealtimeServer(options);
      return server;
    },
    async connect(options: SimulatedRealtimeServerOptions, query = ''): Promise<RawRealtimeClient> {
      const started = await fixture.start(options);
      const client = await RawRealtimeClient.connect(`${started.url}${query}`, SIM_AUTH);
      await client.waitFor('session.created');
      return client;
    },
    /** Registers a server started elsewhere (e.g. the embedded backend) to be closed after the test. */
    adopt(started: SimulatedRealtimeServer): SimulatedRealtimeServer {
      server = started;
      return started;
    },
    /** The server this test started. */
    get current(): SimulatedRealtimeServer {
      if (server === null) throw new Error('no simulated server started in this test');
      return server;
    },
  };
  return fixture;
}

export const GA_SESSION = { type: 'realtime' } as const;
