/**
 * The agent's side of the conversation: the first message, answers (agent_response, then its audio in chunks paced
 * on the server clock), scripted client tool calls, and interruptions.
 *
 * Event ids: `agent_response` and `client_tool_call` each take the next id of the conversation's counter; every
 * audio chunk of a response carries its `agent_response`'s id; `interruption` and `agent_response_correction` name
 * the interrupted response by that same id (they take no new one).
 *
 * Barge-in: when the caller starts speaking while a response is audible (playback.ts: still streaming, or sent but
 * not yet played out at 1×), the response stops and the server sends `interruption {event_id}`, then — with
 * `keepSendingAfterInterruption: N` — N more chunks with the old id (the chunks that would have come next,
 * wrapping to the first once the audio is exhausted), then `agent_response_correction` with the transcript cut at the played share.
 */
import type { TimerHandle } from '../../clock.js';
import { bytesToBase64 } from '../../audio/pcm.js';
import { renderReply, type ReplySpec } from '../realtime/replies.js';
import type { ConversationContext } from './context.js';
import { bytesToMs, chunkOffset, encodeAgentAudio } from './formats.js';
import { PlaybackLine, ResponsePlayback } from './playback.js';
import type { ElevenLabsScriptedResponse, InboundMessage, InterruptionRecord, SimulatedAgentResponse, ToolResultRecord } from './types.js';

interface AudioStream {
  record: SimulatedAgentResponse;
  audio: Uint8Array;
  bytesSent: number;
  timer: TimerHandle | null;
  /** Clock time the next chunk is due: advanced by each chunk's duration / speedFactor, never re-sampled. */
  nextDueMs: number;
  playback: ResponsePlayback;
}

export type AnswerTrigger = 'turn' | 'user_message' | 'tool_result';

export class ResponseStreamer {
  readonly responses: SimulatedAgentResponse[] = [];
  readonly toolResults: ToolResultRecord[] = [];
  readonly interruptions: InterruptionRecord[] = [];

  private readonly line = new PlaybackLine();
  private current: AudioStream | null = null;
  private pendingStart: TimerHandle | null = null;
  private readonly waitingCalls = new Map<string, SimulatedAgentResponse>();
  private scriptCursor = 0;
  private answerCount = 0;
  /** What the last tool result said: the next answer's transcript starts with it. */
  private toolOutcome: string | null = null;

  constructor(
    private readonly context: ConversationContext,
    private readonly turnsSoFar: () => number,
  ) {}

  /** A client tool call is waiting for its result: caller turns get no answer meanwhile. */
  get isWaitingForTool(): boolean {
    return this.waitingCalls.size > 0;
  }

  /** ms of agent audio sent but not yet played (the playback model's estimate). */
  bufferedMs(): number {
    return this.line.bufferedMs(this.context.clock.now());
  }

  /** The response the caller may be hearing: still streaming, or sent and not yet played out. */
  audibleResponse(): SimulatedAgentResponse | null {
    return this.audibleStream()?.record ?? null;
  }

  startFirstMessage(): void {
    if (this.context.settings().firstMessage.trim() === '') return;
    this.startAudio('first_message', this.context.agent.firstMessageReply);
  }

  /** The caller's turn ended, a user_message arrived or a tool result came back: answer after the latency. */
  scheduleAnswer(trigger: AnswerTrigger): void {
    const context = this.context;
    if (context.isClosed()) return;
    if (this.isWaitingForTool) {
      context.logger.debug({ trigger }, 'waiting for a client tool result: no answer');
      return;
    }
    if (this.pendingStart !== null) return;
    if (context.agent.responseLatencyMs <= 0) return this.startNext();
    this.pendingStart = context.clock.setTimeout(() => {
      this.pendingStart = null;
      this.startNext();
    }, context.agent.responseLatencyMs);
  }

  /** Speech onset (caller audio time): a pending answer is dropped, an audible response interrupted. */
  onCallerSpeechStarted(onsetMs: number | null): void {
    if (this.pendingStart !== null) {
      this.context.clock.clearTimeout(this.pendingStart);
      this.pendingStart = null;
    }
    const audible = this.audibleStream();
    if (audible !== null) this.interrupt(audible, onsetMs);
  }

  /** A `client_tool_result`; false when it names no waiting call. */
  onToolResult(message: InboundMessage): boolean {
    const toolCallId = String(message['tool_call_id']);
    const isError = message['is_error'] === true;
    const waiting = this.waitingCalls.get(toolCallId);
    this.toolResults.push({ toolCallId, result: message['result'], isError, knownCall: waiting !== undefined, atMs: this.context.sinceConnectMs() });
    if (waiting === undefined) return false;
    this.waitingCalls.delete(toolCallId);
    waiting.status = 'completed';
    waiting.doneAtMs = this.context.sinceConnectMs();
    const result = typeof message['result'] === 'string' ? message['result'] : JSON.stringify(message['result']);
    this.toolOutcome = isError ? `Tool ${waiting.toolName} failed: ${result}.` : `Tool ${waiting.toolName} returned: ${result}.`;
    this.scheduleAnswer('tool_result');
    return true;
  }

  stopTimers(): void {
    if (this.current?.timer != null) this.context.clock.clearTimeout(this.current.timer);
    if (this.pendingStart !== null) this.context.clock.clearTimeout(this.pendingStart);
    this.pendingStart = null;
  }

  /** The socket closed: whatever was under way ends `aborted`. */
  abort(): void {
    this.stopTimers();
    const doneAtMs = this.context.sinceConnectMs();
    for (const record of this.responses) {
      if (record.status !== 'streaming' && record.status !== 'waiting_for_tool_result') continue;
      record.status = 'aborted';
      record.doneAtMs = doneAtMs;
    }
  }

  private audibleStream(): AudioStream | null {
    const current = this.current;
    if (current === null) return null;
    if (current.record.status === 'streaming') return current;
    if (current.record.status !== 'completed') return null;
    return current.playback.endsAtMs > this.context.clock.now() ? current : null;
  }

  private startNext(): void {
    if (this.context.isClosed()) return;
    const audible = this.audibleStream();
    if (audible !== null) this.interrupt(audible, null);
    const scripted: ElevenLabsScriptedResponse = this.context.agent.script[this.scriptCursor++] ?? { kind: 'audio', reply: this.context.agent.reply };
    if (scripted.kind === 'client_tool_call') return this.startToolCall(scripted);
    this.startAudio('audio', scripted.reply);
  }

  private newRecord(kind: SimulatedAgentResponse['kind'], transcript: string): SimulatedAgentResponse {
    const record: SimulatedAgentResponse = {
      index: this.responses.length,
      kind,
      eventId: this.context.nextEventId(),
      status: 'streaming',
      transcript,
      correctedTranscript: null,
      audioMsTotal: 0,
      audioMsSent: 0,
      chunksSent: 0,
      toolCallId: null,
      toolName: null,
      afterTurnIndex: this.turnsSoFar() - 1,
      startedAtMs: this.context.sinceConnectMs(),
      doneAtMs: null,
    };
    this.responses.push(record);
    return record;
  }

  private startAudio(kind: 'first_message' | 'audio', spec: ReplySpec): void {
    const { context } = this;
    const isFirst = kind === 'first_message';
    const reply = renderReply(spec, { responseIndex: this.responses.length, answerIndex: this.answerCount, isGreeting: isFirst });
    if (!isFirst) this.answerCount++;
    let transcript = isFirst ? context.settings().firstMessage : reply.transcript;
    if (!isFirst && this.toolOutcome !== null) transcript = `${this.toolOutcome} ${transcript}`;
    if (!isFirst) this.toolOutcome = null;
    const audio = encodeAgentAudio(reply.samples24k, context.agent.output);
    const record = this.newRecord(kind, transcript);
    record.audioMsTotal = bytesToMs(context.agent.output, audio.length);
    context.emit('agent_response', { agent_response: transcript, event_id: record.eventId });
    const stream: AudioStream = {
      record,
      audio,
      bytesSent: 0,
      timer: null,
      nextDueMs: context.clock.now(),
      playback: new ResponsePlayback(),
    };
    this.current = stream;
    context.logger.debug({ index: record.index, eventId: record.eventId, audioMs: record.audioMsTotal }, 'simulated agent response started');
    this.stream(stream);
  }

  /** Sends every chunk that is due, then sleeps until the next one. */
  private stream(stream: AudioStream): void {
    const { context } = this;
    const { agent, clock } = context;
    const record = stream.record;
    stream.timer = null;
    while (this.current === stream && record.status === 'streaming' && !context.isClosed()) {
      if (stream.bytesSent >= stream.audio.length) {
        record.status = 'completed';
        record.doneAtMs = context.sinceConnectMs();
        return;
      }
      const nowMs = clock.now();
      if (stream.nextDueMs > nowMs) {
        stream.timer = clock.setTimeout(() => this.stream(stream), stream.nextDueMs - nowMs);
        return;
      }
      const chunk = this.chunkAt(stream, record.chunksSent);
      const chunkMs = bytesToMs(agent.output, chunk.length);
      stream.bytesSent += chunk.length;
      record.chunksSent++;
      record.audioMsSent = bytesToMs(agent.output, stream.bytesSent);
      this.line.schedule(stream.playback, nowMs, chunkMs);
      context.emit('audio', { audio_base_64: bytesToBase64(chunk), event_id: record.eventId });
      const fault = agent.faults.midResponse;
      if (fault !== undefined && fault.responseIndex === record.index && record.chunksSent >= fault.afterChunks) {
        context.logger.debug({ index: record.index, chunks: record.chunksSent }, 'fault: ending the conversation mid-response');
        if (fault.action === 'drop') context.terminate();
        else context.fail(fault.action);
        return;
      }
      stream.nextDueMs += chunkMs / agent.speedFactor;
    }
  }

  private interrupt(stream: AudioStream, callerOnsetMs: number | null): void {
    const { context } = this;
    const nowMs = context.clock.now();
    const record = stream.record;
    if (stream.timer !== null) context.clock.clearTimeout(stream.timer);
    stream.timer = null;
    record.status = 'interrupted';
    record.doneAtMs = context.sinceConnectMs();
    const playedMs = Math.min(stream.playback.playedMs(nowMs), record.audioMsSent);
    context.emit('interruption', { event_id: record.eventId });
    let staleChunksSent = 0;
    for (; staleChunksSent < context.agent.keepSendingAfterInterruption && !context.isClosed(); staleChunksSent++) {
      const chunk = this.chunkAt(stream, (record.chunksSent + staleChunksSent) % this.chunkCount(stream));
      context.emit('audio', { audio_base_64: bytesToBase64(chunk), event_id: record.eventId });
    }
    const words = record.transcript.split(/\s+/).filter((word) => word !== '');
    const kept = record.audioMsTotal > 0 ? Math.floor((words.length * playedMs) / record.audioMsTotal) : 0;
    record.correctedTranscript = words.slice(0, kept).join(' ');
    context.emit('agent_response_correction', {
      original_agent_response: record.transcript,
      corrected_agent_response: record.correctedTranscript,
      event_id: record.eventId,
    });
    this.line.clear(nowMs);
    this.interruptions.push({
      eventId: record.eventId,
      responseIndex: record.index,
      atMs: context.sinceConnectMs(),
      callerOnsetMs,
      sentMs: record.audioMsSent,
      playedMs,
      staleChunksSent,
    });
    context.logger.debug({ index: record.index, eventId: record.eventId, playedMs, sentMs: record.audioMsSent }, 'simulated agent response interrupted');
  }

  /** Chunk `index` of the response's audio (see `chunkOffset`). */
  private chunkAt(stream: AudioStream, index: number): Uint8Array {
    const { output, chunkMs } = this.context.agent;
    const end = Math.min(stream.audio.length, chunkOffset(output, chunkMs, index + 1));
    return stream.audio.subarray(chunkOffset(output, chunkMs, index), end);
  }

  private chunkCount(stream: AudioStream): number {
    const { output, chunkMs } = this.context.agent;
    let count = 1;
    while (chunkOffset(output, chunkMs, count) < stream.audio.length) count++;
    return count;
  }

  private startToolCall(scripted: Extract<ElevenLabsScriptedResponse, { kind: 'client_tool_call' }>): void {
    const record = this.newRecord('client_tool_call', '');
    record.status = 'waiting_for_tool_result';
    record.toolCallId = scripted.toolCallId ?? this.context.newId('toolu');
    record.toolName = scripted.toolName;
    this.waitingCalls.set(record.toolCallId, record);
    this.context.emit('client_tool_call', {
      tool_name: scripted.toolName,
      tool_call_id: record.toolCallId,
      parameters: scripted.parameters,
      event_id: record.eventId,
    });
  }
}
