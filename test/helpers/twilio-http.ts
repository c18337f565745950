/** A real express server on 127.0.0.1:0 for router tests. */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type express from 'express';

export interface TestServer {
  baseUrl: string;
  port: number;
  server: http.Server;
  close(): Promise<void>;
}

export async function listen(app: express.Express | http.RequestListener, server = http.createServer(app)): Promise<TestServer> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    port,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
