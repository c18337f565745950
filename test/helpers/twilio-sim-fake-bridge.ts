/**
 * A stand-in for the bridge, just enough to test the simulated Twilio caller against real sockets on 127.0.0.1:
 * records the webhook POST and the upgrade, answers with the TwiML it is given, and hands each accepted media stream
 * to the test to drive.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { WebSocketServer, type WebSocket } from 'ws';

export interface RecordedWebhook {
  path: string;
  headers: http.IncomingHttpHeaders;
  body: Record<string, string>;
}

export interface RecordedUpgrade {
  path: string;
  headers: http.IncomingHttpHeaders;
}

export interface FakeStream {
  socket: WebSocket;
  /** Parsed messages from the caller, in arrival order. */
  messages: Array<Record<string, unknown>>;
  /** Resolves when at least `count` messages have arrived. */
  waitForCount(count: number, timeoutMs?: number): Promise<void>;
  send(message: object): void;
  closed: Promise<{ code: number; reason: string }>;
}

export interface FakeBridgeOptions {
  /** TwiML for a webhook, given the request's origin as the server sees it. */
  twiml: (request: { body: Record<string, string>; wsOrigin: string }) => string;
  /** Return an HTTP status to refuse the upgrade, or null to accept. */
  refuseUpgrade?: (upgrade: RecordedUpgrade) => number | null;
}

export interface FakeBridge {
  baseUrl: string;
  port: number;
  webhooks: RecordedWebhook[];
  upgrades: RecordedUpgrade[];
  nextStream(timeoutMs?: number): Promise<FakeStream>;
  close(): Promise<void>;
}

export async function startFakeBridge(options: FakeBridgeOptions): Promise<FakeBridge> {
  const webhooks: RecordedWebhook[] = [];
  const upgrades: RecordedUpgrade[] = [];
  const streams: FakeStream[] = [];
  const streamWaiters: Array<(stream: FakeStream) => void> = [];
  let port = 0;

  const app = express();
  app.use(express.urlencoded({ extended: false }));
  app.post('/incoming-call', (request, response) => {
    const body = { ...(request.body as Record<string, string>) };
    webhooks.push({ path: request.path, headers: request.headers, body });
    response.type('text/xml').send(options.twiml({ body, wsOrigin: `ws://127.0.0.1:${port}` }));
  });

  const httpServer = http.createServer(app);
  const wss = new WebSocketServer({ noServer: true });
  httpServer.on('upgrade', (request, socket, head) => {
    const upgrade = { path: request.url ?? '', headers: request.headers };
    upgrades.push(upgrade);
    const status = options.refuseUpgrade?.(upgrade) ?? null;
    if (status !== null) {
      socket.end(`HTTP/1.1 ${status} ${http.STATUS_CODES[status] ?? ''}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
      return;
    }
    wss.handleUpgrade(request, socket, head, (ws) => {
      const stream = wrap(ws);
      const waiter = streamWaiters.shift();
      if (waiter !== undefined) waiter(stream);
      else streams.push(stream);
    });
  });
  await new Promise<void>((resolve) => httpServer.listen(0, '127.0.0.1', resolve));
  port = (httpServer.address() as AddressInfo).port;

  return {
    baseUrl: `http://127.0.0.1:${port}`,
    port,
    webhooks,
    upgrades,
    nextStream: (timeoutMs = 5_000) => {
      const ready = streams.shift();
      if (ready !== undefined) return Promise.resolve(ready);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('no media stream connected')), timeoutMs);
        streamWaiters.push((stream) => {
          clearTimeout(timer);
          resolve(stream);
        });
      });
    },
    close: async () => {
      for (const client of wss.clients) client.terminate();
      await new Promise<void>((resolve) => {
        httpServer.close(() => resolve());
        httpServer.closeAllConnections();
      });
    },
  };
}

function wrap(socket: WebSocket): FakeStream {
  const messages: Array<Record<string, unknown>> = [];
  const countWaiters: Array<{ count: number; resolve: () => void }> = [];
  socket.on('message', (data) => {
    messages.push(JSON.parse(data.toString()) as Record<string, unknown>);
    for (const waiter of [...countWaiters]) {
      if (messages.length >= waiter.count) {
        countWaiters.splice(countWaiters.indexOf(waiter), 1);
        waiter.resolve();
      }
    }
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) => {
    socket.on('close', (code, reason) => resolve({ code, reason: reason.toString() }));
  });
  return {
    socket,
    messages,
    closed,
    send: (message) => socket.send(JSON.stringify(message)),
    waitForCount: (count, timeoutMs = 5_000) => {
      if (messages.length >= count) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`only ${messages.length} of ${count} messages arrived`)), timeoutMs);
        countWaiters.push({
          count,
          resolve: () => {
            clearTimeout(timer);
            resolve();
          },
        });
      });
    },
  };
}

/** The TwiML the real bridge answers with. */
export function streamTwiml(streamUrl: string, parameters: Record<string, string>): string {
  const params = Object.entries(parameters)
    .map(([name, value]) => `<Parameter name="${name}" value="${value}"/>`)
    .join('');
  return `<?xml version="1.0" encoding="UTF-8"?><Response><Connect><Stream url="${streamUrl}">${params}</Stream></Connect></Response>`;
}
