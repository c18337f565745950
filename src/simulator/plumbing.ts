/**
 * Pieces every simulated server here needs: arrivals that tests wait for by index, and refusing a WebSocket upgrade
 * with a plain HTTP answer (the handshake never happens), as the real services do.
 */
import { Buffer } from 'node:buffer';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import type { WebSocket, WebSocketServer } from 'ws';

/**
 * Things that arrive in order (sessions, conversations), each awaitable by its index before it exists. It keeps no
 * arrival itself (a long-running embedded backend forgets closed ones): `find` looks in the owner's list.
 */
export class IndexedArrivals<T> {
  private readonly waiters = new Map<number, Array<(value: T) => void>>();

  constructor(private readonly find: (index: number) => T | undefined) {}

  arrive(index: number, value: T): void {
    for (const resolve of this.waiters.get(index) ?? []) resolve(value);
    this.waiters.delete(index);
  }

  /** Resolves with the arrival at `index` (at once if it already came). */
  waitFor(index: number): Promise<T> {
    const existing = this.find(index);
    if (existing !== undefined) return Promise.resolve(existing);
    return new Promise((resolve) => {
      const list = this.waiters.get(index) ?? [];
      list.push(resolve);
      this.waiters.set(index, list);
    });
  }
}

const STATUS_TEXT: Record<number, string> = { 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 503: 'Service Unavailable' };

/** Answers an upgrade with a plain HTTP response: the WebSocket handshake never happens. */
export function rejectUpgrade(socket: Duplex, status: number, body: object): void {
  const text = JSON.stringify(body);
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? 'Error'}\r\n` +
      'Content-Type: application/json\r\n' +
      `Content-Length: ${Buffer.byteLength(text)}\r\n` +
      'Connection: close\r\n\r\n' +
      text,
  );
}

/** Ends every live socket at once (a simulated server has no goodbyes to wait for), then both servers. */
export async function closeSimulatedServer(sockets: Iterable<WebSocket>, wss: WebSocketServer, httpServer: Server): Promise<void> {
  for (const socket of sockets) socket.terminate();
  await new Promise<void>((resolve) => wss.close(() => resolve()));
  httpServer.closeAllConnections();
  await new Promise<void>((resolve) => httpServer.close(() => resolve()));
}

/** Listens on `host:port` (default 127.0.0.1, any free port) and returns `host:port` as a URL authority. */
export async function listenLocally(httpServer: Server, options: { host?: string; port?: number }): Promise<{ port: number; authority: string }> {
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    httpServer.once('error', reject);
    httpServer.listen(options.port ?? 0, host, () => {
      httpServer.off('error', reject);
      resolve();
    });
  });
  const port = (httpServer.address() as AddressInfo).port;
  return { port, authority: `${host.includes(':') ? `[${host}]` : host}:${port}` };
}
