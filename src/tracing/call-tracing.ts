/**
 * One OpenTelemetry trace per call, built from the call's observer events (see src/observers/hub.ts).
 *
 * Loaded only when tracing is configured (src/tracing/otel.ts, imported dynamically by src/index.ts): nothing here
 * runs, nor is the SDK loaded, when tracing is off.
 *
 * Span model (times are the events' own, never the time the observer heard of them):
 *
 *   call                      callStarted → callEnded / callNotConnected (root; kind SERVER inbound, CLIENT outbound)
 *   ├─ turn N                 caller's speech end (turn_ended) → first agent frame of the answer (turn_latency)
 *   │  ├─ provider response   response_started → response_done, with a `first audio` event (agent_audio_started)
 *   │  └─ tool <name>         tool_call.atMs − durationMs → tool_call.atMs (status ERROR when it failed)
 *   ├─ provider response      responses outside any turn (the greeting, a follow-up after the answer went out)
 *   └─ tool <name>            tools outside any turn
 *   root events: barge-in, transfer / stream outcome, fault, provider fallback, answered by, call status
 *
 * Phone numbers, transcripts, DTMF digits, tool arguments and outputs and fault messages are personal data or may
 * carry secrets: none of them is ever put on a span. The callSid is (it is how operators find a call).
 *
 * Memory: per live call, the open root span, at most one open turn and at most MAX_OPEN_RESPONSES response starts;
 * response and tool spans are created (with explicit start and end) and ended at once. Everything is dropped when
 * the call ends; calls never ended (an internal error) are evicted by age and by count.
 */
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Attributes, type Context, type HrTime, type Span, type Tracer } from '@opentelemetry/api';
import { systemClock, type Clock } from '../clock.js';
import type { CallEvent } from '../call/call-events.js';
import type { CallSummary, TokenUsage } from '../call/call-summary.js';
import type { CallInfo, CallObserver } from '../observers/hub.js';

/** Responses in flight per call (a provider has one or two at once): beyond this the oldest is closed as unfinished. */
const MAX_OPEN_RESPONSES = 8;
/** Twilio's call-status values a never-connected outbound call ends with that are failures (busy/no-answer are not). */
const FAILED_STATUSES = new Set(['failed']);

export interface CallTracingOptions {
  /** The clock the calls' events are read on (the app's clock): a call's end time is read on it. Default: system. */
  clock?: Clock;
  /** Live calls traced at once; beyond this the oldest is ended (`call.end_reason` = `abandoned`). Default 10 000. */
  maxLiveCalls?: number;
  /** A call not ended after this long is ended as abandoned (checked when a call starts). Default 6 h. */
  maxCallAgeMs?: number;
}

interface OpenTurn {
  readonly turn: number;
  readonly span: Span;
  readonly context: Context;
}

interface OpenResponse {
  readonly startedAtMs: number;
  /** The turn it belongs to: open when it started, or the turn its first audio answered. */
  parent: Context | null;
  firstAudio: { atMs: number; itemId: string } | null;
}

interface LiveCall {
  readonly info: CallInfo;
  readonly root: Span;
  readonly rootContext: Context;
  turn: OpenTurn | null;
  readonly responses: Map<string, OpenResponse>;
  /** The response whose first audio was published last (turn_latency follows it at once). */
  lastAudioResponseId: string | null;
  /** The latest event time seen (call clock): the call never ends before it. */
  latestAtMs: number;
  /** Last Twilio call status (outbound). */
  status: string | null;
  outcome: string | null;
}

/** HrTime of `epochMs + offsetMs`, exact to the nanosecond for fractional offsets (no 1e12-sized float sums). */
export function epochHrTime(epochMs: number, offsetMs = 0): HrTime {
  const wholeMs = Math.floor(epochMs);
  const totalNanos = (wholeMs % 1000) * 1_000_000 + Math.round((epochMs - wholeMs + offsetMs) * 1_000_000);
  const carrySeconds = Math.floor(totalNanos / 1_000_000_000);
  return [Math.floor(wholeMs / 1000) + carrySeconds, totalNanos - carrySeconds * 1_000_000_000];
}

export class CallTracing implements CallObserver {
  readonly name = 'tracing';
  private readonly live = new Map<string, LiveCall>();
  private readonly clock: Clock;
  private readonly maxLiveCalls: number;
  private readonly maxCallAgeMs: number;

  constructor(
    private readonly tracer: Tracer,
    options: CallTracingOptions = {},
  ) {
    this.clock = options.clock ?? systemClock;
    this.maxLiveCalls = options.maxLiveCalls ?? 10_000;
    this.maxCallAgeMs = options.maxCallAgeMs ?? 6 * 3_600_000;
  }

  /** Calls with an open trace (for tests and stats). */
  get liveCalls(): number {
    return this.live.size;
  }

  callStarted(info: CallInfo): void {
    this.evictStale();
    // The same call announced again (a new stream after a failed transfer): its earlier trace ends here.
    const earlier = this.live.get(info.callSid);
    if (earlier !== undefined) this.abandon(earlier, 'restarted');
    const attributes: Attributes = {
      'call.sid': info.callSid,
      'call.direction': info.direction,
      'call.agent': info.agent,
      'call.provider': info.provider,
    };
    if (info.model !== null) attributes['call.model'] = info.model;
    const root = this.tracer.startSpan('call', { root: true, kind: info.direction === 'inbound' ? SpanKind.SERVER : SpanKind.CLIENT, attributes, startTime: epochHrTime(info.startedAtEpochMs) });
    this.live.set(info.callSid, {
      info,
      root,
      rootContext: trace.setSpan(ROOT_CONTEXT, root),
      turn: null,
      responses: new Map(),
      lastAudioResponseId: null,
      latestAtMs: info.clockStartMs,
      status: null,
      outcome: null,
    });
  }

  callEvent(info: CallInfo, event: CallEvent): void {
    const call = this.live.get(info.callSid);
    if (call === undefined) return;
    if (event.atMs > call.latestAtMs) call.latestAtMs = event.atMs;
    const at = (atMs: number) => this.hr(call, atMs);
    switch (event.type) {
      case 'turn_ended': {
        // Only the latest turn awaits an answer (TurnLatencyMeter): an earlier one still open was never answered.
        if (call.turn !== null) this.endTurn(call, event.atMs, null);
        const span = this.tracer.startSpan(`turn ${event.turn}`, { attributes: { 'turn.number': event.turn }, startTime: at(event.atMs) }, call.rootContext);
        call.turn = { turn: event.turn, span, context: trace.setSpan(ROOT_CONTEXT, span) };
        return;
      }
      case 'turn_latency': {
        const response = call.lastAudioResponseId === null ? undefined : call.responses.get(call.lastAudioResponseId);
        if (call.turn !== null && call.turn.turn === event.turn) {
          if (response !== undefined && response.parent === null) response.parent = call.turn.context;
          this.endTurn(call, event.atMs, event.latencyMs);
          return;
        }
        // A turn whose start this observer missed: its span is whole from the event alone.
        const span = this.tracer.startSpan(`turn ${event.turn}`, { attributes: { 'turn.number': event.turn }, startTime: at(event.atMs - event.latencyMs) }, call.rootContext);
        span.setAttributes({ 'turn.answered': true, 'turn.latency_ms': event.latencyMs });
        span.end(at(event.atMs));
        return;
      }
      case 'response_started': {
        if (call.responses.size >= MAX_OPEN_RESPONSES) {
          const [oldestId, oldest] = call.responses.entries().next().value as [string, OpenResponse];
          this.emitResponse(call, oldestId, oldest, event.atMs, 'unfinished', null);
        }
        call.responses.set(event.responseId, { startedAtMs: event.atMs, parent: call.turn?.context ?? null, firstAudio: null });
        return;
      }
      case 'agent_audio_started': {
        const response = call.responses.get(event.responseId);
        if (response !== undefined && response.firstAudio === null) response.firstAudio = { atMs: event.atMs, itemId: event.itemId };
        call.lastAudioResponseId = event.responseId;
        return;
      }
      case 'response_done': {
        const response = call.responses.get(event.responseId);
        if (response === undefined) return;
        this.emitResponse(call, event.responseId, response, event.atMs, event.status, event.usage);
        return;
      }
      case 'tool_call': {
        const parent = call.turn?.context ?? call.rootContext;
        const span = this.tracer.startSpan(
          `tool ${event.name}`,
          {
            kind: SpanKind.INTERNAL,
            attributes: { 'gen_ai.tool.name': event.name, 'gen_ai.tool.call.id': event.callId, 'tool.ok': event.ok, 'tool.duration_ms': event.durationMs },
            startTime: at(event.atMs - event.durationMs),
          },
          parent,
        );
        if (!event.ok) span.setStatus({ code: SpanStatusCode.ERROR, message: 'the tool failed' });
        span.end(at(event.atMs));
        return;
      }
      case 'barge_in': {
        const heardMs = event.heard.reduce((sum, share) => sum + share.heardMs, 0);
        call.root.addEvent('barge-in', { 'barge_in.items': event.heard.length, 'barge_in.heard_ms': Math.round(heardMs) }, at(event.atMs));
        return;
      }
      case 'stream_outcome': {
        call.outcome = event.outcome;
        const attributes: Attributes = { 'outcome.kind': event.outcome, 'outcome.reason': event.reason };
        if (event.destination !== undefined) attributes['transfer.destination'] = event.destination;
        call.root.addEvent(event.outcome === 'transfer' ? 'transfer' : 'stream outcome', attributes, at(event.atMs));
        return;
      }
      case 'fault':
        // The message stays in the logs (which redact secrets): provider errors may quote anything.
        call.root.addEvent('fault', { 'fault.kind': event.kind, 'fault.recovery': event.recovery }, at(event.atMs));
        return;
      case 'provider_fallback':
        call.root.setAttribute('call.fallback_provider', event.to);
        call.root.addEvent('provider fallback', { 'fallback.from': event.from, 'fallback.to': event.to, 'fault.kind': event.fault }, at(event.atMs));
        return;
      case 'answered_by':
        call.root.setAttributes({ 'call.answered_by': event.answeredBy });
        call.root.addEvent('answered by', { 'answered_by.verdict': event.answeredBy, 'answered_by.action': event.action }, at(event.atMs));
        return;
      case 'call_status':
        call.status = event.status;
        call.root.addEvent('call status', { 'call.status': event.status }, at(event.atMs));
        return;
      case 'transcript':
      case 'dtmf':
        // Personal data (what was said, what was keyed): never on a span.
        return;
    }
  }

  callEnded(info: CallInfo, summary: CallSummary): void {
    const call = this.live.get(info.callSid);
    if (call === undefined) return;
    const { usage } = summary;
    call.root.setAttributes({
      'call.connected': true,
      'call.end_reason': summary.endReason,
      'call.duration_ms': summary.durationMs,
      'call.turns': summary.turns,
      'call.responses': summary.responses,
      'call.barge_ins': summary.bargeIns,
      'call.upstream_faults': summary.upstreamFaults,
      'call.tokens.input': usage.inputTokens,
      'call.tokens.output': usage.outputTokens,
      'call.tokens.input_audio': usage.inputAudioTokens,
      'call.tokens.output_audio': usage.outputAudioTokens,
      'call.tokens.cached': usage.cachedTokens,
    });
    if (call.outcome !== null) call.root.setAttribute('call.outcome', call.outcome);
    if (call.status !== null) call.root.setAttribute('call.status', call.status);
    if (call.outcome === 'upstream_lost') call.root.setStatus({ code: SpanStatusCode.ERROR, message: summary.endReason });
    this.finish(call);
  }

  callNotConnected(info: CallInfo): void {
    const call = this.live.get(info.callSid);
    if (call === undefined) return;
    call.root.setAttributes({ 'call.connected': false, 'call.end_reason': 'not connected' });
    if (call.status !== null) {
      call.root.setAttribute('call.status', call.status);
      if (FAILED_STATUSES.has(call.status)) call.root.setStatus({ code: SpanStatusCode.ERROR, message: `call ${call.status}` });
    }
    this.finish(call);
  }

  private hr(call: LiveCall, atMs: number): HrTime {
    return epochHrTime(call.info.startedAtEpochMs, atMs - call.info.clockStartMs);
  }

  private endTurn(call: LiveCall, atMs: number, latencyMs: number | null): void {
    const turn = call.turn;
    if (turn === null) return;
    call.turn = null;
    if (latencyMs === null) turn.span.setAttribute('turn.answered', false);
    else turn.span.setAttributes({ 'turn.answered': true, 'turn.latency_ms': latencyMs });
    turn.span.end(this.hr(call, atMs));
  }

  private emitResponse(call: LiveCall, responseId: string, response: OpenResponse, endAtMs: number, status: string, usage: TokenUsage | null): void {
    call.responses.delete(responseId);
    if (call.lastAudioResponseId === responseId) call.lastAudioResponseId = null;
    const attributes: Attributes = { 'gen_ai.response.id': responseId, 'response.status': status };
    if (usage !== null) {
      attributes['gen_ai.usage.input_tokens'] = usage.inputTokens;
      attributes['gen_ai.usage.output_tokens'] = usage.outputTokens;
    }
    if (response.firstAudio !== null) attributes['response.first_audio_ms'] = Math.round(response.firstAudio.atMs - response.startedAtMs);
    const span = this.tracer.startSpan('provider response', { kind: SpanKind.CLIENT, attributes, startTime: this.hr(call, response.startedAtMs) }, response.parent ?? call.rootContext);
    if (response.firstAudio !== null) span.addEvent('first audio', { 'item.id': response.firstAudio.itemId }, this.hr(call, response.firstAudio.atMs));
    if (status === 'failed') span.setStatus({ code: SpanStatusCode.ERROR, message: 'response failed' });
    span.end(this.hr(call, Math.max(endAtMs, response.startedAtMs)));
  }

  /** Closes what is still open at the call's end (by default read on the clock, never before the last event), drops it. */
  private finish(call: LiveCall, endAtMs = Math.max(this.clock.now(), call.latestAtMs)): void {
    this.live.delete(call.info.callSid);
    if (call.turn !== null) this.endTurn(call, endAtMs, null);
    for (const [responseId, response] of [...call.responses]) this.emitResponse(call, responseId, response, endAtMs, 'unfinished', null);
    call.root.end(this.hr(call, endAtMs));
  }

  /** A call whose end will not come (or came as a new start): it ended, as far as anyone knows, at its last event. */
  private abandon(call: LiveCall, reason: string): void {
    call.root.setAttributes({ 'call.end_reason': reason, 'call.abandoned': true });
    this.finish(call, call.latestAtMs);
  }

  /** Calls whose end never came (the call failed internally): ended by age, then by count, oldest first. */
  private evictStale(): void {
    const now = this.clock.now();
    for (const call of this.live.values()) {
      const old = now - call.info.clockStartMs > this.maxCallAgeMs;
      if (!old && this.live.size < this.maxLiveCalls) break;
      this.abandon(call, 'abandoned');
    }
  }
}
