/**
 * The session's `mcp` tools (`session.tools` entries of type `mcp`). The real API calls the MCP server itself, so
 * this does too: a `session.update` that adds a server, or changes its URL, headers, authorization or allowed
 * tools, lists that server's tools over MCP (mcp.ts) and reports it as the API does — an `mcp_list_tools` item
 * (`conversation.item.added`), `mcp_list_tools.in_progress`, then `mcp_list_tools.completed` and
 * `conversation.item.done` with the tools (filtered by `allowed_tools`), or `mcp_list_tools.failed` and the item done
 * with no tools. The listed tools and each server's MCP session are what later calls (mcp-calls.ts) use.
 */
import type { RealtimeMcpListTools, RealtimeToolsConfigUnion } from 'openai/resources/realtime/realtime';
import type { ConversationStore } from './conversation.js';
import { McpStreamableHttpClient, type McpToolDescription } from './mcp.js';
import type { SimulatedSessionObject } from './session-config.js';
import type { McpListingRecord, SessionContext } from './session-types.js';

export type McpToolConfig = RealtimeToolsConfigUnion.Mcp;
type ToolFilter = RealtimeToolsConfigUnion.Mcp.McpToolFilter;

export interface ConfiguredMcpServer {
  /** The latest config (an update that changes only `require_approval` keeps the listing and the MCP session). */
  config: McpToolConfig;
  client: McpStreamableHttpClient;
  /** Resolves once listed: the allowed tools, or null when listing failed. Never rejects. */
  tools: Promise<McpToolDescription[] | null>;
}

interface ServerEntry extends ConfiguredMcpServer {
  /** What, changed, makes the server listed again. */
  key: string;
}

export class McpServers {
  readonly listings: McpListingRecord[] = [];
  private readonly servers = new Map<string, ServerEntry>();

  constructor(
    private readonly context: SessionContext,
    private readonly conversation: ConversationStore,
  ) {}

  get(serverLabel: string): ConfiguredMcpServer | undefined {
    return this.servers.get(serverLabel);
  }

  /** After each `session.updated`: list new or changed servers, forget removed ones. */
  sync(session: SimulatedSessionObject): void {
    const wanted = new Map<string, McpToolConfig>();
    for (const tool of session.tools ?? []) {
      if (tool.type === 'mcp' && typeof tool.server_label === 'string') wanted.set(tool.server_label, tool);
    }
    for (const [label, server] of this.servers) {
      if (wanted.has(label)) continue;
      this.servers.delete(label);
      void server.client.close();
    }
    for (const [label, config] of wanted) {
      const key = JSON.stringify([config.server_url ?? null, config.headers ?? null, config.authorization ?? null, config.allowed_tools ?? null]);
      const existing = this.servers.get(label);
      if (existing?.key === key) {
        existing.config = config;
        continue;
      }
      if (existing !== undefined) void existing.client.close();
      this.servers.set(label, this.list(config, key));
    }
  }

  /** The session is over: end every MCP session (best effort). */
  close(): void {
    for (const server of this.servers.values()) void server.client.close();
    this.servers.clear();
  }

  private list(config: McpToolConfig, key: string): ServerEntry {
    const context = this.context;
    const itemId = context.newId('item');
    const headers: Record<string, string> = { ...config.headers };
    if (typeof config.authorization === 'string' && !Object.keys(headers).some((name) => name.toLowerCase() === 'authorization')) {
      headers['Authorization'] = `Bearer ${config.authorization}`;
    }
    const client = new McpStreamableHttpClient(config.server_url ?? '', headers);
    const record: McpListingRecord = { serverLabel: config.server_label, itemId, status: 'in_progress', tools: [], error: null, atMs: context.sinceConnectMs() };
    this.listings.push(record);
    this.conversation.addItem({ id: itemId, type: 'mcp_list_tools', role: null, response: null, callId: null });
    const item = (tools: RealtimeMcpListTools.Tool[]): RealtimeMcpListTools => ({ id: itemId, type: 'mcp_list_tools', server_label: config.server_label, tools });
    context.emit({ type: 'conversation.item.added', previous_item_id: this.conversation.previousOf(itemId), item: item([]) });
    context.emit({ type: 'mcp_list_tools.in_progress', item_id: itemId });
    const tools = (async (): Promise<McpToolDescription[] | null> => {
      try {
        if (config.server_url === undefined) throw new Error('the simulator lists only server_url MCP tools (no connector_id or tunnel_id)');
        const listed = (await client.listTools()).filter((tool) => isAllowed(config.allowed_tools, tool));
        record.status = 'completed';
        record.tools = listed.map(listedTool);
        context.emit({ type: 'mcp_list_tools.completed', item_id: itemId });
        context.emit({ type: 'conversation.item.done', previous_item_id: this.conversation.previousOf(itemId), item: item(record.tools) });
        return listed;
      } catch (error) {
        record.status = 'failed';
        record.error = error instanceof Error ? error.message : String(error);
        context.logger.debug({ serverLabel: config.server_label, err: error }, 'simulated MCP listing failed');
        context.emit({ type: 'mcp_list_tools.failed', item_id: itemId });
        context.emit({ type: 'conversation.item.done', previous_item_id: this.conversation.previousOf(itemId), item: item([]) });
        return null;
      }
    })();
    return { key, config, client, tools };
  }
}

/** A tool as the `mcp_list_tools` item lists it. */
function listedTool(tool: McpToolDescription): RealtimeMcpListTools.Tool {
  return { name: tool.name, description: tool.description ?? null, input_schema: tool.inputSchema ?? {}, annotations: tool.annotations ?? null };
}

function matches(filter: ToolFilter, tool: McpToolDescription): boolean {
  if (filter.tool_names !== undefined && !filter.tool_names.includes(tool.name)) return false;
  if (filter.read_only !== undefined && (tool.annotations?.readOnlyHint === true) !== filter.read_only) return false;
  return true;
}

function isAllowed(allowed: McpToolConfig['allowed_tools'], tool: McpToolDescription): boolean {
  if (allowed === undefined || allowed === null) return true;
  return Array.isArray(allowed) ? allowed.includes(tool.name) : matches(allowed, tool);
}

/**
 * Whether a call needs approval. Absent or null means `always`, as OpenAI's MCP tools default to asking. With a filter
 * object, a tool `never` matches needs none; otherwise it needs one if `always` matches it, or if there is no `always`.
 */
export function requiresApproval(policy: McpToolConfig['require_approval'], tool: McpToolDescription): boolean {
  if (policy === 'never') return false;
  if (policy === undefined || policy === null || policy === 'always') return true;
  if (policy.never !== undefined && matches(policy.never, tool)) return false;
  return policy.always === undefined ? true : matches(policy.always, tool);
}
