/**
 * An agent's MCP servers as `session.tools` entries of type `mcp`: the Realtime API lists and calls these servers
 * itself (the bridge never talks to them). Pure: no I/O.
 *
 * Header values go on the wire as they are, secrets included (the API needs them to call the server): whoever logs
 * the `session.update` must redact `tools[].headers`. `require_approval` is always sent explicitly, because the API
 * asks for approval when it is absent.
 */
import type { RealtimeToolsConfigUnion } from 'openai/resources/realtime/realtime';
import type { McpServerDefinition } from '../../agents/types.js';

/** The typings' MCP tool entry (`session.tools[]` with `type: 'mcp'`). */
export type RealtimeMcpTool = RealtimeToolsConfigUnion.Mcp;

export function mcpToolsFor(servers: readonly McpServerDefinition[]): RealtimeMcpTool[] {
  return servers.map((server) => ({
    type: 'mcp',
    server_label: server.label,
    server_url: server.url,
    headers: Object.fromEntries(Object.entries(server.headers).map(([name, header]) => [name, header.value])),
    ...(server.allowedTools === null ? {} : { allowed_tools: [...server.allowedTools] }),
    require_approval: server.requireApproval,
  }));
}
