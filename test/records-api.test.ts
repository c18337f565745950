/**
 * The records API over real HTTP (127.0.0.1:0, global fetch) against an in-memory store: auth, the exact CallQuery
 * each parameter becomes, pagination, every 400/404/503/500, recording download with Range, and the OpenAPI
 * document (routes listed, schemas matching the TypeScript types via Ajv).
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import express from 'express';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { writeWav } from '../src/audio/wav.js';
import { BadCursorError, decodeCursor, encodeCursor, isBadCursorError } from '../src/records/cursor.js';
import { openApiDocument } from '../src/records/openapi.js';
import type { CallRecord } from '../src/records/types.js';
import { requireApiKey } from '../src/server/api-auth.js';
import { createRecordsApiRouter, type RecordsApiOptions } from '../src/server/records-api.js';
import { callSid, FakeRecordStore, listItem, sampleRecord } from './helpers/fake-record-store.js';
import { captureLogs, type CapturedLogs } from './helpers/twilio-logs.js';

const KEY = 'cb_test_4f9a1c2e7d3b8a60';
const AUTH = { authorization: `Bearer ${KEY}` };

interface Api {
  base: string;
  logs: CapturedLogs;
  get(path: string, headers?: Record<string, string>): Promise<Response>;
  close(): Promise<void>;
}

const running: Api[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((api) => api.close()));
});

async function startApi(options: Partial<Omit<RecordsApiOptions, 'logger'>> = {}): Promise<Api> {
  const logs = captureLogs();
  const app = express();
  app.use(createRecordsApiRouter({ apiKey: KEY, store: () => null, recordingsDir: null, ...options, logger: logs.logger }));
  app.use((_req, res) => void res.status(404).type('text/plain').send('Not found'));
  const server = http.createServer(app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const api: Api = {
    base,
    logs,
    get: (path, headers = AUTH) => fetch(base + path, { headers }),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  running.push(api);
  return api;
}

async function expectError(response: Response, status: number, code: string): Promise<string> {
  const body = (await response.json()) as { error: { code: string; message: string } };
  expect({ status: response.status, code: body.error.code }).toEqual({ status, code });
  expect(Object.keys(body)).toEqual(['error']);
  expect(Object.keys(body.error).sort()).toEqual(['code', 'message']);
  return body.error.message;
}

/** Five calls over two days, two agents, both directions. */
function fiveCalls(): CallRecord[] {
  const day1 = Date.UTC(2025, 0, 30, 12, 0, 0);
  const day2 = Date.UTC(2025, 0, 31, 12, 0, 0);
  return [
    sampleRecord({ callSid: callSid(1), startedAtEpochMs: day1 }),
    sampleRecord({ callSid: callSid(2), startedAtEpochMs: day1 + 60_000, agent: 'sales', direction: 'outbound', from: '+15559870000', to: '+15551230002', finalStatus: 'completed', answeredBy: 'human' }),
    sampleRecord({ callSid: callSid(3), startedAtEpochMs: day2, endReason: 'agent_hung_up' }),
    sampleRecord({ callSid: callSid(4), startedAtEpochMs: day2, recording: null }),
    sampleRecord({ callSid: callSid(5), startedAtEpochMs: day2 + 1 }),
  ];
}

describe('auth', () => {
  it('refuses a request without Authorization with 401 and WWW-Authenticate, before the store is asked', async () => {
    const store = new FakeRecordStore(fiveCalls());
    const api = await startApi({ store: () => store });
    const response = await api.get('/api/calls', {});
    expect(response.headers.get('www-authenticate')).toBe('Bearer realm="callbridge"');
    expect(await expectError(response, 401, 'unauthorized')).toContain('Authorization: Bearer');
    expect(store.queries).toEqual([]);
  });

  it('refuses a wrong key (any length) and a non-Bearer scheme; the presented key is never logged', async () => {
    const store = new FakeRecordStore(fiveCalls());
    const api = await startApi({ store: () => store });
    const wrong = ['cb_test_4f9a1c2e7d3b8a61', 'short', `${KEY}x`];
    for (const key of wrong) {
      const response = await api.get(`/api/calls/${callSid(1)}`, { authorization: `Bearer ${key}` });
      expect(response.headers.get('www-authenticate')).toBe('Bearer realm="callbridge", error="invalid_token"');
      await expectError(response, 401, 'unauthorized');
    }
    await expectError(await api.get('/api/calls', { authorization: `Basic ${Buffer.from(`x:${KEY}`).toString('base64')}` }), 401, 'unauthorized');
    await expectError(await api.get('/api/calls', { authorization: KEY }), 401, 'unauthorized');
    expect(store.queries).toEqual([]);
    expect(store.gets).toEqual([]);
    const logged = JSON.stringify(api.logs.lines);
    for (const key of [...wrong, KEY]) expect(logged).not.toContain(key);
    expect(api.logs.matching('wrong key refused')).toHaveLength(3);
  });

  it('lets the right key through (scheme case-insensitive)', async () => {
    const store = new FakeRecordStore(fiveCalls());
    const api = await startApi({ store: () => store });
    expect((await api.get('/api/calls')).status).toBe(200);
    expect((await api.get(`/api/calls/${callSid(1)}`, { authorization: `bearer ${KEY}` })).status).toBe(200);
  });

  it('with no key configured the API is off: 404 api_disabled everywhere, even with a header; the document stays up', async () => {
    const store = new FakeRecordStore(fiveCalls());
    const api = await startApi({ apiKey: null, store: () => store });
    for (const path of ['/api/calls', `/api/calls/${callSid(1)}`, `/api/calls/${callSid(1)}/recording.wav`]) {
      expect(await expectError(await api.get(path), 404, 'api_disabled')).toContain('CALLBRIDGE_API_KEY');
    }
    expect(store.queries).toEqual([]);
    expect((await api.get('/api/openapi.json', {})).status).toBe(200);
  });

  it('an empty configured key is a programming error, not an open API', () => {
    expect(() => requireApiKey({ apiKey: '', logger: captureLogs().logger })).toThrow(/empty API key/);
  });
});

describe('GET /api/calls', () => {
  it('turns each parameter into the exact CallQuery', async () => {
    const store = new FakeRecordStore(fiveCalls());
    const api = await startApi({ store: () => store });
    const cursor = encodeCursor({ startedAtEpochMs: Date.UTC(2025, 0, 31, 12), callSid: callSid(4) });
    const cases: Array<[string, object]> = [
      ['', { limit: 50 }],
      ['?from=2025-01-30T00:00:00Z&to=2025-01-31', { fromEpochMs: Date.UTC(2025, 0, 30), toEpochMs: Date.UTC(2025, 0, 31), limit: 50 }],
      ['?from=2025-01-30T09:30:00%2B02:00', { fromEpochMs: Date.UTC(2025, 0, 30, 7, 30), limit: 50 }],
      ['?from=2025-01-30T09:30-0130', { fromEpochMs: Date.UTC(2025, 0, 30, 11, 0), limit: 50 }],
      ['?to=2025-01-30T09:30:00.250Z', { toEpochMs: Date.UTC(2025, 0, 30, 9, 30, 0, 250), limit: 50 }],
      ['?from=1738238400000&to=1738324800000', { fromEpochMs: 1738238400000, toEpochMs: 1738324800000, limit: 50 }],
      ['?agent=front-desk&direction=inbound&endReason=caller_hung_up&limit=7', { agent: 'front-desk', direction: 'inbound', endReason: 'caller_hung_up', limit: 7 }],
      ['?number=%2B15551230001', { number: '+15551230001', limit: 50 }],
      ['?number=+15551230001', { number: '+15551230001', limit: 50 }],
      ['?direction=outbound&limit=200', { direction: 'outbound', limit: 200 }],
      [`?cursor=${cursor}&limit=1`, { cursor, limit: 1 }],
    ];
    for (const [query, expected] of cases) {
      const response = await api.get(`/api/calls${query}`);
      expect(response.status, query).toBe(200);
      expect(store.queries.at(-1), query).toStrictEqual(expected);
    }
    expect(store.queries).toHaveLength(cases.length);
  });

  it('answers the store page as JSON, no-store', async () => {
    const records = fiveCalls();
    const store = new FakeRecordStore(records);
    const api = await startApi({ store: () => store });
    const response = await api.get('/api/calls?agent=sales');
    expect(response.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(response.headers.get('cache-control')).toBe('no-store');
    expect(await response.json()).toStrictEqual({ calls: [listItem(records[1]!)], nextCursor: null });
  });

  it('pages through every call newest first with the returned cursors', async () => {
    const store = new FakeRecordStore(fiveCalls());
    const api = await startApi({ store: () => store });
    const seen: string[] = [];
    let path = '/api/calls?limit=2';
    for (let page = 0; page < 10; page += 1) {
      const body = (await (await api.get(path)).json()) as { calls: Array<{ callSid: string; transcript?: unknown }>; nextCursor: string | null };
      expect(body.calls.every((call) => call.transcript === undefined)).toBe(true);
      seen.push(...body.calls.map((call) => call.callSid));
      if (body.nextCursor === null) break;
      path = `/api/calls?limit=2&cursor=${encodeURIComponent(body.nextCursor)}`;
    }
    expect(seen).toEqual([callSid(5), callSid(4), callSid(3), callSid(2), callSid(1)]);
    expect(store.queries.map((query) => query.cursor === undefined)).toEqual([true, false, false]);
  });

  it('answers 400 with a stable code and the parameter named for each bad parameter', async () => {
    const store = new FakeRecordStore(fiveCalls());
    const api = await startApi({ store: () => store });
    const cases: Array<[string, RegExp]> = [
      ['from=yesterday', /^from: not a time/],
      ['from=2025-02-30', /^from: not a valid date/],
      ['to=2025-01-31T25:00:00Z', /^to: not a valid date/],
      ['to=2025-01-31T09:00:00', /^to: a date-time needs a time zone/],
      ['from=2025-01-31&to=2025-01-30', /^from: after to/],
      ['from=-5', /^from: not a time/],
      ['limit=0', /^limit: must be an integer from 1 to 200/],
      ['limit=201', /^limit: /],
      ['limit=abc', /^limit: /],
      ['limit=1.5', /^limit: /],
      ['limit=', /^limit: /],
      ['direction=sideways', /^direction: must be inbound, outbound or browser/],
      ['direction=INBOUND', /^direction: /],
      ['agent=', /^agent: empty/],
      [`agent=${'a'.repeat(201)}`, /^agent: longer than 200/],
      [`number=${'1'.repeat(65)}`, /^number: longer than 64/],
      ['endReason=', /^endReason: empty/],
      ['cursor=', /^cursor: empty/],
      ['agent=a&agent=b', /^agent: given more than once/],
      ['agnet=front-desk', /^agnet: unknown parameter/],
      ['live=1', /^live: unknown parameter/],
    ];
    for (const [query, message] of cases) {
      expect(await expectError(await api.get(`/api/calls?${query}`), 400, 'bad_parameter'), query).toMatch(message);
    }
    expect(store.queries).toEqual([]);
  });

  it('answers 400 bad_cursor when the store refuses the cursor (our class or a same-named one)', async () => {
    const store = new FakeRecordStore(fiveCalls());
    const api = await startApi({ store: () => store });
    expect(await expectError(await api.get('/api/calls?cursor=bm90LWEtY3Vyc29y'), 400, 'bad_cursor')).toMatch(/^cursor: /);
    class OtherBadCursor extends Error {
      override name = 'BadCursorError';
    }
    store.failWith = new OtherBadCursor('cursor from another version');
    await expectError(await api.get(`/api/calls?cursor=${encodeCursor({ startedAtEpochMs: 1, callSid: callSid(1) })}`), 400, 'bad_cursor');
    expect(api.logs.lines.filter((line) => line['level'] === 50)).toEqual([]);
  });
});

describe('cursor', () => {
  it('round-trips a position and refuses anything it did not produce', () => {
    const position = { startedAtEpochMs: 1738324800000, callSid: callSid(42) };
    const cursor = encodeCursor(position);
    expect(decodeCursor(cursor)).toStrictEqual(position);
    const forged = [
      '',
      `${cursor}=`,
      Buffer.from(`v2:1:${callSid(1)}`).toString('base64url'),
      Buffer.from(`v1:01:${callSid(1)}`).toString('base64url'),
      Buffer.from(`v1:1:${callSid(1)}; drop table calls`).toString('base64url'),
      Buffer.from(`v1:99999999999999999:${callSid(1)}`).toString('base64url'),
    ];
    for (const bad of forged) expect(() => decodeCursor(bad), bad).toThrow(BadCursorError);
    expect([isBadCursorError(new BadCursorError()), isBadCursorError(new Error('x')), isBadCursorError('BadCursorError')]).toEqual([true, false, false]);
  });
});

describe('GET /api/calls/:callSid', () => {
  it('answers the full record', async () => {
    const records = fiveCalls();
    const store = new FakeRecordStore(records);
    const api = await startApi({ store: () => store });
    const response = await api.get(`/api/calls/${callSid(3)}`);
    expect(response.status).toBe(200);
    expect(await response.json()).toStrictEqual(JSON.parse(JSON.stringify(records[2])));
    expect(store.gets).toEqual([callSid(3)]);
  });

  it('answers 404 not_found for an unknown call and 400 for a malformed sid (the store is not asked)', async () => {
    const store = new FakeRecordStore(fiveCalls());
    const api = await startApi({ store: () => store });
    await expectError(await api.get(`/api/calls/${callSid(99)}`), 404, 'not_found');
    for (const bad of ['CA123', `CA${'A'.repeat(32)}`, `XX${'0'.repeat(32)}`, `${callSid(1)}0`, `..%2F..%2F${callSid(1)}`]) {
      expect(await expectError(await api.get(`/api/calls/${bad}`), 400, 'bad_parameter'), bad).toMatch(/^callSid: /);
      expect(await expectError(await api.get(`/api/calls/${bad}/recording.wav`), 400, 'bad_parameter'), bad).toMatch(/^callSid: /);
    }
    expect(store.gets).toEqual([callSid(99)]);
  });
});

describe('store unavailable or failing', () => {
  it('answers 503 records_unavailable with Retry-After while the store is null (after auth)', async () => {
    const api = await startApi({ store: () => null });
    for (const path of ['/api/calls', `/api/calls/${callSid(1)}`, `/api/calls/${callSid(1)}/recording.wav`]) {
      const response = await api.get(path);
      expect(response.headers.get('retry-after')).toBe('5');
      await expectError(response, 503, 'records_unavailable');
    }
    await expectError(await api.get('/api/calls', {}), 401, 'unauthorized');
  });

  it('answers 500 internal without details, logs the error once, and keeps serving', async () => {
    const store = new FakeRecordStore(fiveCalls());
    const api = await startApi({ store: () => store });
    store.failWith = new Error('connection terminated unexpectedly (db at 10.0.0.5)');
    const message = await expectError(await api.get('/api/calls'), 500, 'internal');
    expect(message).not.toContain('10.0.0.5');
    const errors = api.logs.lines.filter((line) => line['level'] === 50);
    expect(errors).toHaveLength(1);
    expect((errors[0]!['err'] as { message: string }).message).toBe('connection terminated unexpectedly (db at 10.0.0.5)');
    await expectError(await api.get(`/api/calls/${callSid(1)}`), 500, 'internal');
    store.failWith = null;
    expect((await api.get(`/api/calls/${callSid(1)}`)).status).toBe(200);
  });
});

describe('GET /api/calls/:callSid/recording.wav', () => {
  let root: string;
  let recordingsDir: string;
  let wav: Buffer;
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'records-api-'));
    recordingsDir = join(root, 'recordings');
    await mkdir(recordingsDir);
    wav = writeWav(Int16Array.from({ length: 8000 }, (_, i) => Math.round(8000 * Math.sin(i / 10))), 8000);
    await writeFile(join(recordingsDir, `${callSid(1)}.wav`), wav);
    await writeFile(join(recordingsDir, '.hidden.wav'), 'hidden');
    await writeFile(join(root, 'secret.wav'), 'SECRET');
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  const withFile = (n: number, file: string) =>
    sampleRecord({ callSid: callSid(n), recording: { file, durationMs: 1000, bytes: 16_044 } });

  it('streams the whole file as audio/wav', async () => {
    const api = await startApi({ store: () => new FakeRecordStore([withFile(1, `${callSid(1)}.wav`)]), recordingsDir });
    const response = await api.get(`/api/calls/${callSid(1)}/recording.wav`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('audio/wav');
    expect(response.headers.get('accept-ranges')).toBe('bytes');
    expect(response.headers.get('cache-control')).toBe('no-store');
    expect(response.headers.get('content-disposition')).toBe(`inline; filename="${callSid(1)}.wav"`);
    expect(Buffer.from(await response.arrayBuffer()).equals(wav)).toBe(true);
  });

  it('answers a Range request with 206 and the exact slice; an impossible range with 416', async () => {
    const api = await startApi({ store: () => new FakeRecordStore([withFile(1, `${callSid(1)}.wav`)]), recordingsDir });
    const path = `/api/calls/${callSid(1)}/recording.wav`;
    const partial = await api.get(path, { ...AUTH, range: 'bytes=44-1043' });
    expect(partial.status).toBe(206);
    expect(partial.headers.get('content-range')).toBe(`bytes 44-1043/${wav.length}`);
    expect(partial.headers.get('content-type')).toBe('audio/wav');
    expect(Buffer.from(await partial.arrayBuffer()).equals(wav.subarray(44, 1044))).toBe(true);
    const tail = await api.get(path, { ...AUTH, range: 'bytes=-100' });
    expect(Buffer.from(await tail.arrayBuffer()).equals(wav.subarray(wav.length - 100))).toBe(true);
    const outside = await api.get(path, { ...AUTH, range: `bytes=${wav.length + 10}-` });
    expect(outside.headers.get('content-range')).toBe(`bytes */${wav.length}`);
    expect(outside.headers.get('content-type')).toBe('application/json; charset=utf-8');
    await expectError(outside, 416, 'range_not_satisfiable');
  });

  it('answers 404 no_recording without a recording, with the file gone, or without a recordings directory', async () => {
    const store = new FakeRecordStore([sampleRecord({ callSid: callSid(1), recording: null }), withFile(2, `${callSid(2)}.wav`), withFile(3, `${callSid(1)}.wav`)]);
    const api = await startApi({ store: () => store, recordingsDir });
    await expectError(await api.get(`/api/calls/${callSid(1)}/recording.wav`), 404, 'no_recording');
    await expectError(await api.get(`/api/calls/${callSid(2)}/recording.wav`), 404, 'no_recording');
    await expectError(await api.get(`/api/calls/${callSid(9)}/recording.wav`), 404, 'not_found');
    expect(api.logs.matching('recording file is gone')).toHaveLength(1);
    const off = await startApi({ store: () => store, recordingsDir: null });
    await expectError(await off.get(`/api/calls/${callSid(3)}/recording.wav`), 404, 'no_recording');
  });

  it('refuses stored file names that are not plain file names (no traversal, no dot files)', async () => {
    const bad = ['../secret.wav', '..%2Fsecret.wav', '..\\secret.wav', `recordings/../secret.wav`, '.hidden.wav', '/etc/passwd', `${root}/secret.wav`, ''];
    const store = new FakeRecordStore(bad.map((file, i) => withFile(10 + i, file)));
    const api = await startApi({ store: () => store, recordingsDir });
    for (const [i, file] of bad.entries()) {
      const response = await api.get(`/api/calls/${callSid(10 + i)}/recording.wav`);
      const text = await response.text();
      expect({ file, status: response.status, secret: text.includes('SECRET') || text === 'hidden' }).toEqual({ file, status: 404, secret: false });
      expect(JSON.parse(text)).toMatchObject({ error: { code: 'no_recording' } });
    }
    expect(api.logs.matching('not a plain file name')).toHaveLength(bad.length);
  });
});

describe('OpenAPI document', () => {
  const toOpenApiPath = (path: string) => path.replace(/:(\w+)/g, '{$1}');

  it('is served without auth and lists every route the router serves, plus POST /api/calls', async () => {
    const api = await startApi();
    const response = await api.get('/api/openapi.json', {});
    expect(response.status).toBe(200);
    const served = (await response.json()) as typeof openApiDocument;
    expect(served).toStrictEqual(JSON.parse(JSON.stringify(openApiDocument)));
    expect(served.openapi).toBe('3.1.0');

    const router = createRecordsApiRouter({ apiKey: KEY, store: () => null, recordingsDir: null, logger: captureLogs().logger });
    const routes = (router.stack as Array<{ route?: { path: string; methods: Record<string, boolean> } }>).flatMap((layer) =>
      layer.route === undefined ? [] : Object.keys(layer.route.methods).map((method) => `${method.toUpperCase()} ${toOpenApiPath(layer.route!.path)}`),
    );
    expect(routes.sort()).toEqual(['GET /api/calls', 'GET /api/calls/{callSid}', 'GET /api/calls/{callSid}/recording.wav', 'GET /api/instances', 'GET /api/openapi.json']);
    const documented = Object.entries(served.paths).flatMap(([path, item]) => Object.keys(item).map((method) => `${method.toUpperCase()} ${path}`));
    // The outbound routes are served by the outbound router (src/outbound/routes.ts), documented here all the same.
    expect(documented.sort()).toEqual([...routes, 'POST /api/calls', 'GET /api/outbound/{id}'].sort());

    const post = served.paths['/api/calls']?.post;
    expect(Object.keys(post?.responses ?? {}).sort()).toEqual(['202', '400', '401', '403', '404', '429', '500', '503']);
    const codes = (status: string) => Object.keys(post?.responses[status]?.content?.['application/json']?.examples ?? {});
    expect([codes('400'), codes('403'), codes('404'), codes('429'), codes('503')]).toEqual([
      ['bad_request', 'invalid_number', 'twilio_rejected'],
      ['destination_not_allowed'],
      ['unknown_agent', 'api_disabled'],
      ['rate_limited', 'spend_cap'],
      ['outbound_unavailable', 'draining'],
    ]);
    expect(served.paths['/api/openapi.json']?.get?.security).toEqual([]);
    expect(served.components.securitySchemes['bearerAuth']).toMatchObject({ type: 'http', scheme: 'bearer' });
  });

  it('documents exactly the list parameters the API accepts', async () => {
    const store = new FakeRecordStore();
    const api = await startApi({ store: () => store });
    const names = (openApiDocument.paths['/api/calls']?.get?.parameters ?? []).map((parameter) => parameter.name);
    expect(names).toEqual(['from', 'to', 'agent', 'number', 'direction', 'endReason', 'cursor', 'limit']);
    const valid: Record<string, string> = { from: '2025-01-01', to: '2025-02-01', agent: 'a', number: '%2B1555', direction: 'inbound', endReason: 'x', cursor: encodeCursor({ startedAtEpochMs: 1, callSid: callSid(1) }), limit: '3' };
    expect((await api.get(`/api/calls?${names.map((name) => `${name}=${valid[name]}`).join('&')}`)).status).toBe(200);
  });

  it('has schemas that match the TypeScript types (Ajv 2020, closed objects)', async () => {
    const ajv = new Ajv2020({ strict: true, allowUnionTypes: true, allErrors: true });
    ajv.addVocabulary(['openapi', 'info', 'security', 'paths', 'components']);
    ajv.addSchema(openApiDocument, 'openapi');
    const schema = (name: string) => {
      const validate = ajv.getSchema(`openapi#/components/schemas/${name}`);
      if (validate === undefined) throw new Error(`no schema ${name}`);
      return (value: unknown) => (validate(value) ? [] : (validate.errors ?? []).map((error) => `${error.instancePath} ${error.message}`));
    };
    const record = sampleRecord();
    const outbound = sampleRecord({ callSid: callSid(2), direction: 'outbound', finalStatus: 'busy', answeredBy: 'machine_end_beep', answeredAtEpochMs: null, recording: null, model: null, streamSid: null });
    expect(schema('CallRecord')(record)).toEqual([]);
    expect(schema('CallRecord')(outbound)).toEqual([]);
    expect(schema('CallRecord')({ ...record, extra: 1 })).not.toEqual([]);
    const { cost: _cost, ...withoutCost } = record;
    expect(schema('CallRecord')(withoutCost)).not.toEqual([]);
    expect(schema('CallListItem')(listItem(record))).toEqual([]);
    expect(schema('CallListItem')(record)).not.toEqual([]);

    const store = new FakeRecordStore(fiveCalls());
    const api = await startApi({ store: () => store });
    expect(schema('CallPage')(await (await api.get('/api/calls?limit=2')).json())).toEqual([]);
    expect(schema('Error')(await (await api.get('/api/calls?limit=0')).json())).toEqual([]);
    expect(schema('OutboundCallRequest')({ to: '+15551230001', agent: 'sales', variables: { name: 'Ada' } })).toEqual([]);
    expect(schema('OutboundCallRequest')({ to: '555-1234', agent: 'sales' })).not.toEqual([]);
    expect(schema('OutboundCallAccepted')({ requestId: `OR${'a'.repeat(32)}`, callSid: callSid(7), status: 'queued' })).toEqual([]);
    expect(schema('OutboundCallAccepted')({ requestId: `OR${'a'.repeat(32)}`, callSid: null, status: 'waiting' })).toEqual([]);
  });
});
