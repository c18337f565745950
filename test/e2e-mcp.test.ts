/**
 * Remote MCP tools through the whole bridge: the agent file's MCP server goes into the session as a Realtime `mcp`
 * tool, the (simulated) API calls the real local MCP server itself, and the bridge asks for the one response that
 * speaks the result — which the caller hears whole. The server's secret header never reaches a log line.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { agentFromConfig } from '../src/agents/from-config.js';
import type { AgentDefinition } from '../src/agents/types.js';
import { loadConfig } from '../src/config.js';
import { heardToneSegments, wholeResponse } from './helpers/e2e-call-flow.js';
import { startBridge, withTimeout, type Bridge } from './helpers/e2e.js';
import { orderStatusText, startLocalMcpServer, type LocalMcpServer } from './helpers/mcp-server.js';

let bridge: Bridge | null = null;
let mcp: LocalMcpServer | null = null;
afterEach(async () => {
  await bridge?.close();
  await mcp?.close();
  bridge = null;
  mcp = null;
});

const SECRET = 'orders-secret-e2e-9f3a';

describe('MCP tools', () => {
  it('the session carries the mcp tool; a scripted MCP call reaches the local MCP server and its result reaches the model and the caller', async () => {
    mcp = await startLocalMcpServer();
    const agent: AgentDefinition = {
      ...agentFromConfig(loadConfig({ NODE_ENV: 'test' })),
      name: 'orders',
      greeting: 'Say hello.',
      mcpServers: [{ label: 'orders', url: mcp.url, allowedTools: ['lookup_order'], headers: { 'X-Orders-Key': { value: SECRET, secret: true } }, requireApproval: 'never' }],
    };
    bridge = await startBridge({
      agents: { agents: [agent], defaultAgent: agent, source: 'file' },
      filterSecrets: false,
      sim: {
        script: [
          { kind: 'mcp_call', serverLabel: 'orders', name: 'lookup_order', arguments: JSON.stringify({ order_id: 'A-1042' }) },
          { kind: 'audio', reply: { kind: 'tone-coded', durationMs: 800 } },
        ],
      },
    });
    const call = await bridge.call({ audio: { kind: 'silence', durationMs: 2_500 } });
    const result = await withTimeout(call.closed, 10_000, 'call');
    const session = bridge.sim.sessions[0]!;

    expect(session.eventsIn('session.update')[0]!['session']).toMatchObject({
      tools: [{ type: 'mcp', server_label: 'orders', server_url: mcp.url, headers: { 'X-Orders-Key': SECRET }, allowed_tools: ['lookup_order'], require_approval: 'never' }],
    });
    expect(mcp.toolCalls).toEqual([{ name: 'lookup_order', arguments: { order_id: 'A-1042' }, headers: expect.objectContaining({ 'x-orders-key': SECRET }) }]);
    // The greeting's create, then exactly one after the MCP call: the API does not speak the result by itself.
    expect(session.responseCreateRequests.map((create) => [create.instructions, create.accepted])).toEqual([
      ['Say hello.', true],
      [null, true],
    ]);
    expect(session.responses.map((response) => [response.kind, response.status])).toEqual([
      ['mcp_call', 'completed'],
      ['audio', 'completed'],
    ]);
    const [answer] = session.eventsOut('response.output_audio_transcript.done');
    expect(answer!.transcript.startsWith(`lookup_order returned: ${orderStatusText('A-1042')}`)).toBe(true);
    expect(heardToneSegments(result.heardAudio)).toEqual(wholeResponse(1, 800));
    expect(session.errors()).toEqual([]);
    expect(bridge.rawLog()).not.toContain(SECRET);
  });
});
