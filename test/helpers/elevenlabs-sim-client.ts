/**
 * A bridge-less raw WebSocket client for the simulated ElevenLabs Agents server: it sends protocol messages and
 * records every server event, so tests assert on exactly what a bridge would see. Plus audio helpers for the
 * agent's formats and a per-test server fixture.
 */
import { ProbeWaiters } from './probe-waiters.js';
import { afterEach } from 'vitest';
import WebSocket from 'ws';
import { decodeMulaw, encodeMulaw } from '../../src/audio/mulaw.js';
import { base64ToBytes, bytesToBase64, bytesToPcm16, concatBytes, pcm16ToBytes } from '../../src/audio/pcm.js';
import { resampleClip } from '../../src/audio/resampler.js';
import { formatInfo, type AudioFormatInfo } from '../../src/simulator/elevenlabs/formats.js';
import {
  eventBody,
  startSimulatedElevenLabsServer,
  type ElevenLabsAudioFormat,
  type ElevenLabsServerEvent,
  type ElevenLabsServerEventOf,
  type ServerEventBodies,
  type ServerEventType,
  type SimulatedElevenLabsServer,
  type SimulatedElevenLabsServerOptions,
} from '../../src/simulator/elevenlabs/server.js';

export const EL_API_KEY = 'xi-test-simulated-key-123456';

export class RawConvaiClient {
  readonly events: ElevenLabsServerEvent[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  private readonly waiters = new ProbeWaiters();

  private constructor(readonly socket: WebSocket) {
    socket.on('message', (data) => {
      this.events.push(JSON.parse(String(data)) as ElevenLabsServerEvent);
      this.waiters.notify();
    });
    this.closed = new Promise((resolve) => {
      socket.on('close', (code, reason) => {
        resolve({ code, reason: reason.toString('utf8') });
        this.waiters.notify();
      });
    });
  }

  static connect(url: string, protocols: string[] = ['convai']): Promise<RawConvaiClient> {
    const socket = new WebSocket(url, protocols);
    return new Promise((resolve, reject) => {
      const client = new RawConvaiClient(socket);
      socket.once('open', () => resolve(client));
      socket.once('error', reject);
      socket.once('unexpected-response', (_request, response) => reject(new Error(`HTTP ${response.statusCode}`)));
    });
  }

  get types(): string[] {
    return this.events.map((event) => event.type);
  }

  send(message: Record<string, unknown>): void {
    this.socket.send(JSON.stringify(message));
  }

  /** Sends `conversation_initiation_client_data` (empty unless given). */
  initiate(fields: Record<string, unknown> = {}): void {
    this.send({ type: 'conversation_initiation_client_data', ...fields });
  }

  /** Sends caller audio (already in the agent's input format) as `user_audio_chunk`s of `chunkMs`. */
  sendAudio(bytes: Uint8Array, format: ElevenLabsAudioFormat, chunkMs = 20): void {
    const info = formatInfo(format);
    const chunkBytes = Math.round((chunkMs * info.sampleRateHz) / 1000) * info.bytesPerSample;
    for (let offset = 0; offset < bytes.length; offset += chunkBytes) {
      this.send({ user_audio_chunk: bytesToBase64(bytes.subarray(offset, offset + chunkBytes)) });
    }
  }

  ofType<T extends ServerEventType>(type: T): Array<ElevenLabsServerEventOf<T>> {
    return this.events.filter((event) => event.type === type) as Array<ElevenLabsServerEventOf<T>>;
  }

  bodies<T extends ServerEventType>(type: T): Array<ServerEventBodies[T]> {
    return this.ofType(type).map((event) => eventBody(event));
  }

  /** Each event as `type` or `type:event_id` (for those that carry one), runs of identical entries collapsed to `×n`. */
  timeline(fromIndex = 0): string[] {
    const out: string[] = [];
    let last = '';
    let count = 0;
    const flush = (): void => {
      if (count > 0) out.push(count > 1 ? `${last} ×${count}` : last);
    };
    for (const event of this.events.slice(fromIndex)) {
      const body = eventBody(event) as { event_id?: number };
      const entry = body.event_id === undefined ? event.type : `${event.type}:${body.event_id}`;
      if (entry === last) {
        count++;
        continue;
      }
      flush();
      last = entry;
      count = 1;
    }
    flush();
    return out;
  }

  /** Resolves with the `count`-th event (1-based) of `type` once it has arrived. */
  waitFor<T extends ServerEventType>(type: T, count = 1, timeoutMs = 5_000): Promise<ElevenLabsServerEventOf<T>> {
    return this.waitUntil(() => this.ofType(type)[count - 1], `${count}× ${type}`, timeoutMs);
  }

  waitUntil<T>(probe: () => T | undefined, what: string, timeoutMs = 5_000): Promise<T> {
    return this.waiters.waitUntil(probe, what, () => this.timeline().join(', '), timeoutMs);
  }

  close(): void {
    this.socket.close();
  }
}

/** Polls `probe` (server-side state, which no client event signals) until it returns a value. */
export async function eventually<T>(probe: () => T | undefined, what: string, timeoutMs = 5_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** The audio bytes of every `audio` event (optionally only those with `eventId`), joined. */
export function audioOf(client: RawConvaiClient, eventId?: number): Uint8Array {
  return concatBytes(
    client
      .bodies('audio')
      .filter((body) => eventId === undefined || body.event_id === eventId)
      .map((body) => base64ToBytes(body.audio_base_64)),
  );
}

/** Agent audio in `format` → 8 kHz PCM16, as a phone would hear it (for `decodeToneTimeline`). */
export function toHeard8k(bytes: Uint8Array, format: ElevenLabsAudioFormat): Int16Array {
  const info = formatInfo(format);
  if (info.encoding === 'ulaw') return decodeMulaw(bytes);
  return resampleClip(bytesToPcm16(bytes.slice()), info.sampleRateHz, 8_000);
}

/** Caller "speech": a sine burst in the input format (energy the VAD hears). */
export function callerTone(durationMs: number, format: ElevenLabsAudioFormat, amplitude = 8_000, frequencyHz = 440): Uint8Array {
  const info = formatInfo(format);
  const samples = new Int16Array(Math.round((durationMs * info.sampleRateHz) / 1000));
  for (let n = 0; n < samples.length; n++) samples[n] = Math.round(amplitude * Math.sin((2 * Math.PI * frequencyHz * n) / info.sampleRateHz));
  return encodeIn(samples, info);
}

export function callerSilence(durationMs: number, format: ElevenLabsAudioFormat): Uint8Array {
  const info = formatInfo(format);
  return encodeIn(new Int16Array(Math.round((durationMs * info.sampleRateHz) / 1000)), info);
}

function encodeIn(samples: Int16Array, info: AudioFormatInfo): Uint8Array {
  return info.encoding === 'ulaw' ? encodeMulaw(samples) : new Uint8Array(pcm16ToBytes(samples));
}

/** Fetches a signed URL; resolves with the HTTP status and JSON body. */
export async function getSignedUrl(server: SimulatedElevenLabsServer, agentId: string | null, apiKey: string | null): Promise<{ status: number; body: unknown }> {
  const query = agentId === null ? '' : `?agent_id=${encodeURIComponent(agentId)}`;
  const response = await fetch(`${server.url}/v1/convai/conversation/get-signed-url${query}`, { headers: apiKey === null ? {} : { 'xi-api-key': apiKey } });
  return { status: response.status, body: await response.json() };
}

/** Attempts an upgrade that is expected to fail; resolves with the HTTP status and JSON body. */
export function expectUpgradeRefused(url: string): Promise<{ status: number; body: unknown }> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url, ['convai']);
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

/** One simulated ElevenLabs server per test, closed after it. */
export function useSimulatedElevenLabs() {
  let server: SimulatedElevenLabsServer | null = null;
  afterEach(async () => {
    await server?.close();
    server = null;
  });
  const fixture = {
    async start(options: Omit<SimulatedElevenLabsServerOptions, 'apiKey'> & { apiKey?: string }): Promise<SimulatedElevenLabsServer> {
      server = await startSimulatedElevenLabsServer({ apiKey: EL_API_KEY, ...options });
      return server;
    },
    /** Connects to a public agent (no signature) and, unless `initiation` is null, sends the initiation. */
    async connectPublic(agentId: string, initiation: Record<string, unknown> | null = {}): Promise<RawConvaiClient> {
      const client = await RawConvaiClient.connect(`${fixture.current.wsUrl}?agent_id=${agentId}`);
      if (initiation !== null) client.initiate(initiation);
      return client;
    },
    /** Fetches a signed URL with the right key and connects with it. */
    async connectSigned(agentId: string): Promise<RawConvaiClient> {
      const { status, body } = await getSignedUrl(fixture.current, agentId, EL_API_KEY);
      if (status !== 200) throw new Error(`signed URL: HTTP ${status}`);
      return RawConvaiClient.connect((body as { signed_url: string }).signed_url);
    },
    adopt(started: SimulatedElevenLabsServer): SimulatedElevenLabsServer {
      server = started;
      return started;
    },
    get current(): SimulatedElevenLabsServer {
      if (server === null) throw new Error('no simulated ElevenLabs server started in this test');
      return server;
    },
  };
  return fixture;
}
