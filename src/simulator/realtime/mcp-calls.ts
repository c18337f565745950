/**
 * An MCP call inside a response (its one output item), as the real API runs it: the model's arguments stream, the
 * session calls the server (`tools/call` on the server's MCP session), and the result lands in the `mcp_call` item.
 * With approval required, the response carries an `mcp_approval_request` instead; the response that an approving
 * `mcp_approval_response` starts makes the call, naming the request in `approval_request_id`.
 *
 * Events, in order: `response.output_item.added` and `conversation.item.added` (the `mcp_call` item, no arguments
 * yet), `response.mcp_call_arguments.delta`…, `.done`, `response.mcp_call.in_progress`, the `tools/call`, then
 * `response.mcp_call.completed` (or `.failed`), `response.output_item.done` and `conversation.item.done` with the
 * item's `output` (or `error`). The streamer sends `response.done`. The response ends there, as the real one does
 * (OpenAI's Agents SDK sends `response.create` when an `mcp_call` item is done): the next audio answer starts by
 * saying what the tool returned, which is how a test sees that the result reached the model.
 */
import type { RealtimeMcpApprovalRequest, RealtimeMcpToolCall } from 'openai/resources/realtime/realtime';
import type { ConversationStore } from './conversation.js';
import { McpHttpError, McpProtocolError, type McpToolDescription, type McpToolResult } from './mcp.js';
import { requiresApproval, type ConfiguredMcpServer, type McpServers } from './mcp-servers.js';
import type { McpCallRecord, SessionContext, SimulatedResponseRecord } from './session-types.js';

export interface McpCallPlan {
  serverLabel: string;
  name: string;
  /** JSON text. */
  arguments: string;
  /** Set when an approval made this call: no second approval is asked. */
  approvalRequestId: string | null;
}

type McpCallError = NonNullable<RealtimeMcpToolCall['error']>;
type Outcome = { output: string; error: null } | { output: null; error: McpCallError };

export class McpCalls {
  readonly calls: McpCallRecord[] = [];
  /** What MCP tools returned since the model last answered: its next answer says it. */
  private unspoken: string[] = [];

  constructor(
    private readonly context: SessionContext,
    private readonly conversation: ConversationStore,
    private readonly servers: McpServers,
  ) {}

  /** The tool results the next answer speaks (then forgotten), or null when there are none. */
  takeResults(): string | null {
    const text = this.unspoken.join(' ');
    this.unspoken = [];
    return text === '' ? null : text;
  }

  /**
   * Produces the response's output item; resolves with it, or with null when the response was cancelled meanwhile
   * (its status is no longer `in_progress`). Waits for the server's listing first, as the API needs the tools.
   */
  async run(record: SimulatedResponseRecord, plan: McpCallPlan): Promise<RealtimeMcpToolCall | RealtimeMcpApprovalRequest | null> {
    const server = this.servers.get(plan.serverLabel);
    const tool = server === undefined ? undefined : (await server.tools)?.find((listed) => listed.name === plan.name);
    if (record.status !== 'in_progress') return null;
    if (server !== undefined && tool !== undefined && plan.approvalRequestId === null && requiresApproval(server.config.require_approval, tool)) {
      return this.requestApproval(record, plan);
    }
    return this.call(record, plan, server, tool);
  }

  private requestApproval(record: SimulatedResponseRecord, plan: McpCallPlan): RealtimeMcpApprovalRequest {
    const context = this.context;
    record.kind = 'mcp_approval_request';
    const item: RealtimeMcpApprovalRequest = { id: record.itemId, type: 'mcp_approval_request', server_label: plan.serverLabel, name: plan.name, arguments: plan.arguments };
    this.conversation.addMcpApprovalRequest(record.itemId, { serverLabel: plan.serverLabel, name: plan.name, arguments: plan.arguments });
    context.emit({ type: 'response.output_item.added', response_id: record.id, output_index: 0, item });
    context.emit({ type: 'conversation.item.added', previous_item_id: this.conversation.previousOf(record.itemId), item });
    context.emit({ type: 'response.output_item.done', response_id: record.id, output_index: 0, item });
    context.emit({ type: 'conversation.item.done', previous_item_id: this.conversation.previousOf(record.itemId), item });
    return item;
  }

  private async call(
    record: SimulatedResponseRecord,
    plan: McpCallPlan,
    server: ConfiguredMcpServer | undefined,
    tool: McpToolDescription | undefined,
  ): Promise<RealtimeMcpToolCall | null> {
    const context = this.context;
    record.kind = 'mcp_call';
    const callRecord: McpCallRecord = {
      responseId: record.id,
      itemId: record.itemId,
      serverLabel: plan.serverLabel,
      name: plan.name,
      arguments: plan.arguments,
      approvalRequestId: plan.approvalRequestId,
      status: 'in_progress',
      output: null,
      error: null,
      atMs: context.sinceConnectMs(),
    };
    this.calls.push(callRecord);
    this.conversation.addItem({ id: record.itemId, type: 'mcp_call', role: null, response: null, callId: null });
    const pending: RealtimeMcpToolCall = {
      id: record.itemId,
      type: 'mcp_call',
      server_label: plan.serverLabel,
      name: plan.name,
      arguments: '',
      approval_request_id: plan.approvalRequestId,
      output: null,
      error: null,
    };
    const ids = { response_id: record.id, item_id: record.itemId, output_index: 0 };
    context.emit({ type: 'response.output_item.added', response_id: record.id, output_index: 0, item: pending });
    context.emit({ type: 'conversation.item.added', previous_item_id: this.conversation.previousOf(record.itemId), item: pending });
    const pieceLength = Math.max(1, Math.ceil(plan.arguments.length / 3));
    for (let offset = 0; offset < plan.arguments.length; offset += pieceLength) {
      context.emit({ type: 'response.mcp_call_arguments.delta', ...ids, delta: plan.arguments.slice(offset, offset + pieceLength) });
    }
    context.emit({ type: 'response.mcp_call_arguments.done', ...ids, arguments: plan.arguments });
    context.emit({ type: 'response.mcp_call.in_progress', item_id: record.itemId, output_index: 0 });
    const outcome = await this.execute(plan, server, tool);
    if (record.status !== 'in_progress') {
      callRecord.status = 'cancelled';
      return null;
    }
    callRecord.status = outcome.error === null ? 'completed' : 'failed';
    callRecord.output = outcome.output;
    callRecord.error = outcome.error;
    const item: RealtimeMcpToolCall = { ...pending, arguments: plan.arguments, output: outcome.output, error: outcome.error };
    context.emit({ type: outcome.error === null ? 'response.mcp_call.completed' : 'response.mcp_call.failed', item_id: record.itemId, output_index: 0 });
    context.emit({ type: 'response.output_item.done', response_id: record.id, output_index: 0, item });
    context.emit({ type: 'conversation.item.done', previous_item_id: this.conversation.previousOf(record.itemId), item });
    this.unspoken.push(outcome.error === null ? `${plan.name} returned: ${outcome.output}` : `${plan.name} failed: ${outcome.error.message}`);
    return item;
  }

  /**
   * Calls the tool. A server or tool the session does not have (unknown label, failed listing, filtered out by
   * `allowed_tools`) fails without a request. Errors map to the item's error types: a JSON-RPC error or an unusable
   * answer → `protocol_error`, a non-2xx status → `http_error`, `isError: true` → `tool_execution_error`, and an
   * unreachable server → `protocol_error` -32000 (the simulator's choice: there is no HTTP status to report).
   */
  private async execute(plan: McpCallPlan, server: ConfiguredMcpServer | undefined, tool: McpToolDescription | undefined): Promise<Outcome> {
    const protocolError = (code: number, message: string): Outcome => ({ output: null, error: { type: 'protocol_error', code, message } });
    if (server === undefined) return protocolError(-32602, `No MCP server labelled ${JSON.stringify(plan.serverLabel)} in session.tools`);
    if (tool === undefined) return protocolError(-32602, `Tool ${JSON.stringify(plan.name)} is not available on MCP server ${JSON.stringify(plan.serverLabel)}`);
    let args: unknown;
    try {
      args = JSON.parse(plan.arguments);
    } catch {
      args = null;
    }
    if (args === null || typeof args !== 'object' || Array.isArray(args)) return protocolError(-32602, 'Tool arguments must be a JSON object');
    try {
      const result = await server.client.callTool(plan.name, args as Record<string, unknown>);
      const text = resultText(result);
      return result.isError === true ? { output: null, error: { type: 'tool_execution_error', message: text } } : { output: text, error: null };
    } catch (error) {
      this.context.logger.debug({ serverLabel: plan.serverLabel, tool: plan.name, err: error }, 'simulated MCP call failed');
      if (error instanceof McpHttpError) return { output: null, error: { type: 'http_error', code: error.status, message: error.message } };
      if (error instanceof McpProtocolError) return protocolError(error.code, error.message);
      return protocolError(-32000, `Could not reach the MCP server: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
}

/** The text parts of a tool result, one per line; else its structured content (or content) as JSON. */
function resultText(result: McpToolResult): string {
  const texts = (result.content ?? []).filter((part) => part.type === 'text' && typeof part.text === 'string').map((part) => part.text!);
  if (texts.length > 0) return texts.join('\n');
  return JSON.stringify(result.structuredContent ?? result.content ?? []);
}
