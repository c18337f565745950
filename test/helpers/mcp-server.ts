/**
 * A real MCP server for tests: the official SDK's `McpServer` behind its `StreamableHTTPServerTransport`, on a
 * node:http server at 127.0.0.1 (port 0), stateful (an `initialize` opens an MCP session with its own transport and
 * server). SSE answers by default, plain JSON with `jsonResponse`. It records every HTTP request as received (method,
 * JSON-RPC method, session id, headers) and every `tools/call` as sent (tool name, arguments, headers).
 *
 * Tools: `lookup_order` (read-only; answers `orderStatusText(order_id)`), `cancel_order` (destructive) and
 * `flaky_lookup` (always answers `isError: true` with `FLAKY_ERROR_TEXT`).
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';

export const orderStatusText = (orderId: string): string => `Order ${orderId} shipped on 3 May and arrives on Friday.`;
export const FLAKY_ERROR_TEXT = 'The order database is unavailable.';

export interface RecordedMcpRequest {
  httpMethod: string;
  /** The JSON-RPC method of a POSTed message (one entry per message of a batch); null for GET and DELETE. */
  rpcMethod: string | null;
  sessionId: string | null;
  headers: IncomingHttpHeaders;
}

export interface RecordedToolCall {
  name: unknown;
  arguments: unknown;
  headers: IncomingHttpHeaders;
}

export interface LocalMcpServer {
  /** `http://127.0.0.1:<port>/mcp` */
  readonly url: string;
  readonly requests: RecordedMcpRequest[];
  readonly toolCalls: RecordedToolCall[];
  close(): Promise<void>;
}

export interface LocalMcpServerOptions {
  /** Answer POSTs with `application/json` instead of an SSE stream. */
  jsonResponse?: boolean;
  /** Every tool takes this long to answer (default 0). */
  toolDelayMs?: number;
}

function ordersServer(toolDelayMs: number): McpServer {
  const server = new McpServer({ name: 'orders-test', version: '1.0.0' });
  const orderId = { order_id: z.string().describe('The order number, e.g. A-1042') };
  const answer = async (text: string, isError = false) => {
    if (toolDelayMs > 0) await delay(toolDelayMs);
    return { content: [{ type: 'text' as const, text }], ...(isError ? { isError } : {}) };
  };
  server.registerTool(
    'lookup_order',
    { description: 'Look up an order by its number.', inputSchema: orderId, annotations: { readOnlyHint: true } },
    ({ order_id }) => answer(orderStatusText(order_id)),
  );
  server.registerTool(
    'cancel_order',
    { description: 'Cancel an order.', inputSchema: orderId, annotations: { readOnlyHint: false, destructiveHint: true } },
    ({ order_id }) => answer(`Order ${order_id} is cancelled.`),
  );
  server.registerTool('flaky_lookup', { description: 'Look up an order (always fails).', inputSchema: orderId }, () => answer(FLAKY_ERROR_TEXT, true));
  return server;
}

async function readJson(request: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  return text === '' ? undefined : JSON.parse(text);
}

export async function startLocalMcpServer(options: LocalMcpServerOptions = {}): Promise<LocalMcpServer> {
  const transports = new Map<string, StreamableHTTPServerTransport>();
  const requests: RecordedMcpRequest[] = [];
  const toolCalls: RecordedToolCall[] = [];

  const http = createServer((request, response) => {
    void (async () => {
      const httpMethod = request.method ?? 'GET';
      const body = httpMethod === 'POST' ? await readJson(request) : undefined;
      const sessionHeader = request.headers['mcp-session-id'];
      const sessionId = typeof sessionHeader === 'string' ? sessionHeader : null;
      const messages = (Array.isArray(body) ? body : body === undefined ? [] : [body]) as Array<Record<string, unknown>>;
      if (messages.length === 0) requests.push({ httpMethod, rpcMethod: null, sessionId, headers: request.headers });
      for (const message of messages) {
        requests.push({ httpMethod, rpcMethod: typeof message['method'] === 'string' ? message['method'] : null, sessionId, headers: request.headers });
        if (message['method'] === 'tools/call') {
          const params = (message['params'] ?? {}) as Record<string, unknown>;
          toolCalls.push({ name: params['name'], arguments: params['arguments'], headers: request.headers });
        }
      }
      let transport = sessionId === null ? undefined : transports.get(sessionId);
      if (transport === undefined && sessionId === null && httpMethod === 'POST' && isInitializeRequest(body)) {
        const created: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
          sessionIdGenerator: () => randomUUID(),
          enableJsonResponse: options.jsonResponse ?? false,
          onsessioninitialized: (id) => void transports.set(id, created),
        });
        created.onclose = () => {
          if (created.sessionId !== undefined) transports.delete(created.sessionId);
        };
        await ordersServer(options.toolDelayMs ?? 0).connect(created);
        transport = created;
      }
      if (transport === undefined) {
        // As the transport specification says: an unknown session is 404, a request without one (not initialize) 400.
        response.writeHead(sessionId === null ? 400 : 404, { 'content-type': 'application/json' });
        response.end(JSON.stringify({ jsonrpc: '2.0', error: { code: -32000, message: sessionId === null ? 'Bad Request: no session' : 'Session not found' }, id: null }));
        return;
      }
      await transport.handleRequest(request, response, body);
    })().catch((error: unknown) => {
      if (!response.headersSent) response.writeHead(500, { 'content-type': 'text/plain' });
      response.end(String(error));
    });
  });

  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = http.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/mcp`,
    requests,
    toolCalls,
    async close() {
      await Promise.all([...transports.values()].map((transport) => transport.close().catch(() => undefined)));
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
}

/** A URL where nothing listens (a port that was free a moment ago). */
export async function unreachableMcpUrl(): Promise<string> {
  const http = createServer();
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', () => resolve()));
  const { port } = http.address() as AddressInfo;
  await new Promise<void>((resolve) => http.close(() => resolve()));
  return `http://127.0.0.1:${port}/mcp`;
}
