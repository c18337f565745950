/**
 * A minimal scripted ElevenLabs Agents endpoint for the provider tests: real sockets on 127.0.0.1, port 0. It serves
 * the signed-URL endpoint and the conversation socket (subprotocol `convai`), records every request and client
 * message, and the test decides what the server says and when. Deliberately dumb: no conversation logic.
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';

export type SignedUrlBehaviour = { kind: 'ok' } | { kind: 'status'; status: number } | { kind: 'hang' } | { kind: 'body'; body: unknown };

export interface RecordedRequest {
  /** Path and query exactly as requested. */
  url: string;
  headers: IncomingHttpHeaders;
}

/** The signature the fake's signed URLs carry (a test checks it is used as is and never logged). */
export const SIGNED_URL_SIGNATURE = 'sig-opaque-7c1e';

export class FakeElevenLabsServer {
  readonly signedUrlRequests: RecordedRequest[] = [];
  readonly upgrades: RecordedRequest[] = [];
  /** Client messages in arrival order, parsed. */
  readonly messages: Array<Record<string, unknown>> = [];
  readonly closesFromClient: Array<{ code: number; reason: string }> = [];
  signedUrl: SignedUrlBehaviour = { kind: 'ok' };
  /** Answer the upgrade with this HTTP status instead of accepting it. */
  rejectUpgradeWith: number | null = null;

  private readonly http: Server;
  private readonly wss = new WebSocketServer({ noServer: true, handleProtocols: (protocols) => (protocols.has('convai') ? 'convai' : false) });
  private socket: WebSocket | null = null;
  private readonly hanging: Array<{ end: () => void }> = [];
  private readonly listeners = new Set<() => void>();

  private constructor() {
    this.http = createServer((request, response) => {
      const url = request.url ?? '';
      if (!url.startsWith('/v1/convai/conversation/get-signed-url')) return void response.writeHead(404).end();
      this.signedUrlRequests.push({ url, headers: request.headers });
      this.wake();
      const behaviour = this.signedUrl;
      if (behaviour.kind === 'hang') return void this.hanging.push({ end: () => response.destroy() });
      if (behaviour.kind === 'status') return void response.writeHead(behaviour.status, { 'content-type': 'application/json' }).end('{"detail":{"status":"invalid_api_key"}}');
      const body = behaviour.kind === 'body' ? behaviour.body : { signed_url: `${this.wsBaseUrl}/v1/convai/conversation?agent_id=agent_1&conversation_signature=${SIGNED_URL_SIGNATURE}` };
      response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    });
    this.http.on('upgrade', (request, socket: Duplex, head: Buffer) => {
      this.upgrades.push({ url: request.url ?? '', headers: request.headers });
      this.wake();
      if (this.rejectUpgradeWith !== null) return void socket.end(`HTTP/1.1 ${this.rejectUpgradeWith} Nope\r\nConnection: close\r\n\r\n`);
      this.wss.handleUpgrade(request, socket, head, (ws) => {
        this.socket = ws;
        ws.on('message', (data) => {
          this.messages.push(JSON.parse(data.toString()) as Record<string, unknown>);
          this.wake();
        });
        ws.on('close', (code, reason) => {
          this.closesFromClient.push({ code, reason: reason.toString() });
          this.wake();
        });
        this.wake();
      });
    });
  }

  static async start(): Promise<FakeElevenLabsServer> {
    const server = new FakeElevenLabsServer();
    await new Promise<void>((resolve) => server.http.listen(0, '127.0.0.1', resolve));
    return server;
  }

  get port(): number {
    return (this.http.address() as AddressInfo).port;
  }

  get apiBaseUrl(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get wsBaseUrl(): string {
    return `ws://127.0.0.1:${this.port}`;
  }

  /** The client messages of one type (`user_audio_chunk` for audio, which has none). */
  messagesOfType(type: string): Array<Record<string, unknown>> {
    return this.messages.filter((message) => (message['type'] ?? ('user_audio_chunk' in message ? 'user_audio_chunk' : undefined)) === type);
  }

  waitForMessages(count: number): Promise<void> {
    return this.waitUntil(() => this.messages.length >= count);
  }

  waitForUpgrade(): Promise<void> {
    return this.waitUntil(() => this.upgrades.length > 0);
  }

  waitForSignedUrlRequest(): Promise<void> {
    return this.waitUntil(() => this.signedUrlRequests.length > 0);
  }

  waitForClientClose(): Promise<void> {
    return this.waitUntil(() => this.closesFromClient.length > 0);
  }

  send(message: object): void {
    this.requireSocket().send(JSON.stringify(message));
  }

  sendRaw(text: string): void {
    this.requireSocket().send(text);
  }

  sendMetadata(input = 'ulaw_8000', output = 'ulaw_8000'): void {
    this.send(metadata(input, output));
  }

  /** Everything sent before has been processed by the client, and everything it wrote before has arrived. */
  async roundTrip(): Promise<void> {
    const socket = this.requireSocket();
    await new Promise<void>((resolve) => {
      socket.once('pong', () => resolve());
      socket.ping();
    });
  }

  closeClient(code: number, reason: string): void {
    this.requireSocket().close(code, reason);
  }

  private requireSocket(): WebSocket {
    if (this.socket === null) throw new Error('no client connected');
    return this.socket;
  }

  private wake(): void {
    for (const listener of [...this.listeners]) listener();
  }

  private waitUntil(predicate: () => boolean): Promise<void> {
    if (predicate()) return Promise.resolve();
    return new Promise((resolve) => {
      const check = (): void => {
        if (!predicate()) return;
        this.listeners.delete(check);
        resolve();
      };
      this.listeners.add(check);
    });
  }

  async stop(): Promise<void> {
    for (const hanging of this.hanging) hanging.end();
    for (const client of this.wss.clients) client.terminate();
    this.wss.close();
    this.http.closeAllConnections();
    await new Promise<void>((resolve) => this.http.close(() => resolve()));
  }
}

// ---- server messages as the wire has them ------------------------------------------------------------------------

export function metadata(input: string, output: string): object {
  return {
    type: 'conversation_initiation_metadata',
    conversation_initiation_metadata_event: { conversation_id: 'conv_fake', agent_output_audio_format: output, user_input_audio_format: input },
  };
}

export const ping = (eventId: number, pingMs = 40): object => ({ type: 'ping', ping_event: { event_id: eventId, ping_ms: pingMs } });

export const audio = (eventId: number, bytes: Uint8Array): object => ({ type: 'audio', audio_event: { audio_base_64: Buffer.from(bytes).toString('base64'), event_id: eventId } });

export const interruption = (eventId: number): object => ({ type: 'interruption', interruption_event: { event_id: eventId } });

export const agentResponse = (eventId: number, text: string): object => ({ type: 'agent_response', agent_response_event: { agent_response: text, event_id: eventId } });

export const agentCorrection = (eventId: number, original: string, corrected: string): object => ({
  type: 'agent_response_correction',
  agent_response_correction_event: { original_agent_response: original, corrected_agent_response: corrected, event_id: eventId },
});

export const userTranscript = (eventId: number, text: string): object => ({ type: 'user_transcript', user_transcription_event: { user_transcript: text, event_id: eventId } });

export const clientToolCall = (toolCallId: string, toolName: string, parameters: object, eventId = 9): object => ({
  type: 'client_tool_call',
  client_tool_call: { tool_name: toolName, tool_call_id: toolCallId, parameters, event_id: eventId },
});

/** `count` bytes of `fill`: audio whose origin a test can tell apart. */
export function bytes(fill: number, count = 160): Uint8Array {
  return new Uint8Array(count).fill(fill);
}
