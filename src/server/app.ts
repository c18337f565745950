/**
 * Express app factory: builds the HTTP routes, never listens. The process entry (src/index.ts) and the tests
 * both start it through `startServer`.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import type { Config } from '../config.js';
import type { Logger } from '../logger.js';

export interface ServerDeps {
  config: Readonly<Config>;
  logger: Logger;
}

export interface RunningServer {
  readonly httpServer: http.Server;
  /** Port actually bound (differs from config when config.server.port is 0). */
  readonly port: number;
  /** Stops accepting, ends live calls, closes sockets. Resolves when everything is closed. */
  close(): Promise<void>;
}

export function createApp(deps: ServerDeps): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.get('/healthz', (_req, res) => {
    res.status(200).json({ status: 'ok' });
  });
  app.use((_req, res) => {
    res.status(404).type('text/plain').send('Not found');
  });
  void deps;
  return app;
}

export async function startServer(deps: ServerDeps): Promise<RunningServer> {
  const app = createApp(deps);
  const httpServer = http.createServer(app);
  await new Promise<void>((resolve, reject) => {
    httpServer.once('error', reject);
    httpServer.listen(deps.config.server.port, deps.config.server.host, () => {
      httpServer.off('error', reject);
      resolve();
    });
  });
  const { port } = httpServer.address() as AddressInfo;
  return {
    httpServer,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        httpServer.close(() => resolve());
        httpServer.closeAllConnections();
      }),
  };
}
