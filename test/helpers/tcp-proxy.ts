/**
 * A TCP proxy on 127.0.0.1:0 in front of a real server (PostgreSQL), to cut the network under a client for real:
 * `cut()` destroys every open connection and then refuses new ones (accept + immediate reset) or holds them (accepted,
 * nothing forwarded, like a partition); `restore()` forwards again — held connections are then connected through.
 */
import { createServer, connect, type Server, type Socket } from 'node:net';

export type CutMode = 'refuse' | 'hold';

export interface TcpProxy {
  readonly port: number;
  /** Connections accepted so far (refused and held ones included). */
  readonly accepted: number;
  cut(mode?: CutMode): void;
  restore(): void;
  close(): Promise<void>;
}

export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  const open = new Set<Socket>();
  let held: Socket[] = [];
  let mode: CutMode | null = null;
  let accepted = 0;

  const forward = (client: Socket): void => {
    const upstream = connect(target.port, target.host);
    open.add(upstream);
    upstream.on('close', () => open.delete(upstream));
    // Either side failing ends both: that is what the client would see from a real network.
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
    client.pipe(upstream);
    upstream.pipe(client);
  };

  const server: Server = createServer((client) => {
    accepted += 1;
    open.add(client);
    client.on('close', () => open.delete(client));
    client.on('error', () => undefined);
    if (mode === 'refuse') {
      client.resetAndDestroy();
      return;
    }
    if (mode === 'hold') {
      client.pause();
      held.push(client);
      return;
    }
    forward(client);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('proxy has no port');

  return {
    port: address.port,
    get accepted() {
      return accepted;
    },
    cut(cutMode: CutMode = 'refuse') {
      mode = cutMode;
      for (const socket of [...open]) socket.destroy();
      held = [];
    },
    restore() {
      mode = null;
      const waiting = held.filter((socket) => !socket.destroyed);
      held = [];
      for (const socket of waiting) {
        forward(socket);
        socket.resume();
      }
    },
    async close() {
      mode = 'refuse';
      for (const socket of [...open]) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
