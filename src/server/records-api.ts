/**
 * The call records API: `GET /api/calls` (filtered, keyset-paginated list), `GET /api/calls/:callSid` (one record),
 * `GET /api/calls/:callSid/recording.wav` (the recording, with Range support) and `GET /api/openapi.json`.
 *
 * Read-only and off the audio path: it only talks to the RecordStore, never to live calls. Mount at the root. Each
 * protected route carries the auth middleware itself (no `router.use('/api', …)`) so routes of other routers under
 * /api (the outbound-calls API) and unknown paths are not answered by this router.
 */
import { basename, resolve } from 'node:path';
import express from 'express';
import type { Logger } from '../logger.js';
import { isBadCursorError } from '../records/cursor.js';
import { openApiDocument } from '../records/openapi.js';
import type { CallQuery, RecordStore } from '../records/types.js';
import { jsonError, requireApiKey, type SessionAuth } from './api-auth.js';

export interface RecordsApiOptions {
  /** CALLBRIDGE_API_KEY; null = the API is off (404 `api_disabled`). */
  apiKey: string | null;
  /** The store; null while the database is opening or unavailable (503 `records_unavailable`). */
  store: () => RecordStore | null;
  /** RECORDINGS_DIR; null = recordings are not kept (404 `no_recording`). */
  recordingsDir: string | null;
  logger: Logger;
  /** The operator console's session check (console/csrf.ts `consoleSessionAuth`); absent = the bearer key only. */
  consoleSession?: SessionAuth;
  /** The calls in progress (every instance's, when clustered): `GET /api/calls?live=1`. */
  liveCalls?: () => readonly unknown[];
  /** Every instance with its figures: `GET /api/instances`. */
  instances?: () => Promise<readonly unknown[]>;
}

export const DEFAULT_PAGE_LIMIT = 50;
export const MAX_PAGE_LIMIT = 200;
/**
 * A Twilio Call SID (`CA` + 32 lowercase hex digits), or a browser-phone call's (`WB…`, minted by callbridge in the
 * same shape). Checked before the store so junk never reaches SQL.
 */
export const CALL_SID_PATTERN = /^(CA|WB)[0-9a-f]{32}$/;

/** A query parameter the API refuses; `code` is the stable error code, the message names the parameter. */
export class BadParameterError extends Error {
  override name = 'BadParameterError';
  readonly code = 'bad_parameter';
}

const LIST_PARAMETERS = new Set(['from', 'to', 'agent', 'number', 'direction', 'endReason', 'cursor', 'limit']);
const TEXT_LIMITS = { agent: 200, number: 64, endReason: 100, cursor: 1000 } as const;

const ISO_DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const ISO_DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})$/;
const EPOCH_MS = /^\d{1,15}$/;

/**
 * A time parameter as epoch ms: epoch ms, an ISO 8601 date (UTC midnight) or date-time WITH a zone. A date-time
 * without a zone is refused: it would be read in the server's local time zone, which the client does not know.
 */
export function parseTime(name: string, raw: string): number {
  if (EPOCH_MS.test(raw)) return Number(raw);
  const match = ISO_DATE.exec(raw) ?? ISO_DATE_TIME.exec(raw);
  if (match === null) {
    if (/^\d{4}-\d{2}-\d{2}T[^Z+-]*$/.test(raw)) throw new BadParameterError(`${name}: a date-time needs a time zone (Z or ±hh:mm), e.g. 2025-01-31T09:00:00Z`);
    throw new BadParameterError(`${name}: not a time; use ISO 8601 (2025-01-31T09:00:00Z, 2025-01-31) or epoch milliseconds`);
  }
  const [year, month, day, hour, minute, second] = [1, 2, 3, 4, 5, 6].map((group) => Number(match[group] ?? 0)) as [number, number, number, number, number, number];
  // Date.parse rolls 2025-02-30 over to March 2; refuse impossible calendar values instead.
  const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate();
  const calendar = month >= 1 && month <= 12 && day >= 1 && day <= daysInMonth && hour <= 23 && minute <= 59 && second <= 59;
  const zone = match[7];
  // A date alone is UTC midnight (Date.parse agrees); `+0200` is normalised to `+02:00` for Date.parse.
  const ms = zone === undefined ? Date.parse(`${raw}T00:00:00Z`) : Date.parse(raw.slice(0, raw.length - zone.length) + zone.replace(/^([+-]\d{2})(\d{2})$/, '$1:$2'));
  if (!calendar || !Number.isFinite(ms) || ms < 0) throw new BadParameterError(`${name}: not a valid date or time`);
  return ms;
}

function text(name: keyof typeof TEXT_LIMITS, raw: string): string {
  if (raw.length === 0) throw new BadParameterError(`${name}: empty; leave it out to not filter`);
  if (raw.length > TEXT_LIMITS[name]) throw new BadParameterError(`${name}: longer than ${TEXT_LIMITS[name]} characters`);
  return raw;
}

/**
 * `req.query` → CallQuery. Strict: an unknown or repeated parameter is a 400, so a typo (`agnet=…`) fails loudly
 * instead of silently listing every call. The limit is always set (default 50), so the page size does not depend
 * on the store's own default.
 */
export function parseCallQuery(query: Readonly<Record<string, unknown>>): CallQuery {
  const values = new Map<string, string>();
  for (const [name, value] of Object.entries(query)) {
    if (!LIST_PARAMETERS.has(name)) throw new BadParameterError(`${name}: unknown parameter (known: ${[...LIST_PARAMETERS].join(', ')})`);
    if (typeof value !== 'string') throw new BadParameterError(`${name}: given more than once`);
    values.set(name, value);
  }
  const get = (name: string): string | undefined => values.get(name);
  const result: { -readonly [K in keyof CallQuery]: CallQuery[K] } = {};

  const from = get('from');
  const to = get('to');
  if (from !== undefined) result.fromEpochMs = parseTime('from', from);
  if (to !== undefined) result.toEpochMs = parseTime('to', to);
  if (result.fromEpochMs !== undefined && result.toEpochMs !== undefined && result.fromEpochMs > result.toEpochMs) {
    throw new BadParameterError('from: after to');
  }
  const agent = get('agent');
  if (agent !== undefined) result.agent = text('agent', agent);
  const number = get('number');
  // An unencoded `+15551234567` arrives as ` 15551234567` (form decoding); no number starts with a space, so restore it.
  if (number !== undefined) result.number = text('number', /^ \d+$/.test(number) ? `+${number.slice(1)}` : number);
  const direction = get('direction');
  if (direction !== undefined) {
    if (direction !== 'inbound' && direction !== 'outbound' && direction !== 'browser') throw new BadParameterError('direction: must be inbound, outbound or browser');
    result.direction = direction;
  }
  const endReason = get('endReason');
  if (endReason !== undefined) result.endReason = text('endReason', endReason);
  const cursor = get('cursor');
  if (cursor !== undefined) result.cursor = text('cursor', cursor);
  const limit = get('limit');
  if (limit === undefined) result.limit = DEFAULT_PAGE_LIMIT;
  else {
    const n = /^\d{1,4}$/.test(limit) ? Number(limit) : NaN;
    if (!(n >= 1 && n <= MAX_PAGE_LIMIT)) throw new BadParameterError(`limit: must be an integer from 1 to ${MAX_PAGE_LIMIT}`);
    result.limit = n;
  }
  return result;
}

/** A stored recording file name we are willing to serve: one plain file name, no directory part, no dot file. */
function isPlainFileName(file: string): boolean {
  return /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,254}$/.test(file) && basename(file) === file && !file.includes('..');
}

/** Headers send sets before it decides on a 412/416; removed so the JSON error does not claim to be audio. */
const FILE_HEADERS = ['Content-Type', 'Content-Disposition', 'Content-Range', 'Content-Length', 'Accept-Ranges', 'ETag', 'Last-Modified'];

type Handler = (req: express.Request, res: express.Response) => Promise<void>;

export function createRecordsApiRouter(options: RecordsApiOptions): express.Router {
  const { logger } = options;
  const router = express.Router();
  const auth = requireApiKey({
    apiKey: options.apiKey,
    logger,
    realm: 'callbridge',
    ...(options.consoleSession === undefined ? {} : { session: options.consoleSession }),
  });
  const recordingsRoot = options.recordingsDir === null ? null : resolve(options.recordingsDir);

  /** Runs a handler; anything it throws is logged once and answered 500 without details (never a crash). */
  const guarded =
    (route: string, handler: Handler): express.RequestHandler =>
    (req, res) => {
      handler(req, res).catch((error: unknown) => {
        logger.error({ err: error, route }, 'records API request failed');
        if (res.headersSent) res.destroy();
        else jsonError(res, 500, 'internal', 'Internal error; the details are in the server log.');
      });
    };

  /** The store, or null after answering 503. */
  const storeOr503 = (res: express.Response): RecordStore | null => {
    const store = options.store();
    if (store === null) {
      res.set('Retry-After', '5');
      jsonError(res, 503, 'records_unavailable', 'The call records database is not available (starting or unreachable); retry later.');
    }
    return store;
  };

  /** The path's call sid, or null after answering 400. */
  const callSidOr400 = (req: express.Request, res: express.Response): string | null => {
    const callSid: unknown = req.params['callSid'];
    if (typeof callSid === 'string' && CALL_SID_PATTERN.test(callSid)) return callSid;
    jsonError(res, 400, 'bad_parameter', 'callSid: not a call SID (CA or WB followed by 32 lowercase hex digits)');
    return null;
  };

  // Call data is personal data: no shared cache may keep it.
  const noStore: express.RequestHandler = (_req, res, next) => {
    res.set('Cache-Control', 'no-store');
    next();
  };

  router.get('/api/openapi.json', (_req, res) => {
    res.json(openApiDocument);
  });

  router.get(
    '/api/instances',
    auth,
    noStore,
    guarded('GET /api/instances', async (_req, res) => {
      res.json({ instances: (await options.instances?.()) ?? [] });
    }),
  );

  router.get(
    '/api/calls',
    auth,
    noStore,
    guarded('GET /api/calls', async (req, res) => {
      // The calls in progress, not records: on any instance, every instance's when clustered.
      if (req.query['live'] === '1' && options.liveCalls !== undefined) {
        res.json({ calls: options.liveCalls() });
        return;
      }
      let query: CallQuery;
      try {
        query = parseCallQuery(req.query as Record<string, unknown>);
      } catch (error) {
        if (!(error instanceof BadParameterError)) throw error;
        jsonError(res, 400, error.code, error.message);
        return;
      }
      const store = storeOr503(res);
      if (store === null) return;
      try {
        res.json(await store.listCalls(query));
      } catch (error) {
        if (!isBadCursorError(error)) throw error;
        jsonError(res, 400, 'bad_cursor', 'cursor: not a cursor this server issued; start again without it');
      }
    }),
  );

  router.get(
    '/api/calls/:callSid',
    auth,
    noStore,
    guarded('GET /api/calls/:callSid', async (req, res) => {
      const callSid = callSidOr400(req, res);
      if (callSid === null) return;
      const store = storeOr503(res);
      if (store === null) return;
      const record = await store.getCall(callSid);
      if (record === null) jsonError(res, 404, 'not_found', `No record of call ${callSid}.`);
      else res.json(record);
    }),
  );

  router.get(
    '/api/calls/:callSid/recording.wav',
    auth,
    noStore,
    guarded('GET /api/calls/:callSid/recording.wav', async (req, res) => {
      const callSid = callSidOr400(req, res);
      if (callSid === null) return;
      const store = storeOr503(res);
      if (store === null) return;
      const record = await store.getCall(callSid);
      if (record === null) {
        jsonError(res, 404, 'not_found', `No record of call ${callSid}.`);
        return;
      }
      const file = record.recording?.file;
      if (file === undefined || recordingsRoot === null) {
        jsonError(res, 404, 'no_recording', `Call ${callSid} has no recording.`);
        return;
      }
      if (!isPlainFileName(file)) {
        // Records are written by us: a path here means a bug or a tampered database. Never follow it.
        logger.warn({ callSid, file }, 'refused to serve a recording whose stored file name is not a plain file name');
        jsonError(res, 404, 'no_recording', `Call ${callSid} has no recording.`);
        return;
      }
      await sendRecording(req, res, recordingsRoot, file, callSid);
    }),
  );

  /**
   * Streams the file with send (via res.sendFile): Range/206, If-Range, conditional GET. `root` keeps it inside the
   * recordings directory even if the name check above were wrong. Resolves when done; rejects (→ 500) on errors
   * that are not the file being gone or a bad range.
   */
  function sendRecording(_req: express.Request, res: express.Response, root: string, file: string, callSid: string): Promise<void> {
    return new Promise<void>((resolveSent, rejectSent) => {
      const headers = { 'Content-Type': 'audio/wav', 'Content-Disposition': `inline; filename="${callSid}.wav"` };
      res.sendFile(file, { root, dotfiles: 'deny', cacheControl: false, headers }, (error?: Error & { code?: string; status?: number; headers?: Record<string, string> }) => {
        if (error === undefined) return resolveSent();
        // The player went away (seeking does this all the time): nothing to answer.
        if (error.code === 'ECONNABORTED') return resolveSent();
        if (res.headersSent) {
          logger.warn({ err: error, callSid }, 'recording download failed mid-stream');
          res.destroy();
          return resolveSent();
        }
        for (const name of FILE_HEADERS) res.removeHeader(name);
        if (error.status === 404 || error.code === 'ENOENT' || error.code === 'ENOTDIR' || error.code === 'EISDIR') {
          // Deleted by retention (or never written): the record outlives its audio.
          logger.info({ callSid, file }, 'recording file is gone');
          jsonError(res, 404, 'no_recording', `The recording of call ${callSid} is no longer available.`);
          return resolveSent();
        }
        if (error.status === 416) {
          const range = error.headers?.['Content-Range'];
          if (range !== undefined) res.set('Content-Range', range);
          jsonError(res, 416, 'range_not_satisfiable', 'The requested range is outside the recording.');
          return resolveSent();
        }
        if (error.status === 412) {
          jsonError(res, 412, 'precondition_failed', 'The recording changed (If-Match / If-Unmodified-Since).');
          return resolveSent();
        }
        if (error.status !== undefined && error.status >= 400 && error.status < 500) {
          // send refusing the path itself (403 malicious path, 400 bad encoding): the name check above should have
          // caught it; whatever it is, there is no recording to give.
          logger.warn({ callSid, file, status: error.status }, 'recording file refused by send');
          jsonError(res, 404, 'no_recording', `Call ${callSid} has no recording.`);
          return resolveSent();
        }
        rejectSent(error);
      });
    });
  }

  return router;
}
