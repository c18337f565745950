/**
 * MCP tools on the simulated Realtime server, over real sockets, against a real MCP server (the official SDK, see
 * helpers/mcp-server.ts): listing, scripted calls whose result reaches the model's next answer, failures, approvals
 * and `allowed_tools`. Also the production mapping from an agent's MCP servers to `session.tools` entries.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { mcpToolsFor } from '../src/providers/openai/mcp-tools.js';
import type { ScriptedResponse, SimulatedRealtimeServerOptions } from '../src/simulator/realtime/server.js';
import { FLAKY_ERROR_TEXT, orderStatusText, startLocalMcpServer, unreachableMcpUrl, type LocalMcpServer, type LocalMcpServerOptions } from './helpers/mcp-server.js';
import { GA_SESSION, SIM_API_KEY as API_KEY, useSimulatedServer, type RawRealtimeClient } from './helpers/realtime-sim-client.js';

const sims = useSimulatedServer();
let mcpServers: LocalMcpServer[] = [];
afterEach(async () => {
  await Promise.all(mcpServers.map((server) => server.close()));
  mcpServers = [];
});

async function mcpServer(options?: LocalMcpServerOptions): Promise<LocalMcpServer> {
  const server = await startLocalMcpServer(options);
  mcpServers.push(server);
  return server;
}

const HEADERS = { 'X-Orders-Key': 'orders-secret-1', 'X-Tenant': 'acme' };
const DECLARED_HEADERS = { 'x-orders-key': 'orders-secret-1', 'x-tenant': 'acme' };
const mcpTool = (url: string, extra: Record<string, unknown> = {}): Record<string, unknown> => ({ type: 'mcp', server_label: 'orders', server_url: url, headers: HEADERS, require_approval: 'never', ...extra });
const lookup = (orderId: string): ScriptedResponse => ({ kind: 'mcp_call', serverLabel: 'orders', name: 'lookup_order', arguments: JSON.stringify({ order_id: orderId }) });
const TONE = { kind: 'tone', frequencyHz: 1_000, durationMs: 300 } as const;

// Approval answers are sent without an `id` (the server assigns one), as OpenAI's Agents SDK sends them; the typings
// require one, hence the casts below.

/** A raw client whose session has `tools`; resolves once `session.updated` has arrived. */
async function configured(options: Partial<SimulatedRealtimeServerOptions>, tools: object[]): Promise<RawRealtimeClient> {
  const client = await sims.connect({ apiKey: API_KEY, speedFactor: Infinity, reply: TONE, ...options });
  client.send({ type: 'session.update', session: { ...GA_SESSION, tools } });
  await client.waitFor('session.updated');
  return client;
}

/** Sends `response.create` and resolves with the types of the events it caused, up to its `response.done`. */
async function respond(client: RawRealtimeClient): Promise<string[]> {
  const start = client.events.length;
  const count = client.ofType('response.done').length + 1;
  client.send({ type: 'response.create' });
  await client.waitFor('response.done', count);
  return client.types.slice(start);
}

/** What the official SDK client lists, as the `mcp_list_tools` item should carry it. */
async function listedBySdk(url: string): Promise<unknown[]> {
  const sdk = new Client({ name: 'reference', version: '1.0.0' });
  await sdk.connect(new StreamableHTTPClientTransport(new URL(url)));
  const { tools } = await sdk.listTools();
  await sdk.close();
  return tools.map((tool) => ({ name: tool.name, description: tool.description ?? null, input_schema: tool.inputSchema, annotations: tool.annotations ?? null }));
}

const MCP_CALL_EVENTS = [
  'response.created',
  'response.output_item.added',
  'conversation.item.added',
  'response.mcp_call_arguments.delta',
  'response.mcp_call_arguments.delta',
  'response.mcp_call_arguments.delta',
  'response.mcp_call_arguments.done',
  'response.mcp_call.in_progress',
  'response.mcp_call.completed',
  'response.output_item.done',
  'conversation.item.done',
  'response.done',
];

describe('mcpToolsFor', () => {
  it('maps agent MCP servers to session.tools entries exactly: header values only, allowed_tools when set', () => {
    expect(
      mcpToolsFor([
        {
          label: 'orders',
          url: 'https://mcp.example.com/mcp',
          allowedTools: ['lookup_order'],
          headers: { Authorization: { value: 'Bearer s3cret', secret: true }, 'X-Tenant': { value: 'acme', secret: false } },
          requireApproval: 'never',
        },
        { label: 'docs', url: 'http://127.0.0.1:9/mcp', allowedTools: null, headers: {}, requireApproval: 'always' },
      ]),
    ).toStrictEqual([
      {
        type: 'mcp',
        server_label: 'orders',
        server_url: 'https://mcp.example.com/mcp',
        headers: { Authorization: 'Bearer s3cret', 'X-Tenant': 'acme' },
        allowed_tools: ['lookup_order'],
        require_approval: 'never',
      },
      { type: 'mcp', server_label: 'docs', server_url: 'http://127.0.0.1:9/mcp', headers: {}, require_approval: 'always' },
    ]);
  });
});

describe('listing MCP tools', () => {
  it('lists the server over MCP with the declared headers and reports the mcp_list_tools item and events', async () => {
    const mcp = await mcpServer();
    const client = await configured({}, [mcpTool(mcp.url)]);
    const done = await client.waitFor('conversation.item.done');
    const handshake = [...mcp.requests];
    expect(client.types.slice(client.types.indexOf('session.updated') + 1)).toEqual([
      'conversation.item.added',
      'mcp_list_tools.in_progress',
      'mcp_list_tools.completed',
      'conversation.item.done',
    ]);
    const itemId = done.item.id!;
    expect(client.ofType('conversation.item.added')[0]).toEqual({
      type: 'conversation.item.added',
      event_id: expect.any(String),
      previous_item_id: null,
      item: { id: itemId, type: 'mcp_list_tools', server_label: 'orders', tools: [] },
    });
    expect(client.ofType('mcp_list_tools.in_progress')).toEqual([{ type: 'mcp_list_tools.in_progress', event_id: expect.any(String), item_id: itemId }]);
    expect(client.ofType('mcp_list_tools.completed')).toEqual([{ type: 'mcp_list_tools.completed', event_id: expect.any(String), item_id: itemId }]);
    expect(done.item).toEqual({ id: itemId, type: 'mcp_list_tools', server_label: 'orders', tools: await listedBySdk(mcp.url) });
    expect(done.item).toMatchObject({
      tools: [
        {
          name: 'lookup_order',
          description: 'Look up an order by its number.',
          input_schema: { type: 'object', properties: { order_id: { type: 'string', description: 'The order number, e.g. A-1042' } }, required: ['order_id'] },
          annotations: { readOnlyHint: true },
        },
        { name: 'cancel_order' },
        { name: 'flaky_lookup', annotations: null },
      ],
    });

    // initialize → notifications/initialized → tools/list, in one MCP session, every request with the declared headers.
    expect(handshake.map((request) => [request.httpMethod, request.rpcMethod])).toEqual([
      ['POST', 'initialize'],
      ['POST', 'notifications/initialized'],
      ['POST', 'tools/list'],
    ]);
    for (const request of handshake) expect(request.headers).toMatchObject({ ...DECLARED_HEADERS, accept: 'application/json, text/event-stream' });
    const [initialize, initialized, toolsList] = handshake;
    expect(initialize!.sessionId).toBeNull();
    expect(initialized!.sessionId).toMatch(/^[0-9a-f-]{36}$/);
    expect(toolsList!.sessionId).toBe(initialized!.sessionId);
    expect(toolsList!.headers['mcp-protocol-version']).toBe('2025-06-18');

    const session = await sims.current.waitForSession();
    expect(session.mcpListings).toEqual([{ serverLabel: 'orders', itemId, status: 'completed', tools: (done.item as { tools: unknown[] }).tools, error: null, atMs: expect.any(Number) }]);

    // The Realtime session ends: its MCP session is ended too (HTTP DELETE).
    client.close();
    await session.closed;
    await vi.waitFor(() =>
      expect(mcp.requests.filter((request) => request.httpMethod === 'DELETE')).toMatchObject([{ sessionId: initialized!.sessionId, headers: DECLARED_HEADERS }]),
    );
  });

  it('reports mcp_list_tools.failed when the server cannot be reached, and a call to it fails without a request', async () => {
    const client = await configured({ script: [lookup('A-1042')] }, [mcpTool(await unreachableMcpUrl())]);
    const failed = await client.waitFor('mcp_list_tools.failed');
    const done = await client.waitFor('conversation.item.done');
    expect(client.types.slice(client.types.indexOf('session.updated') + 1)).toEqual(['conversation.item.added', 'mcp_list_tools.in_progress', 'mcp_list_tools.failed', 'conversation.item.done']);
    expect(failed).toEqual({ type: 'mcp_list_tools.failed', event_id: expect.any(String), item_id: done.item.id });
    expect(done.item).toEqual({ id: failed.item_id, type: 'mcp_list_tools', server_label: 'orders', tools: [] });
    const session = await sims.current.waitForSession();
    expect(session.mcpListings).toMatchObject([{ serverLabel: 'orders', status: 'failed', tools: [], error: expect.any(String) }]);

    const types = await respond(client);
    expect(types).toEqual(MCP_CALL_EVENTS.map((type) => (type === 'response.mcp_call.completed' ? 'response.mcp_call.failed' : type)));
    expect(client.ofType('response.output_item.done')[0]!.item).toMatchObject({
      type: 'mcp_call',
      output: null,
      error: { type: 'protocol_error', code: -32602, message: 'Tool "lookup_order" is not available on MCP server "orders"' },
    });
  });

  it('filters by allowed_tools (names, or a filter object) and lists again when they change', async () => {
    const mcp = await mcpServer();
    const client = await configured({ script: [{ kind: 'mcp_call', serverLabel: 'orders', name: 'cancel_order', arguments: '{"order_id":"A-1"}' }] }, [
      mcpTool(mcp.url, { allowed_tools: ['lookup_order'] }),
    ]);
    const first = await client.waitFor('conversation.item.done');
    expect(first.item).toMatchObject({ type: 'mcp_list_tools', tools: [{ name: 'lookup_order' }] });
    expect((first.item as { tools: unknown[] }).tools).toHaveLength(1);

    // A tool the session was not given is never called.
    await respond(client);
    expect(client.ofType('response.mcp_call.failed')).toHaveLength(1);
    expect(mcp.toolCalls).toEqual([]);

    client.send({ type: 'session.update', session: { ...GA_SESSION, tools: [mcpTool(mcp.url, { allowed_tools: { read_only: false } })] } });
    await client.waitFor('mcp_list_tools.completed', 2);
    const second = client.ofType('conversation.item.done').find((event) => event.item.type === 'mcp_list_tools' && event.item.id !== first.item.id)!;
    expect((second.item as { tools: Array<{ name: string }> }).tools.map((tool) => tool.name)).toEqual(['cancel_order', 'flaky_lookup']);
  });
});

describe('MCP calls', () => {
  it('calls the tool on the MCP server with the exact arguments and headers; the output is in the item and in the next answer', async () => {
    const mcp = await mcpServer({ jsonResponse: true });
    const client = await configured({ script: [lookup('A-1042')] }, [mcpTool(mcp.url)]);
    await client.waitFor('mcp_list_tools.completed');
    const types = await respond(client);
    expect(types).toEqual(MCP_CALL_EVENTS);

    const output = orderStatusText('A-1042');
    const added = client.ofType('response.output_item.added')[0]!;
    const itemId = added.item.id!;
    const item = { id: itemId, type: 'mcp_call', server_label: 'orders', name: 'lookup_order', arguments: '{"order_id":"A-1042"}', approval_request_id: null, output, error: null };
    expect(added.item).toEqual({ ...item, arguments: '', output: null });
    expect(client.ofType('response.mcp_call_arguments.delta').map((delta) => delta.delta).join('')).toBe('{"order_id":"A-1042"}');
    const responseId = added.response_id;
    expect(client.ofType('response.mcp_call_arguments.done')[0]).toEqual({
      type: 'response.mcp_call_arguments.done',
      event_id: expect.any(String),
      response_id: responseId,
      item_id: itemId,
      output_index: 0,
      arguments: '{"order_id":"A-1042"}',
    });
    for (const type of ['response.mcp_call.in_progress', 'response.mcp_call.completed'] as const) {
      expect(client.ofType(type)).toEqual([{ type, event_id: expect.any(String), item_id: itemId, output_index: 0 }]);
    }
    expect(client.ofType('response.output_item.done')[0]).toMatchObject({ response_id: responseId, output_index: 0, item });
    expect(client.ofType('conversation.item.done').at(-1)!.item).toEqual(item);
    const done = client.ofType('response.done')[0]!;
    expect(done.response).toMatchObject({ id: responseId, status: 'completed', output: [item] });

    expect(mcp.toolCalls).toEqual([{ name: 'lookup_order', arguments: { order_id: 'A-1042' }, headers: expect.objectContaining(DECLARED_HEADERS) }]);
    expect(mcp.requests.map((request) => request.rpcMethod)).toEqual(['initialize', 'notifications/initialized', 'tools/list', 'tools/call']);

    // The result reached the model: its next answer says it.
    await respond(client);
    expect(client.ofType('response.output_audio_transcript.done')[0]!.transcript).toBe(`lookup_order returned: ${output} Tone of 1000 hertz.`);
    const session = await sims.current.waitForSession();
    expect(session.responses.map((response) => [response.kind, response.status])).toEqual([
      ['mcp_call', 'completed'],
      ['audio', 'completed'],
    ]);
    expect(session.mcpCalls).toEqual([
      { responseId, itemId, serverLabel: 'orders', name: 'lookup_order', arguments: '{"order_id":"A-1042"}', approvalRequestId: null, status: 'completed', output, error: null, atMs: expect.any(Number) },
    ]);
    expect(session.violations.responseCreateWhileActive).toBe(0);
  });

  it('reports a tool that answers isError as response.mcp_call.failed with a tool_execution_error', async () => {
    const mcp = await mcpServer();
    const client = await configured({ script: [{ kind: 'mcp_call', serverLabel: 'orders', name: 'flaky_lookup', arguments: '{"order_id":"A-7"}' }] }, [mcpTool(mcp.url)]);
    await client.waitFor('mcp_list_tools.completed');
    expect(await respond(client)).toContain('response.mcp_call.failed');
    expect(client.ofType('response.output_item.done')[0]!.item).toMatchObject({ type: 'mcp_call', output: null, error: { type: 'tool_execution_error', message: FLAKY_ERROR_TEXT } });
    expect(mcp.toolCalls).toMatchObject([{ name: 'flaky_lookup', arguments: { order_id: 'A-7' } }]);
    await respond(client);
    expect(client.ofType('response.output_audio_transcript.done')[0]!.transcript).toBe(`flaky_lookup failed: ${FLAKY_ERROR_TEXT} Tone of 1000 hertz.`);
  });
});

describe('an MCP call in progress', () => {
  it('keeps its response active: response.create is refused, response.cancel ends it, and the late result is dropped', async () => {
    const mcp = await mcpServer({ toolDelayMs: 300 });
    const client = await configured({ script: [lookup('A-9')] }, [mcpTool(mcp.url)]);
    await client.waitFor('mcp_list_tools.completed');
    client.send({ type: 'response.create' });
    await client.waitFor('response.mcp_call.in_progress');
    client.send({ type: 'response.create', event_id: 'evt_second' });
    expect((await client.waitFor('error')).error).toMatchObject({ code: 'conversation_already_has_active_response', event_id: 'evt_second' });
    client.send({ type: 'response.cancel' });
    const done = await client.waitFor('response.done');
    expect(done.response).toMatchObject({ status: 'cancelled', status_details: { type: 'cancelled', reason: 'client_cancelled' }, output: [] });

    const session = await sims.current.waitForSession();
    await vi.waitFor(() => expect(session.mcpCalls.map((call) => call.status)).toEqual(['cancelled']), { timeout: 3_000 });
    expect(mcp.toolCalls).toHaveLength(1);
    expect(client.types.filter((type) => type.startsWith('response.mcp_call.') || type === 'response.output_item.done')).toEqual(['response.mcp_call.in_progress']);
  });
});

describe('MCP approvals', () => {
  it('with require_approval always asks first: a denial makes no call, an approval starts the response that calls', async () => {
    const mcp = await mcpServer();
    const client = await configured({ script: [lookup('A-1'), lookup('A-2')] }, [mcpTool(mcp.url, { require_approval: 'always' })]);
    await client.waitFor('mcp_list_tools.completed');

    const asked = await respond(client);
    expect(asked).toEqual(['response.created', 'response.output_item.added', 'conversation.item.added', 'response.output_item.done', 'conversation.item.done', 'response.done']);
    const firstRequest = client.ofType('response.output_item.done')[0]!.item;
    expect(firstRequest).toEqual({ id: expect.stringMatching(/^item_/), type: 'mcp_approval_request', server_label: 'orders', name: 'lookup_order', arguments: '{"order_id":"A-1"}' });
    expect(client.ofType('response.done')[0]!.response.output).toEqual([firstRequest]);
    expect(mcp.toolCalls).toEqual([]);

    // Deny: the answer is added to the conversation, and nothing else happens.
    client.send({ type: 'conversation.item.create', item: { type: 'mcp_approval_response', approval_request_id: firstRequest.id!, approve: false, reason: 'caller declined' } } as Record<string, unknown>);
    const denied = await client.waitFor('conversation.item.done', 3);
    expect(denied.item).toEqual({ id: expect.any(String), type: 'mcp_approval_response', approval_request_id: firstRequest.id, approve: false, reason: 'caller declined' });

    await respond(client);
    const secondRequest = client.ofType('response.output_item.done')[1]!.item;
    expect(secondRequest).toMatchObject({ type: 'mcp_approval_request', arguments: '{"order_id":"A-2"}' });
    expect(client.ofType('response.created')).toHaveLength(2);
    expect(mcp.toolCalls).toEqual([]);

    // Approve: the server starts a response that makes the call, naming the request.
    const start = client.events.length;
    client.send({ type: 'conversation.item.create', item: { type: 'mcp_approval_response', approval_request_id: secondRequest.id!, approve: true } } as Record<string, unknown>);
    const done = await client.waitFor('response.done', 3);
    expect(client.types.slice(start)).toEqual(['conversation.item.added', 'conversation.item.done', ...MCP_CALL_EVENTS]);
    expect(done.response.output).toEqual([
      expect.objectContaining({ type: 'mcp_call', name: 'lookup_order', arguments: '{"order_id":"A-2"}', approval_request_id: secondRequest.id, output: orderStatusText('A-2'), error: null }),
    ]);
    expect(mcp.toolCalls).toEqual([{ name: 'lookup_order', arguments: { order_id: 'A-2' }, headers: expect.objectContaining(DECLARED_HEADERS) }]);

    const session = await sims.current.waitForSession();
    expect(session.mcpApprovalResponses.map(({ approvalRequestId, approve, knownRequest }) => ({ approvalRequestId, approve, knownRequest }))).toEqual([
      { approvalRequestId: firstRequest.id, approve: false, knownRequest: true },
      { approvalRequestId: secondRequest.id, approve: true, knownRequest: true },
    ]);
    expect(session.responses.map((response) => [response.kind, response.trigger])).toEqual([
      ['mcp_approval_request', 'client'],
      ['mcp_approval_request', 'client'],
      ['mcp_call', 'client'],
    ]);
    expect(session.errors()).toEqual([]);
  });
});
