/**
 * The console's pages: one `index.html` with client-side routes (`/console`, `/console/history`, …) and its built
 * assets under `/console/assets/` (scripts/build-web.ts writes both to dist/web). Pages hold no data — everything
 * comes from the session-protected API — so they are served without a session; the sign-in page must be reachable.
 *
 * Every /console response carries the security headers: a strict Content-Security-Policy (only our own scripts,
 * styles, media and connections; no framing, no <base>, forms only to us), nosniff and no referrer (a console URL
 * names Call SIDs).
 */
import { join } from 'node:path';
import express from 'express';
import type { Logger } from '../logger.js';

export const CONTENT_SECURITY_POLICY =
  "default-src 'self'; connect-src 'self'; media-src 'self' blob:; img-src 'self' data:; style-src 'self' 'unsafe-inline'; " +
  "frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

export const NOT_BUILT_MESSAGE = 'The console is not built on this server: run `npm run build` (it writes the pages to dist/web).\n';

/** esbuild's `[name]-[hash]` names (8 characters of base32): such a file never changes, so caches may keep it. */
const HASHED_NAME = /-[A-Z0-9]{8}\.[a-z0-9]+$/;

export const securityHeaders: express.RequestHandler = (_req, res, next) => {
  res.set({
    'Content-Security-Policy': CONTENT_SECURITY_POLICY,
    'X-Content-Type-Options': 'nosniff',
    'Referrer-Policy': 'no-referrer',
  });
  next();
};

function plainNotFound(res: express.Response): void {
  res.status(404).type('text/plain').send('Not found\n');
}

/**
 * `/console/assets/*` from `<assetsDir>/assets`, and every other GET under /console (the API is routed before this)
 * → `<assetsDir>/index.html`, or 503 with a one-line hint when the console was never built.
 */
export function createPagesRouter(assetsDir: string, logger: Logger): express.Router {
  const router = express.Router();
  router.use(
    '/console/assets',
    express.static(join(assetsDir, 'assets'), {
      index: false,
      dotfiles: 'ignore',
      redirect: false,
      cacheControl: false,
      setHeaders: (res, path) => {
        res.setHeader('Cache-Control', HASHED_NAME.test(path) ? 'public, max-age=31536000, immutable' : 'no-cache');
      },
    }),
    (_req, res) => plainNotFound(res),
  );

  const page: express.RequestHandler = (_req, res) => {
    // no-cache: a rebuilt console (new asset hashes) is picked up on the next load.
    res.sendFile('index.html', { root: assetsDir, dotfiles: 'deny', cacheControl: false, headers: { 'Cache-Control': 'no-cache' } }, (error?: Error & { code?: string; status?: number }) => {
      if (error === undefined || error.code === 'ECONNABORTED') return;
      if (res.headersSent) {
        res.destroy();
        return;
      }
      res.removeHeader('Cache-Control');
      if (error.code === 'ENOENT' || error.code === 'ENOTDIR' || error.status === 404) {
        res.status(503).type('text/plain').send(NOT_BUILT_MESSAGE);
        return;
      }
      logger.error({ err: error }, 'console: index.html could not be served');
      res.status(500).type('text/plain').send('Internal error\n');
    });
  };
  router.get('/console', page);
  router.get('/console/{*page}', page);
  router.use('/console', (_req, res) => plainNotFound(res));
  return router;
}

/** Without an admin key there is no console: 404 everywhere under /console (JSON for the API, plain text for pages). */
export function createConsoleOffRouter(jsonNotFound: (res: express.Response) => void): express.Router {
  const router = express.Router();
  router.use('/console/api', (_req, res) => jsonNotFound(res));
  router.use('/console', (_req, res) => plainNotFound(res));
  return router;
}
