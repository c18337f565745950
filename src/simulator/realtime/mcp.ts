/**
 * A minimal MCP client over the Streamable HTTP transport, as the Realtime API itself calls an `mcp` tool's server:
 * JSON-RPC 2.0 over HTTP POST (`initialize` → `notifications/initialized` → `tools/list` / `tools/call`), keeping the
 * `Mcp-Session-Id` the server assigns and the negotiated `MCP-Protocol-Version`, reading an `application/json` or a
 * `text/event-stream` answer, and sending the tool's declared headers on every request. Server-to-client requests and
 * notifications on a stream are ignored; there is no standalone GET stream and no resumption. Plain `fetch`: the
 * simulator must not depend on the MCP SDK.
 */

/** What we ask for; the server answers with the version it speaks, which we then send on every request. */
const PROTOCOL_VERSION = '2025-06-18';
const CLIENT_INFO = { name: 'callbridge-simulated-realtime', version: '0.1.0' };

export interface McpToolDescription {
  name: string;
  description?: string;
  inputSchema: unknown;
  annotations?: { readOnlyHint?: boolean; [key: string]: unknown };
}

export interface McpToolResult {
  content?: Array<{ type: string; text?: string; [key: string]: unknown }>;
  structuredContent?: unknown;
  isError?: boolean;
}

/** A non-2xx HTTP answer (the mcp_call item's `http_error`). */
export class McpHttpError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

/** A JSON-RPC error, or an answer we could not use (the mcp_call item's `protocol_error`). */
export class McpProtocolError extends Error {
  constructor(readonly code: number, message: string) {
    super(message);
  }
}

interface JsonRpcResponse {
  id?: unknown;
  result?: Record<string, unknown>;
  error?: { code?: unknown; message?: unknown };
}

export class McpStreamableHttpClient {
  private sessionId: string | null = null;
  private protocolVersion: string | null = null;
  private nextId = 0;
  private ready: Promise<void> | null = null;

  constructor(
    private readonly url: string,
    private readonly headers: Readonly<Record<string, string>>,
    private readonly timeoutMs = 10_000,
  ) {}

  /** Every tool the server lists, following `nextCursor` pages. */
  async listTools(): Promise<McpToolDescription[]> {
    await this.initialize();
    const tools: McpToolDescription[] = [];
    let cursor: string | undefined;
    do {
      const result = await this.request('tools/list', cursor === undefined ? {} : { cursor });
      if (!Array.isArray(result['tools'])) throw new McpProtocolError(-32603, 'tools/list answered without a tools array');
      tools.push(...(result['tools'] as McpToolDescription[]));
      cursor = typeof result['nextCursor'] === 'string' && result['nextCursor'] !== '' ? result['nextCursor'] : undefined;
    } while (cursor !== undefined);
    return tools;
  }

  async callTool(name: string, args: Record<string, unknown>): Promise<McpToolResult> {
    await this.initialize();
    return (await this.request('tools/call', { name, arguments: args })) as McpToolResult;
  }

  /** Ends the MCP session (HTTP DELETE, as the transport asks of a client that is done); failures are ignored. */
  async close(): Promise<void> {
    if (this.sessionId === null) return;
    try {
      const headers = this.requestHeaders();
      this.sessionId = null;
      const response = await fetch(this.url, { method: 'DELETE', headers, signal: AbortSignal.timeout(this.timeoutMs) });
      await response.body?.cancel();
    } catch {
      // Best effort: the server forgets idle sessions on its own.
    }
  }

  private initialize(): Promise<void> {
    this.ready ??= (async () => {
      const result = await this.request('initialize', { protocolVersion: PROTOCOL_VERSION, capabilities: {}, clientInfo: CLIENT_INFO });
      this.protocolVersion = typeof result['protocolVersion'] === 'string' ? result['protocolVersion'] : PROTOCOL_VERSION;
      await this.post({ jsonrpc: '2.0', method: 'notifications/initialized' }, null);
    })().catch((error: unknown) => {
      this.ready = null;
      throw error;
    });
    return this.ready;
  }

  private async request(method: string, params: Record<string, unknown>): Promise<Record<string, unknown>> {
    const id = ++this.nextId;
    const message = (await this.post({ jsonrpc: '2.0', id, method, params }, id))!;
    if (message.error !== undefined) {
      const code = typeof message.error.code === 'number' ? message.error.code : -32603;
      throw new McpProtocolError(code, typeof message.error.message === 'string' ? message.error.message : `${method} failed`);
    }
    if (message.result === null || typeof message.result !== 'object') throw new McpProtocolError(-32603, `${method} answered without a result`);
    return message.result;
  }

  /** POSTs one message; for a request (`id` set) resolves with its response, for a notification with null. */
  private async post(body: object, id: number | null): Promise<JsonRpcResponse | null> {
    const headers = this.requestHeaders();
    headers.set('content-type', 'application/json');
    headers.set('accept', 'application/json, text/event-stream');
    const response = await fetch(this.url, { method: 'POST', headers, body: JSON.stringify(body), signal: AbortSignal.timeout(this.timeoutMs) });
    const sessionId = response.headers.get('mcp-session-id');
    if (sessionId !== null && sessionId !== '') this.sessionId = sessionId;
    if (!response.ok) {
      const text = await response.text().catch(() => '');
      throw new McpHttpError(response.status, `HTTP ${response.status}${text === '' ? '' : `: ${text.slice(0, 300)}`}`);
    }
    if (id === null) {
      await response.body?.cancel();
      return null;
    }
    const type = response.headers.get('content-type') ?? '';
    if (type.includes('text/event-stream')) return readEventStream(response, id);
    if (type.includes('application/json')) {
      const parsed = (await response.json()) as JsonRpcResponse | JsonRpcResponse[];
      const match = (Array.isArray(parsed) ? parsed : [parsed]).find((message) => message.id === id);
      if (match !== undefined) return match;
      throw new McpProtocolError(-32603, `no response to request ${id} in the JSON answer`);
    }
    await response.body?.cancel();
    throw new McpProtocolError(-32603, `unexpected content type ${JSON.stringify(type)}`);
  }

  private requestHeaders(): Headers {
    const headers = new Headers(this.headers);
    if (this.sessionId !== null) headers.set('mcp-session-id', this.sessionId);
    if (this.protocolVersion !== null) headers.set('mcp-protocol-version', this.protocolVersion);
    return headers;
  }
}

/** Reads SSE events until the JSON-RPC response to `id` arrives, then drops the rest of the stream. */
async function readEventStream(response: Response, id: number): Promise<JsonRpcResponse> {
  if (response.body === null) throw new McpProtocolError(-32603, 'empty event stream');
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  try {
    for (;;) {
      const { value, done } = await reader.read();
      // The end of the stream ends its last event too.
      buffer = (buffer + (done ? `${decoder.decode()}\n\n` : decoder.decode(value, { stream: true }))).replace(/\r\n/g, '\n');
      let end: number;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const data = block
          .split('\n')
          .filter((line) => line.startsWith('data:'))
          .map((line) => line.slice(5).replace(/^ /, ''))
          .join('\n');
        if (data === '') continue;
        const message = JSON.parse(data) as JsonRpcResponse;
        if (message.id === id && (message.result !== undefined || message.error !== undefined)) return message;
      }
      if (done) break;
    }
  } finally {
    await reader.cancel().catch(() => undefined);
  }
  throw new McpProtocolError(-32603, `event stream ended without a response to request ${id}`);
}
