/**
 * The response streamer: `response.create` and VAD-triggered responses, generated after the configured latency and
 * paced on the session clock (response.created … response.output_audio.delta … response.done), cancelled by the
 * client or interrupted by the caller's speech. Scripted function calls are sent whole, unpaced.
 */
import type {
  ConversationItem,
  RealtimeConversationItemFunctionCall,
  RealtimeResponse,
  RealtimeResponseUsage,
} from 'openai/resources/realtime/realtime';
import type { TimerHandle } from '../../clock.js';
import { bytesToBase64 } from '../../audio/pcm.js';
import type { ConversationStore } from './conversation.js';
import * as errors from './errors.js';
import { renderReply, type ScriptedResponse } from './replies.js';
import { assistantItem, encodeForOutput, responseObject, responseUsage } from './response-payloads.js';
import { formatInfo, type AudioFormatInfo } from './session-config.js';
import type { InboundEvent, ResponseCreateRequest, SessionContext, SimulatedResponseRecord } from './session-types.js';

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

  constructor(
    private readonly context: SessionContext,
    private readonly conversation: ConversationStore,
  ) {}

  /** The response being streamed, if any. */
  get activeRecord(): SimulatedResponseRecord | null {
    return this.active?.record ?? null;
  }

  get isStreaming(): boolean {
    return this.active !== null;
  }

  /** Streaming, or created and waiting out the response latency: a new response would be refused. */
  get isBusy(): boolean {
    return this.active !== null || this.pendingStart !== null;
  }

  onResponseCreate(event: InboundEvent, eventId: string | null, logIndex: number): void {
    const response = event['response'] as Record<string, unknown> | undefined;
    const instructions = response !== null && typeof response === 'object' && typeof response['instructions'] === 'string' ? response['instructions'] : null;
    const atMs = this.context.sinceConnectMs();
    if (this.active !== null || this.pendingStart !== null) {
      this.context.violations.responseCreateWhileActive++;
      this.responseCreateRequests.push({ eventId, instructions, accepted: false, logIndex, atMs });
      const activeId = this.active?.record.id ?? this.pendingResponseId ?? 'resp_pending';
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
    if (this.active === null || (targetId !== null && targetId !== this.active.record.id)) {
      this.context.violations.cancelNotActive++;
      this.context.sendError(errors.cancelNotActiveError(eventId));
      return;
    }
    this.finishAudioResponse('cancelled', 'client_cancelled');
  }

  /** The caller started speaking over the streaming response (server VAD with interrupt_response). */
  interrupt(): void {
    if (this.active !== null) this.finishAudioResponse('cancelled', 'turn_detected');
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
    if (this.active !== null) {
      this.active.record.status = 'aborted';
      this.active = null;
    }
  }

  private startResponse(trigger: 'vad' | 'client', instructions: string | null, responseId = this.context.newId('resp')): void {
    const context = this.context;
    if (context.isClosed()) return;
    const index = this.responses.length;
    const scripted: ScriptedResponse = context.settings.script[index] ?? { kind: 'audio', reply: context.settings.reply };
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
      this.runFunctionCall(record, format, scripted);
      return;
    }
    const isGreeting = trigger === 'client' && instructions !== null && committedTurns.length === 0 && index === 0;
    const reply = renderReply(scripted.reply, { responseIndex: index, answerIndex: this.answerCount, isGreeting });
    if (!isGreeting) this.answerCount++;
    const audio = encodeForOutput(reply.samples24k, format);
    record.audioMsTotal = audio.length / format.bytesPerMs;
    record.transcript = reply.transcript;
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
      words: reply.transcript.split(/\s+/).filter((word) => word !== ''),
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
    const done = this.responseObject(record, active.format, status, [item]);
    if (reason !== null) done.status_details = { type: 'cancelled', reason };
    done.usage = this.usage(record, transcript);
    context.emit({ type: 'response.done', response: done });
    context.logger.info(
      { responseId: record.id, status, reason, audioMsSent: Math.round(record.audioMsSent[record.itemId] ?? 0), deltas: record.deltasSent },
      'simulated response done',
    );
  }

  private runFunctionCall(record: SimulatedResponseRecord, format: AudioFormatInfo, scripted: Extract<ScriptedResponse, { kind: 'function_call' }>): void {
    const context = this.context;
    const callId = scripted.callId ?? context.newId('call');
    record.callId = callId;
    record.functionName = scripted.name;
    this.conversation.addFunctionCall(record.itemId, callId);
    const pending: RealtimeConversationItemFunctionCall = {
      id: record.itemId,
      object: 'realtime.item',
      type: 'function_call',
      status: 'in_progress',
      name: scripted.name,
      call_id: callId,
      arguments: '',
    };
    const ids = { response_id: record.id, item_id: record.itemId, output_index: 0, call_id: callId };
    context.emit({ type: 'response.output_item.added', response_id: record.id, output_index: 0, item: pending });
    context.emit({ type: 'conversation.item.added', previous_item_id: this.conversation.previousOf(record.itemId), item: pending });
    const pieceLength = Math.max(1, Math.ceil(scripted.arguments.length / 3));
    for (let offset = 0; offset < scripted.arguments.length; offset += pieceLength) {
      context.emit({ type: 'response.function_call_arguments.delta', ...ids, delta: scripted.arguments.slice(offset, offset + pieceLength) });
    }
    context.emit({ type: 'response.function_call_arguments.done', ...ids, name: scripted.name, arguments: scripted.arguments });
    const item: RealtimeConversationItemFunctionCall = { ...pending, status: 'completed', arguments: scripted.arguments };
    context.emit({ type: 'response.output_item.done', response_id: record.id, output_index: 0, item });
    context.emit({ type: 'conversation.item.done', previous_item_id: this.conversation.previousOf(record.itemId), item });
    record.status = 'completed';
    record.doneAtMs = context.sinceConnectMs();
    const done = this.responseObject(record, format, 'completed', [item]);
    done.usage = this.usage(record, scripted.arguments);
    context.emit({ type: 'response.done', response: done });
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
