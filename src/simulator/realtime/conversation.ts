/**
 * The session's conversation: its items in order, the caller turns committed into it, the client's own items
 * (`conversation.item.create`: user text, function_call_output, mcp_approval_response), deletes and truncates, and
 * the bookkeeping tests assert on. Turn detection and the response streamer add their items here; only this store answers item lookups.
 */
import type { ConversationItem } from 'openai/resources/realtime/realtime';
import * as errors from './errors.js';
import type {
  CommittedTurn,
  FunctionCallOutputRecord,
  InboundEvent,
  McpApprovalResponseRecord,
  SessionContext,
  SimulatedResponseRecord,
  TruncateRecord,
  UserTextMessage,
} from './session-types.js';

export interface StoredItem {
  id: string;
  type: string;
  role: string | null;
  /** Set for assistant audio messages: the response that streams it. */
  response: SimulatedResponseRecord | null;
  callId: string | null;
}

/** An `mcp_approval_request` the server sent and the client has not answered yet. */
export interface PendingMcpApproval {
  serverLabel: string;
  name: string;
  arguments: string;
}

export class ConversationStore {
  readonly committedTurns: CommittedTurn[] = [];
  readonly functionCallOutputs: FunctionCallOutputRecord[] = [];
  readonly userTextMessages: UserTextMessage[] = [];
  readonly mcpApprovalResponses: McpApprovalResponseRecord[] = [];
  /** Told of each `mcp_approval_response` once its item is added (`pending`: the request it answers, if known). */
  onMcpApproval: ((approval: McpApprovalResponseRecord, pending: PendingMcpApproval | undefined) => void) | null = null;
  /** ms of caller audio in committed turns: what `usage` bills as input audio. */
  committedAudioMs = 0;

  private readonly items = new Map<string, StoredItem>();
  private readonly itemOrder: string[] = [];
  private readonly truncateRecords: TruncateRecord[] = [];
  private readonly knownCallIds = new Set<string>();
  private readonly pendingApprovals = new Map<string, PendingMcpApproval>();

  constructor(private readonly context: SessionContext) {}

  truncates(): TruncateRecord[] {
    return [...this.truncateRecords];
  }

  addItem(item: StoredItem): void {
    this.items.set(item.id, item);
    this.itemOrder.push(item.id);
  }

  lastItemId(): string | null {
    return this.itemOrder[this.itemOrder.length - 1] ?? null;
  }

  previousOf(itemId: string): string | null {
    const position = this.itemOrder.indexOf(itemId);
    return position > 0 ? this.itemOrder[position - 1]! : null;
  }

  /** Records a caller turn and its user audio item (the caller emits the events: their order is turn detection's). */
  addCommittedTurn(turn: CommittedTurn): void {
    this.committedTurns.push(turn);
    this.committedAudioMs += turn.audioEndMs - turn.audioStartMs;
    this.addItem({ id: turn.itemId, type: 'message', role: 'user', response: null, callId: null });
  }

  /** A function call the server sent: a later function_call_output for it is a known call. */
  addFunctionCall(itemId: string, callId: string): void {
    this.knownCallIds.add(callId);
    this.addItem({ id: itemId, type: 'function_call', role: null, response: null, callId });
  }

  /** An approval request the server sent: a later `mcp_approval_response` naming it is a known request. */
  addMcpApprovalRequest(itemId: string, pending: PendingMcpApproval): void {
    this.pendingApprovals.set(itemId, pending);
    this.addItem({ id: itemId, type: 'mcp_approval_request', role: null, response: null, callId: null });
  }

  onItemCreate(event: InboundEvent, eventId: string | null, logIndex: number): void {
    const context = this.context;
    const item = event['item'] as Record<string, unknown> | undefined;
    if (item === null || typeof item !== 'object' || typeof item['type'] !== 'string') {
      context.violations.malformedEvent++;
      context.sendError(errors.missingParameterError('item', eventId));
      return;
    }
    const itemId = typeof item['id'] === 'string' ? item['id'] : context.newId('item');
    const atMs = context.sinceConnectMs();
    let stored: ConversationItem;
    let approval: McpApprovalResponseRecord | null = null;
    let pending: PendingMcpApproval | undefined;
    if (item['type'] === 'function_call_output') {
      const callId = item['call_id'];
      const output = item['output'];
      if (typeof callId !== 'string' || typeof output !== 'string') {
        context.violations.malformedEvent++;
        context.sendError(errors.missingParameterError(typeof callId !== 'string' ? 'item.call_id' : 'item.output', eventId));
        return;
      }
      this.functionCallOutputs.push({ callId, output, knownCall: this.knownCallIds.has(callId), logIndex, atMs });
      stored = { id: itemId, object: 'realtime.item', type: 'function_call_output', status: 'completed', call_id: callId, output };
    } else if (item['type'] === 'mcp_approval_response') {
      const requestId = item['approval_request_id'];
      const approve = item['approve'];
      if (typeof requestId !== 'string' || typeof approve !== 'boolean') {
        context.violations.malformedEvent++;
        context.sendError(errors.missingParameterError(typeof requestId !== 'string' ? 'item.approval_request_id' : 'item.approve', eventId));
        return;
      }
      const reason = typeof item['reason'] === 'string' ? item['reason'] : null;
      pending = this.pendingApprovals.get(requestId);
      this.pendingApprovals.delete(requestId);
      approval = { itemId, approvalRequestId: requestId, approve, reason, knownRequest: pending !== undefined, logIndex, atMs };
      this.mcpApprovalResponses.push(approval);
      stored = { id: itemId, type: 'mcp_approval_response', approval_request_id: requestId, approve, reason };
    } else if (item['type'] === 'message') {
      const role = item['role'];
      const content = Array.isArray(item['content']) ? (item['content'] as Array<Record<string, unknown>>) : [];
      if (role === 'user') {
        const text = content
          .map((part) => (typeof part['text'] === 'string' ? part['text'] : ''))
          .filter((part) => part !== '')
          .join(' ');
        this.userTextMessages.push({ itemId, text, atMs });
        stored = { id: itemId, object: 'realtime.item', type: 'message', status: 'completed', role: 'user', content: content as never };
      } else if (role === 'system') {
        stored = { id: itemId, object: 'realtime.item', type: 'message', status: 'completed', role: 'system', content: content as never };
      } else if (role === 'assistant') {
        stored = { id: itemId, object: 'realtime.item', type: 'message', status: 'completed', role: 'assistant', content: content as never };
      } else {
        context.violations.malformedEvent++;
        context.sendError(errors.invalidValueError('item.role', `Invalid value: ${JSON.stringify(role)}. Supported values are: 'user', 'assistant', and 'system'.`, eventId));
        return;
      }
    } else {
      context.violations.malformedEvent++;
      context.sendError(errors.invalidValueError('item.type', `Invalid value: ${JSON.stringify(item['type'])}. Unsupported item type for this simulator.`, eventId));
      return;
    }
    const previousItemId = this.lastItemId();
    this.addItem({ id: itemId, type: String(item['type']), role: typeof item['role'] === 'string' ? item['role'] : null, response: null, callId: null });
    context.emit({ type: 'conversation.item.added', previous_item_id: previousItemId, item: stored });
    context.emit({ type: 'conversation.item.done', previous_item_id: previousItemId, item: stored });
    if (approval !== null) this.onMcpApproval?.(approval, pending);
  }

  onItemDelete(event: InboundEvent, eventId: string | null): void {
    const itemId = event['item_id'];
    if (typeof itemId !== 'string') {
      this.context.violations.malformedEvent++;
      this.context.sendError(errors.missingParameterError('item_id', eventId));
      return;
    }
    if (!this.items.has(itemId)) {
      this.context.sendError(errors.itemNotFoundError(itemId, 'item_id', eventId));
      return;
    }
    this.items.delete(itemId);
    this.itemOrder.splice(this.itemOrder.indexOf(itemId), 1);
    this.context.emit({ type: 'conversation.item.deleted', item_id: itemId });
  }

  /**
   * Checks in the order the service validates: the field types and bounds first (schema), then the item, then the
   * audio length. Only assistant audio messages can be truncated, at content index 0, within the audio sent.
   */
  onTruncate(event: InboundEvent, eventId: string | null): void {
    const context = this.context;
    const itemId = typeof event['item_id'] === 'string' ? event['item_id'] : '';
    const audioEndMs = event['audio_end_ms'];
    const contentIndex = event['content_index'];
    const atMs = context.sinceConnectMs();
    const reject = (error: errors.SimulatedRealtimeError, sentAudioMs: number): void => {
      context.violations.truncateRejected++;
      this.truncateRecords.push({
        itemId,
        audioEndMs: typeof audioEndMs === 'number' ? audioEndMs : NaN,
        sentAudioMs,
        accepted: false,
        errorCode: error.code,
        atMs,
      });
      context.sendError(error);
    };
    if (itemId === '') return reject(errors.missingParameterError('item_id', eventId), NaN);
    if (audioEndMs === undefined) return reject(errors.missingParameterError('audio_end_ms', eventId), NaN);
    if (typeof audioEndMs !== 'number' || !Number.isInteger(audioEndMs)) return reject(errors.truncateDecimalError(eventId), NaN);
    if (audioEndMs < 0) return reject(errors.truncateNegativeError(audioEndMs, eventId), NaN);
    const item = this.items.get(itemId);
    if (item === undefined) return reject(errors.itemNotFoundError(itemId, 'item_id', eventId), NaN);
    const response = item.response;
    if (item.type !== 'message' || item.role !== 'assistant' || response === null) {
      return reject(errors.truncateNotAssistantAudioError(eventId), NaN);
    }
    const sentAudioMs = response.audioMsSent[itemId] ?? 0;
    if (contentIndex !== 0) return reject(errors.contentIndexError(contentIndex, eventId), sentAudioMs);
    if (audioEndMs > sentAudioMs) return reject(errors.truncateBeyondAudioError(Math.floor(sentAudioMs), audioEndMs), sentAudioMs);
    this.truncateRecords.push({ itemId, audioEndMs, sentAudioMs, accepted: true, atMs });
    context.emit({ type: 'conversation.item.truncated', item_id: itemId, content_index: 0, audio_end_ms: audioEndMs });
  }
}
