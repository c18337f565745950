/**
 * A minimal scripted Realtime endpoint for the upstream-client tests: real sockets on 127.0.0.1, port 0.
 * Deliberately dumb (the full simulated Realtime server lives in src/simulator/): it records the upgrade request and
 * every client message, and the test decides what the server says and when.
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';

export type UpgradeBehaviour = { kind: 'accept' } | { kind: 'reject'; status: number } | { kind: 'hang' };

export interface RecordedUpgrade {
  /** Path and query exactly as requested. */
  url: string;
  headers: IncomingHttpHeaders;
}

/** Resolves when `predicate` holds, re-checked whenever `subscribe`'s callback fires. */
function waitUntil(subscribe: (wake: () => void) => () => void, predicate: () => boolean): Promise<void> {
  if (predicate()) return Promise.resolve();
  return new Promise((resolve) => {
    const unsubscribe = subscribe(() => {
      if (predicate()) {
        unsubscribe();
        resolve();
      }
    });
  });
}

export class FakeRealtimeServer {
  readonly upgrades: RecordedUpgrade[] = [];
  /** Client messages in arrival order, parsed. */
  readonly messages: Array<Record<string, unknown>> = [];
  behaviour: UpgradeBehaviour = { kind: 'accept' };
  /** Send `session.created` as soon as a client connects. */
  sendSessionCreated = true;

  private readonly http: Server;
  private readonly wss = new WebSocketServer({ noServer: true });
  private socket: WebSocket | null = null;
  private readonly heldUpgrades: Duplex[] = [];
  private heldUpgradesClosed = 0;
  private clientCloses: Array<{ code: number; reason: string }> = [];
  private readonly listeners = new Set<() => void>();

  private constructor() {
    this.http = createServer((_request, response) => response.writeHead(426).end());
    this.http.on('upgrade', (request, socket, head) => this.onUpgrade(request.url ?? '', request.headers, socket, head, request));
  }

  static async start(): Promise<FakeRealtimeServer> {
    const server = new FakeRealtimeServer();
    await new Promise<void>((resolve) => server.http.listen(0, '127.0.0.1', resolve));
    return server;
  }

  get port(): number {
    return (this.http.address() as AddressInfo).port;
  }

  get baseUrl(): string {
    return `ws://127.0.0.1:${this.port}`;
  }

  /** The close frames the server received from the client. */
  get closesFromClient(): ReadonlyArray<{ code: number; reason: string }> {
    return this.clientCloses;
  }

  private onUpgrade(url: string, headers: IncomingHttpHeaders, socket: Duplex, head: Buffer, request: Parameters<WebSocketServer['handleUpgrade']>[0]): void {
    this.upgrades.push({ url, headers });
    const behaviour = this.behaviour;
    if (behaviour.kind === 'hang') {
      this.heldUpgrades.push(socket);
      // Read (and discard) so the client's FIN is noticed, and finish our half on it: http.Server sockets are
      // half-open capable, so without this a client that gives up would never reach 'close'.
      socket.resume();
      socket.on('end', () => socket.end());
      socket.on('close', () => {
        this.heldUpgradesClosed++;
        this.wake();
      });
      this.wake();
      return;
    }
    if (behaviour.kind === 'reject') {
      socket.end(`HTTP/1.1 ${behaviour.status} Nope\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n{"error":"no"}`);
      this.wake();
      return;
    }
    this.wss.handleUpgrade(request, socket, head, (ws) => {
      this.socket = ws;
      ws.on('message', (data) => {
        this.messages.push(JSON.parse(data.toString()) as Record<string, unknown>);
        this.wake();
      });
      ws.on('close', (code, reason) => {
        this.clientCloses.push({ code, reason: reason.toString() });
        this.wake();
      });
      if (this.sendSessionCreated) this.send(sessionCreated());
      this.wake();
    });
  }

  private wake(): void {
    for (const listener of [...this.listeners]) listener();
  }

  private subscribe = (wake: () => void): (() => void) => {
    this.listeners.add(wake);
    return () => this.listeners.delete(wake);
  };

  waitForUpgrade(): Promise<void> {
    return waitUntil(this.subscribe, () => this.upgrades.length > 0);
  }

  waitForMessages(count: number): Promise<void> {
    return waitUntil(this.subscribe, () => this.messages.length >= count);
  }

  /** Resolves once `count` client connections have closed. */
  waitForClientClose(count = 1): Promise<void> {
    return waitUntil(this.subscribe, () => this.clientCloses.length >= count);
  }

  /** For `hang`: resolves when the client gave up the TCP connection it was upgrading. */
  waitForHeldUpgradeClosed(): Promise<void> {
    return waitUntil(this.subscribe, () => this.heldUpgrades.length > 0 && this.heldUpgradesClosed === this.heldUpgrades.length);
  }

  send(event: object): void {
    this.sendRaw(JSON.stringify(event));
  }

  sendRaw(text: string | Buffer, binary = false): void {
    this.requireSocket().send(text, { binary });
  }

  /**
   * Round trip: everything the client wrote before it answered this ping has arrived, and everything the server sent
   * before it has been processed by the client (ws handles frames in order).
   */
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

  async stop(): Promise<void> {
    for (const socket of this.heldUpgrades) socket.destroy();
    for (const client of this.wss.clients) client.terminate();
    this.wss.close();
    this.http.closeAllConnections();
    await new Promise<void>((resolve) => this.http.close(() => resolve()));
  }
}

export function sessionCreated(): Record<string, unknown> {
  return {
    type: 'session.created',
    event_id: 'event_created',
    session: {
      type: 'realtime',
      id: 'sess_fake',
      object: 'realtime.session',
      model: 'gpt-realtime',
      output_modalities: ['audio'],
      instructions: 'server default',
      audio: {
        input: { format: { type: 'audio/pcm', rate: 24000 }, transcription: null, noise_reduction: null, turn_detection: { type: 'server_vad' } },
        output: { format: { type: 'audio/pcm', rate: 24000 }, voice: 'alloy', speed: 1 },
      },
    },
  };
}

/** The `session.updated` a real server answers with: our session, plus the fields the server fills in. */
export function sessionUpdatedFor(session: object, eventId = 'event_updated'): Record<string, unknown> {
  return { type: 'session.updated', event_id: eventId, session: { ...session, id: 'sess_fake', object: 'realtime.session', model: 'gpt-realtime' } };
}
