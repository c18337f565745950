/**
 * The response streamer: `response.create` and VAD-triggered responses, generated after the configured latency and
 * paced on the session clock (response.created … response.output_audio.delta … response.done), cancelled by the
 * client or interrupted by the caller's speech. Scripted function calls are sent whole, unpaced (function-calls.ts);
 * scripted MCP calls run in mcp-calls.ts and keep the response active until the MCP server has answered.
 */
import type { ConversationItem, RealtimeResponse, RealtimeResponseUsage } from 'openai/resources/realtime/realtime';
import type { TimerHandle } from '../../clock.js';
import { bytesToBase64 } from '../../audio/pcm.js';
import type { ConversationStore, PendingMcpApproval } from './conversation.js';
import * as errors from './errors.js';
import { emitFunctionCall } from './function-calls.js';
import type { McpCallPlan, McpCalls } from './mcp-calls.js';
import { renderReply, type ScriptedResponse } from './replies.js';
import { assistantItem, encodeForOutput, responseObject, responseUsage } from './response-payloads.js';
import { formatInfo, type AudioFormatInfo } from './session-config.js';
import type { InboundEvent, McpApprovalResponseRecord, ResponseCreateRequest, SessionContext, SimulatedResponseRecord } from './session-types.js';

interface ActiveResponse {
  record: SimulatedResponseRecord;
  format: AudioFormatInfo;
  audio: Uint8Array;
  bytesSent: number;
  words: string[];
  wordsSent: number;
  timer: TimerHandle | null;
  /** Clock time at which the next delta is due; advanced by each delta's duration / speedFactor, never re-sampled. */
  nextDueMs: number;
}

export class ResponseStreamer {
  readonly responses: SimulatedResponseRecord[] = [];
  readonly responseCreateRequests: ResponseCreateRequest[] = [];

  private active: ActiveResponse | null = null;
  private pendingStart: TimerHandle | null = null;
  private pendingResponseId: string | null = null;
  private answerCount = 0;
  /** Next `script` entry to use: responses that carry out an approved MCP call take none. */
  private scriptCursor = 0;
  /** A response waiting on the MCP server (it stays active until the call is done). */
  private mcpInFlight: SimulatedResponseRecord | null = null;
  /** Approved MCP calls the next responses make, in approval order. */
  private readonly approvedCalls: McpCallPlan[] = [];

  constructor(
    private readonly context: SessionContext,
    private readonly conversation: ConversationStore,
    private readonly mcp: McpCalls,
  ) {}

  /** The response being streamed, if any. */
  get activeRecord(): SimulatedResponseRecord | null {
    return this.active?.record ?? this.mcpInFlight;
  }

  /** A response is in progress (streaming audio, or waiting on an MCP call): the caller's speech interrupts it. */
  get isStreaming(): boolean {
    return this.active !== null || this.mcpInFlight !== null;
  }

  /** In progress, or created and waiting out the response latency: a new response would be refused. */
  get isBusy(): boolean {
    return this.isStreaming || this.pendingStart !== null;
  }

  onResponseCreate(event: InboundEvent, eventId: string | null, logIndex: number): void {
    const response = event['response'] as Record<string, unknown> | undefined;
    const instructions = response !== null && typeof response === 'object' && typeof response['instructions'] === 'string' ? response['instructions'] : null;
    const atMs = this.context.sinceConnectMs();
    if (this.isBusy) {
      this.context.violations.responseCreateWhileActive++;
      this.responseCreateRequests.push({ eventId, instructions, accepted: false, logIndex, atMs });
      const activeId = this.activeRecord?.id ?? this.pendingResponseId ?? 'resp_pending';
      this.context.sendError(errors.activeResponseError(activeId, eventId));
      return;
    }
    this.responseCreateRequests.push({ eventId, instructions, accepted: true, logIndex, atMs });
    this.schedule('client', instructions);
  }

  onResponseCancel(event: InboundEvent, eventId: string | null): void {
    const targetId = typeof event['response_id'] === 'string' ? event['response_id'] : null;
    if (this.pendingStart !== null && (targetId === null || targetId === this.pendingResponseId)) {
      // Cancelled before it produced anything: it never existed for the client.
      this.context.clock.clearTimeout(this.pendingStart);
      this.pendingStart = null;
      this.pendingResponseId = null;
      return;
    }
    const active = this.activeRecord;
    if (active === null || (targetId !== null && targetId !== active.id)) {
      this.context.violations.cancelNotActive++;
      this.context.sendError(errors.cancelNotActiveError(eventId));
      return;
    }
    this.interrupt('client_cancelled');
  }

  /** The caller started speaking over the response (server VAD with interrupt_response), or the client cancelled it. */
  interrupt(reason: 'turn_detected' | 'client_cancelled' = 'turn_detected'): void {
    if (this.active !== null) this.finishAudioResponse('cancelled', reason);
    const record = this.mcpInFlight;
    if (record === null) return;
    // The MCP call may still be under way; its result is dropped (mcp-calls.ts sees the status).
    this.mcpInFlight = null;
    this.sendDone(record, 'cancelled', [], reason, '');
  }

  /** An `mcp_approval_response`: an approval of a pending request starts a response that makes the call. */
  onMcpApproval(approval: McpApprovalResponseRecord, pending: PendingMcpApproval | undefined): void {
    if (!approval.approve || pending === undefined) return;
    this.approvedCalls.push({ ...pending, approvalRequestId: approval.approvalRequestId });
    // Busy: the next response to start (the client's or VAD's) makes the call.
    if (!this.isBusy) this.schedule('client', null);
  }

  schedule(trigger: 'vad' | 'client', instructions: string | null): void {
    if (this.context.settings.responseLatencyMs <= 0) {
      this.startResponse(trigger, instructions);
      return;
    }
    this.pendingResponseId = this.context.newId('resp');
    const responseId = this.pendingResponseId;
    this.pendingStart = this.context.clock.setTimeout(() => {
      this.pendingStart = null;
      this.pendingResponseId = null;
      this.startResponse(trigger, instructions, responseId);
    }, this.context.settings.responseLatencyMs);
  }

  stopTimers(): void {
    if (this.active?.timer != null) this.context.clock.clearTimeout(this.active.timer);
    if (this.pendingStart !== null) this.context.clock.clearTimeout(this.pendingStart);
    this.pendingStart = null;
  }

  /** The socket closed: a response mid-stream ends `aborted`, with no events (there is no one to send them to). */
  abort(): void {
    for (const record of [this.active?.record, this.mcpInFlight]) if (record !== undefined && record !== null) record.status = 'aborted';
    this.active = null;
    this.mcpInFlight = null;
  }

  private startResponse(trigger: 'vad' | 'client', instructions: string | null, responseId = this.context.newId('resp')): void {
    const context = this.context;
    if (context.isClosed()) return;
    const index = this.responses.length;
    const approved = this.approvedCalls.shift();
    const scripted: ScriptedResponse =
      approved !== undefined ? { kind: 'mcp_call', ...approved } : (context.settings.script[this.scriptCursor++] ?? { kind: 'audio', reply: context.settings.reply });
    const committedTurns = this.conversation.committedTurns;
    const record: SimulatedResponseRecord = {
      id: responseId,
      index,
      trigger,
      kind: scripted.kind,
      status: 'in_progress',
      cancelReason: null,
      itemId: context.newId('item'),
      audioMsSent: {},
      audioMsTotal: 0,
      deltasSent: 0,
      instructions,
      afterTurnIndex: committedTurns.length - 1,
      transcript: '',
      callId: null,
      functionName: null,
      createdAtMs: context.sinceConnectMs(),
      doneAtMs: null,
    };
    this.responses.push(record);
    const format = formatInfo(context.sessionObject().audio?.output?.format);
    context.emit({ type: 'response.created', response: this.responseObject(record, format, 'in_progress', []) });
    if (scripted.kind === 'function_call') {
      this.sendDone(record, 'completed', [emitFunctionCall(context, this.conversation, record, scripted)], null, scripted.arguments, format);
      return;
    }
    if (scripted.kind === 'mcp_call') {
      this.runMcpCall(record, approved ?? { ...scripted, approvalRequestId: null });
      return;
    }
    const isGreeting = trigger === 'client' && instructions !== null && committedTurns.length === 0 && index === 0;
    const reply = renderReply(scripted.reply, { responseIndex: index, answerIndex: this.answerCount, isGreeting });
    if (!isGreeting) this.answerCount++;
    const audio = encodeForOutput(reply.samples24k, format);
    record.audioMsTotal = audio.length / format.bytesPerMs;
    // What MCP tools returned reached the model: its answer says so first.
    const toolResults = this.mcp.takeResults();
    record.transcript = toolResults === null ? reply.transcript : `${toolResults} ${reply.transcript}`;
    record.audioMsSent[record.itemId] = 0;
    this.conversation.addItem({ id: record.itemId, type: 'message', role: 'assistant', response: record, callId: null });
    const item = assistantItem(record.itemId, 'in_progress', []);
    context.emit({ type: 'response.output_item.added', response_id: record.id, output_index: 0, item });
    context.emit({ type: 'conversation.item.added', previous_item_id: this.conversation.previousOf(record.itemId), item });
    context.emit({
      type: 'response.content_part.added',
      response_id: record.id,
      item_id: record.itemId,
      output_index: 0,
      content_index: 0,
      part: { type: 'audio', transcript: '' },
    });
    this.active = {
      record,
      format,
      audio,
      bytesSent: 0,
      words: record.transcript.split(/\s+/).filter((word) => word !== ''),
      wordsSent: 0,
      timer: null,
      nextDueMs: context.clock.now(),
    };
    context.logger.debug({ responseId: record.id, trigger, audioMs: record.audioMsTotal }, 'response started');
    this.streamAudio(this.active);
  }

  /**
   * Sends every delta that is due, then sleeps until the next one. Deltas are due at start + (audio before them) /
   * speedFactor: the schedule is advanced by audio duration, never re-sampled from the clock, so timer lateness
   * does not accumulate into drift.
   */
  private streamAudio(active: ActiveResponse): void {
    const context = this.context;
    active.timer = null;
    const deltaBytes = Math.max(1, context.settings.deltaBytes);
    while (this.active === active && !context.isClosed()) {
      if (active.bytesSent >= active.audio.length) {
        this.finishAudioResponse('completed', null);
        return;
      }
      if (active.nextDueMs > context.clock.now()) {
        active.timer = context.clock.setTimeout(() => this.streamAudio(active), active.nextDueMs - context.clock.now());
        return;
      }
      const chunk = active.audio.subarray(active.bytesSent, Math.min(active.audio.length, active.bytesSent + deltaBytes));
      active.bytesSent += chunk.length;
      const record = active.record;
      record.deltasSent++;
      record.audioMsSent[record.itemId] = active.bytesSent / active.format.bytesPerMs;
      context.emit({
        type: 'response.output_audio.delta',
        response_id: record.id,
        item_id: record.itemId,
        output_index: 0,
        content_index: 0,
        delta: bytesToBase64(chunk),
      });
      const wordsDue = Math.ceil((active.words.length * active.bytesSent) / active.audio.length);
      if (wordsDue > active.wordsSent) {
        const text = active.words.slice(active.wordsSent, wordsDue).join(' ');
        context.emit({
          type: 'response.output_audio_transcript.delta',
          response_id: record.id,
          item_id: record.itemId,
          output_index: 0,
          content_index: 0,
          delta: active.wordsSent === 0 ? text : ` ${text}`,
        });
        active.wordsSent = wordsDue;
      }
      const limit = context.settings.closeMidResponseAfterDeltas;
      if (limit !== null && record.deltasSent >= limit) {
        context.logger.debug({ responseId: record.id, deltas: record.deltasSent }, 'fault: dropping the connection mid-response');
        context.terminate();
        return;
      }
      active.nextDueMs += chunk.length / active.format.bytesPerMs / context.settings.speedFactor;
    }
  }

  /** Closes the audio response's open parts in the GA order and sends `response.done`. */
  private finishAudioResponse(status: 'completed' | 'cancelled', reason: 'turn_detected' | 'client_cancelled' | null): void {
    const context = this.context;
    const active = this.active;
    if (active === null) return;
    this.active = null;
    if (active.timer !== null) context.clock.clearTimeout(active.timer);
    const record = active.record;
    record.status = status;
    record.cancelReason = reason;
    record.doneAtMs = context.sinceConnectMs();
    // A cancelled response's transcript is what was generated with the audio sent, no more.
    const transcript = status === 'completed' ? record.transcript : active.words.slice(0, active.wordsSent).join(' ');
    const ids = { response_id: record.id, item_id: record.itemId, output_index: 0, content_index: 0 };
    context.emit({ type: 'response.output_audio.done', ...ids });
    context.emit({ type: 'response.output_audio_transcript.done', ...ids, transcript });
    context.emit({ type: 'response.content_part.done', ...ids, part: { type: 'audio', transcript } });
    const item = assistantItem(record.itemId, status === 'completed' ? 'completed' : 'incomplete', [{ type: 'output_audio', transcript }]);
    context.emit({ type: 'response.output_item.done', response_id: record.id, output_index: 0, item });
    context.emit({ type: 'conversation.item.done', previous_item_id: this.conversation.previousOf(record.itemId), item });
    this.sendDone(record, status, [item], reason, transcript, active.format);
    context.logger.info(
      { responseId: record.id, status, reason, audioMsSent: Math.round(record.audioMsSent[record.itemId] ?? 0), deltas: record.deltasSent },
      'simulated response done',
    );
  }

  /** The response stays active until mcp-calls.ts has its output item (after the MCP server answered). */
  private runMcpCall(record: SimulatedResponseRecord, plan: McpCallPlan): void {
    this.mcpInFlight = record;
    const finish = (item: ConversationItem | null): void => {
      if (this.mcpInFlight !== record) return; // cancelled or aborted meanwhile: response.done was sent (or not needed)
      this.mcpInFlight = null;
      this.sendDone(record, 'completed', item === null ? [] : [item], null, plan.arguments);
    };
    this.mcp.run(record, plan).then(finish, (error: unknown) => {
      this.context.logger.debug({ err: error, responseId: record.id }, 'simulated MCP call threw');
      finish(null);
    });
  }

  /** Settles the record (status, cancel reason, done time) and sends `response.done` with usage and the cancel reason. */
  private sendDone(
    record: SimulatedResponseRecord,
    status: 'completed' | 'cancelled',
    output: ConversationItem[],
    reason: 'turn_detected' | 'client_cancelled' | null,
    outputText: string,
    format = formatInfo(this.context.sessionObject().audio?.output?.format),
  ): void {
    record.status = status;
    if (reason !== null) record.cancelReason = reason;
    record.doneAtMs ??= this.context.sinceConnectMs();
    const done = this.responseObject(record, format, status, output);
    if (reason !== null) done.status_details = { type: 'cancelled', reason };
    done.usage = this.usage(record, outputText);
    this.context.emit({ type: 'response.done', response: done });
  }

  private responseObject(
    record: SimulatedResponseRecord,
    format: AudioFormatInfo,
    status: 'in_progress' | 'completed' | 'cancelled',
    output: ConversationItem[],
  ): RealtimeResponse {
    return responseObject(record, format, status, output, this.context.conversationId, this.context.sessionObject());
  }

  private usage(record: SimulatedResponseRecord, outputText: string): RealtimeResponseUsage {
    const { userTextMessages, committedAudioMs } = this.conversation;
    return responseUsage(record, outputText, { sessionInstructions: this.context.sessionObject().instructions, userTextMessages, committedAudioMs });
  }
}
