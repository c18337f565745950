/**
 * Prometheus metrics of the calls (`GET /metrics`): a CallObserver that counts what calls tell their observers.
 *
 * Every metric lives in this instance's own Registry, never prom-client's global one, so several servers (tests, a
 * benchmark) in one process do not collide. Names start with `callbridge_` and carry their unit (`_seconds`, `_usd`,
 * `_total` for counters).
 *
 * Labels are low-cardinality only: direction, provider, agent name (bounded by the agent file), end-reason category,
 * fault kind, tool outcome, token kind, Twilio status, answering-machine verdict, refusal reason. Values that come
 * from outside (a fault kind, a Twilio status) are checked against the known set and become `other` otherwise. A
 * callSid, a phone number, a tool name the model made up or free text never become a label.
 *
 * Cheap per event: one switch, at most one Map lookup (the live call's state, dropped when the call ends).
 * Transcript events, the most frequent, are ignored without a lookup.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { CallEvent } from '../call/call-events.js';
import type { CallSummary } from '../call/call-summary.js';
import type { CallInfo, CallObserver } from '../observers/hub.js';
import { costOf, DEFAULT_PRICES, priceFor, type PriceTable } from '../records/pricing.js';
import type { RecordWriterStats } from '../records/writer.js';
import type { TokenUsage } from '../voice/port.js';
import { END_REASON_CATEGORIES, endReasonCategory, type StreamOutcomeKind } from './end-reason.js';

/** Why the bridge refused a call before it started (the admission layer counts them with `countRefusal`). */
export const REFUSAL_REASONS = ['spend_cap', 'per_number_limit', 'blocklist', 'capacity', 'no_agent', 'draining'] as const;
export type RefusalReason = (typeof REFUSAL_REASONS)[number];

/** Caller's turn ended → first agent frame sent; response started → its first frame. Tens of ms to seconds. */
export const LATENCY_BUCKETS_S: readonly number[] = [0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10];
/** A tool's run: an HTTP call or an MCP tool, up to their timeouts. */
export const TOOL_DURATION_BUCKETS_S: readonly number[] = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30];
/** A phone call: seconds (a hang-up at the greeting) to an hour. */
export const CALL_DURATION_BUCKETS_S: readonly number[] = [5, 15, 30, 60, 120, 180, 300, 600, 900, 1800, 3600];

export const TOKEN_KINDS = ['input_text', 'input_audio', 'output_text', 'output_audio', 'cached'] as const;

const FAULT_KINDS: ReadonlySet<string> = new Set(['connect_failed', 'unauthorized', 'handshake_failed', 'connect_timeout', 'closed', 'session_expired', 'protocol']);
const RECOVERIES: ReadonlySet<string> = new Set(['fallback', 'redial', 'apologise']);
const TWILIO_STATUSES: ReadonlySet<string> = new Set(['queued', 'initiated', 'ringing', 'in-progress', 'completed', 'busy', 'no-answer', 'failed', 'canceled']);
const ANSWERED_BY: ReadonlySet<string> = new Set(['human', 'machine_start', 'machine_end_beep', 'machine_end_silence', 'machine_end_other', 'fax', 'unknown']);
const REFUSALS: ReadonlySet<string> = new Set(REFUSAL_REASONS);

function bounded(value: string, known: ReadonlySet<string>): string {
  return known.has(value) ? value : 'other';
}

export interface CallMetricsOptions {
  /** Prices for `callbridge_cost_usd_total` (config.records.prices); default the built-in list prices. */
  readonly prices?: PriceTable;
  /** Node's process metrics and event-loop lag (`callbridge_process_*`, `callbridge_nodejs_*`). Default true. */
  readonly defaultMetrics?: boolean;
  /** The records writer's counters, read at each scrape (CallRecords.stats); absent = no records metrics. */
  readonly recordStats?: () => RecordWriterStats;
  /** Whether the server is draining (refusing new calls), read at each scrape; absent = no `callbridge_draining` until `observeDraining`. */
  readonly draining?: () => boolean;
  /** MAX_CONCURRENT_CALLS, exported as `callbridge_max_concurrent_calls` to put next to the active calls. */
  readonly maxConcurrentCalls?: number;
}

/** What the observer keeps of a live call: dropped when it ends. */
interface LiveCall {
  readonly direction: 'inbound' | 'outbound' | 'browser';
  /** Counted in `callbridge_active_calls` (false for a call first heard of by an event). */
  readonly active: boolean;
  /** The provider now serving the call (a fallback changes it). */
  provider: string;
  streamOutcome: StreamOutcomeKind | null;
  twilioStatus: string | null;
  /** Responses started and not yet heard: response id → call-clock ms it started. */
  readonly responsesStarted: Map<string, number>;
}

export class CallMetrics implements CallObserver {
  readonly name = 'metrics';
  readonly registry = new Registry();
  private readonly prices: PriceTable;
  private readonly live = new Map<string, LiveCall>();
  private drainingReader: (() => boolean) | null = null;

  private readonly activeCalls: Gauge<'direction'>;
  private readonly calls: Counter<'direction' | 'provider' | 'agent' | 'end_reason'>;
  private readonly callDuration: Histogram<'direction'>;
  private readonly turnLatency: Histogram<'provider'>;
  private readonly firstAudioLatency: Histogram<'provider'>;
  private readonly turns: Counter;
  private readonly bargeIns: Counter;
  private readonly truncates: Counter;
  private readonly underruns: Counter;
  private readonly underrunSeconds: Counter;
  private readonly upstreamFaults: Counter<'kind' | 'recovery'>;
  private readonly fallbacks: Counter<'from' | 'to'>;
  private readonly toolCalls: Counter<'outcome'>;
  private readonly toolDuration: Histogram;
  private readonly tokens: Counter<'kind' | 'provider'>;
  private readonly cost: Counter<'provider'>;
  private readonly unpriced: Counter;
  private readonly transfers: Counter;
  private readonly outboundStatus: Counter<'status'>;
  private readonly answeredBy: Counter<'verdict'>;
  private readonly refusals: Counter<'reason'>;

  constructor(options: CallMetricsOptions = {}) {
    this.prices = options.prices ?? DEFAULT_PRICES;
    const registers = [this.registry];
    if (options.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry, prefix: 'callbridge_' });

    this.activeCalls = new Gauge({ name: 'callbridge_active_calls', help: 'Calls in progress (outbound: from placing the call, ringing included).', labelNames: ['direction'], registers });
    this.calls = new Counter({
      name: 'callbridge_calls_total',
      help: 'Calls ended, by direction, provider, agent and end-reason category (outbound calls that never connected included).',
      labelNames: ['direction', 'provider', 'agent', 'end_reason'],
      registers,
    });
    this.callDuration = new Histogram({ name: 'callbridge_call_duration_seconds', help: 'Length of the media stream of connected calls.', labelNames: ['direction'], buckets: [...CALL_DURATION_BUCKETS_S], registers });
    this.turnLatency = new Histogram({
      name: 'callbridge_turn_latency_seconds',
      help: "End of the caller's speech to the first agent audio frame of the answer sent to the caller.",
      labelNames: ['provider'],
      buckets: [...LATENCY_BUCKETS_S],
      registers,
    });
    this.firstAudioLatency = new Histogram({
      name: 'callbridge_first_audio_latency_seconds',
      help: 'Agent response started to its first audio frame sent to the caller.',
      labelNames: ['provider'],
      buckets: [...LATENCY_BUCKETS_S],
      registers,
    });
    this.turns = new Counter({ name: 'callbridge_turns_total', help: "Caller turns (the caller's speech ended).", registers });
    this.bargeIns = new Counter({ name: 'callbridge_barge_ins_total', help: 'Times the caller talked over the agent and cut its audio.', registers });
    this.truncates = new Counter({ name: 'callbridge_truncates_total', help: 'Agent items truncated to what the caller heard (counted when the call ends).', registers });
    this.underruns = new Counter({ name: 'callbridge_underruns_total', help: 'Times the playout to the caller ran dry mid-item (counted when the call ends).', registers });
    this.underrunSeconds = new Counter({ name: 'callbridge_underrun_seconds_total', help: 'Silence the caller heard in playout underruns (counted when the call ends).', registers });
    this.upstreamFaults = new Counter({
      name: 'callbridge_upstream_faults_total',
      help: "Provider sessions lost, by fault kind and what the call did (the provider's agent ending the conversation is not a fault).",
      labelNames: ['kind', 'recovery'],
      registers,
    });
    this.fallbacks = new Counter({ name: 'callbridge_provider_fallbacks_total', help: 'Calls moved to the fallback provider.', labelNames: ['from', 'to'], registers });
    this.toolCalls = new Counter({ name: 'callbridge_tool_calls_total', help: 'Tool calls by outcome.', labelNames: ['outcome'], registers });
    this.toolDuration = new Histogram({ name: 'callbridge_tool_call_duration_seconds', help: 'How long tool calls took.', buckets: [...TOOL_DURATION_BUCKETS_S], registers });
    this.tokens = new Counter({
      name: 'callbridge_tokens_total',
      help: 'Provider tokens by kind; input_text + input_audio = all input, cached is the part of the input billed at the cached rate.',
      labelNames: ['kind', 'provider'],
      registers,
    });
    this.cost = new Counter({ name: 'callbridge_cost_usd_total', help: 'Estimated provider cost of ended calls, USD (PRICE_TABLE).', labelNames: ['provider'], registers });
    this.unpriced = new Counter({ name: 'callbridge_unpriced_calls_total', help: 'Ended calls whose model has no price (not in callbridge_cost_usd_total).', registers });
    this.transfers = new Counter({ name: 'callbridge_transfers_total', help: 'Calls the agent transferred.', registers });
    this.outboundStatus = new Counter({ name: 'callbridge_outbound_status_total', help: "Outbound calls' Twilio status changes.", labelNames: ['status'], registers });
    this.answeredBy = new Counter({ name: 'callbridge_answered_by_total', help: "Outbound calls' answering-machine detection verdicts.", labelNames: ['verdict'], registers });
    this.refusals = new Counter({ name: 'callbridge_refusals_total', help: 'Calls refused before they started, by reason.', labelNames: ['reason'], registers });

    // Series that exist from the start, so rate() and absent() work before the first occurrence.
    for (const direction of ['inbound', 'outbound', 'browser']) this.activeCalls.set({ direction }, 0);
    for (const outcome of ['ok', 'error']) this.toolCalls.inc({ outcome }, 0);
    for (const reason of REFUSAL_REASONS) this.refusals.inc({ reason }, 0);

    const { recordStats, draining, maxConcurrentCalls } = options;
    if (recordStats !== undefined) {
      // Read at scrape time: the writer keeps the counts, this only shows them.
      const fromStats = (name: string, help: string, read: (stats: RecordWriterStats) => number): void => {
        new Counter({
          name,
          help,
          registers,
          collect() {
            this.reset();
            this.inc(read(recordStats()));
          },
        });
      };
      fromStats('callbridge_records_written_total', 'Call records the database confirmed.', (stats) => stats.written);
      fromStats('callbridge_records_dropped_total', 'Call records lost (buffer full, refused by the database, after close).', (stats) => stats.dropped);
      fromStats('callbridge_records_failed_attempts_total', 'Failed record write or open attempts (each retry counts).', (stats) => stats.failedAttempts);
      new Gauge({
        name: 'callbridge_records_pending',
        help: 'Call records waiting to be written.',
        registers,
        collect() {
          this.set(recordStats().pending);
        },
      });
    }
    if (draining !== undefined) this.observeDraining(draining);
    if (maxConcurrentCalls !== undefined) {
      new Gauge({ name: 'callbridge_max_concurrent_calls', help: 'MAX_CONCURRENT_CALLS: the calls in progress this server admits.', registers }).set(maxConcurrentCalls);
    }
  }

  /**
   * Shows `callbridge_draining` (1 while the server refuses new calls to drain), read at each scrape. For the server
   * to bind once its admission exists (the metrics are built before it); a later call replaces the reader.
   */
  observeDraining(read: () => boolean): void {
    const first = this.drainingReader === null;
    this.drainingReader = read;
    if (!first) return;
    const reader = (): boolean => this.drainingReader?.() ?? false;
    new Gauge({
      name: 'callbridge_draining',
      help: '1 while the server refuses new calls to drain (shutdown), else 0.',
      registers: [this.registry],
      collect() {
        this.set(reader() ? 1 : 0);
      },
    });
  }

  /** Prometheus' text exposition of every metric. */
  metricsText(): Promise<string> {
    return this.registry.metrics();
  }

  /** `text/plain; version=0.0.4; charset=utf-8`. */
  get contentType(): string {
    return this.registry.contentType;
  }

  /** A call refused before it started (spend cap, per-number limit, blocklist, capacity, no agent, draining). */
  countRefusal(reason: RefusalReason): void {
    this.refusals.inc({ reason: bounded(reason, REFUSALS) });
  }

  /** Calls this observer is following now (tests: proves per-call state does not outlive the call). */
  get liveCalls(): number {
    return this.live.size;
  }

  callStarted(call: CallInfo): void {
    if (this.live.has(call.callSid)) return;
    this.live.set(call.callSid, newLiveCall(call, true));
    this.activeCalls.inc({ direction: call.direction });
  }

  callEvent(call: CallInfo, event: CallEvent): void {
    switch (event.type) {
      case 'transcript':
      case 'dtmf':
        return;
      case 'turn_ended':
        this.turns.inc();
        return;
      case 'turn_latency':
        this.turnLatency.observe({ provider: this.stateOf(call).provider }, event.latencyMs / 1000);
        return;
      case 'response_started':
        this.stateOf(call).responsesStarted.set(event.responseId, event.atMs);
        return;
      case 'agent_audio_started': {
        const state = this.stateOf(call);
        const startedAtMs = state.responsesStarted.get(event.responseId);
        if (startedAtMs === undefined) return; // not the response's first item
        state.responsesStarted.delete(event.responseId);
        this.firstAudioLatency.observe({ provider: state.provider }, Math.max(0, event.atMs - startedAtMs) / 1000);
        return;
      }
      case 'response_done': {
        const state = this.stateOf(call);
        state.responsesStarted.delete(event.responseId);
        if (event.usage !== null) this.countTokens(event.usage, state.provider);
        return;
      }
      case 'barge_in':
        this.bargeIns.inc();
        return;
      case 'tool_call':
        this.toolCalls.inc({ outcome: event.ok ? 'ok' : 'error' });
        this.toolDuration.observe(Math.max(0, event.durationMs) / 1000);
        return;
      case 'fault':
        // The provider's agent ending the conversation is a normal close (CallSummary.upstreamFaults agrees).
        if (event.recovery === 'end_after_playback') return;
        this.upstreamFaults.inc({ kind: bounded(event.kind, FAULT_KINDS), recovery: bounded(event.recovery, RECOVERIES) });
        return;
      case 'provider_fallback': {
        const state = this.stateOf(call);
        this.fallbacks.inc({ from: event.from, to: event.to });
        state.provider = event.to;
        return;
      }
      case 'stream_outcome':
        this.stateOf(call).streamOutcome = event.outcome;
        if (event.outcome === 'transfer') this.transfers.inc();
        return;
      case 'call_status':
        this.stateOf(call).twilioStatus = event.status;
        this.outboundStatus.inc({ status: bounded(event.status, TWILIO_STATUSES) });
        return;
      case 'answered_by':
        this.answeredBy.inc({ verdict: bounded(event.answeredBy, ANSWERED_BY) });
        return;
    }
  }

  callEnded(call: CallInfo, summary: CallSummary): void {
    const state = this.finish(call);
    const { direction } = call;
    this.calls.inc({ direction, provider: state.provider, agent: call.agent, end_reason: endReasonCategory({ streamOutcome: state.streamOutcome, endReason: summary.endReason }) });
    this.callDuration.observe({ direction }, Math.max(0, summary.durationMs) / 1000);
    if (summary.truncates > 0) this.truncates.inc(summary.truncates);
    if (summary.underruns > 0) this.underruns.inc(summary.underruns);
    if (summary.underrunMs > 0) this.underrunSeconds.inc(summary.underrunMs / 1000);
    // Priced as the call record prices it (record-builder): by CallInfo.model, none = unpriced.
    const price = call.model === null ? null : priceFor(this.prices, call.model);
    if (price === null) this.unpriced.inc();
    else this.cost.inc({ provider: state.provider }, costOf(price.price, summary.usage, summary.durationMs));
  }

  callNotConnected(call: CallInfo): void {
    const state = this.finish(call);
    this.calls.inc({ direction: call.direction, provider: state.provider, agent: call.agent, end_reason: endReasonCategory({ twilioStatus: state.twilioStatus }) });
  }

  private stateOf(call: CallInfo): LiveCall {
    let state = this.live.get(call.callSid);
    if (state === undefined) {
      // An event of a call this observer did not see start: followed, not counted as active.
      state = newLiveCall(call, false);
      this.live.set(call.callSid, state);
    }
    return state;
  }

  private finish(call: CallInfo): LiveCall {
    const state = this.live.get(call.callSid) ?? newLiveCall(call, false);
    this.live.delete(call.callSid);
    if (state.active) this.activeCalls.dec({ direction: state.direction });
    return state;
  }

  private countTokens(usage: TokenUsage, provider: string): void {
    const counts: Record<(typeof TOKEN_KINDS)[number], number> = {
      input_text: usage.inputTokens - usage.inputAudioTokens,
      input_audio: usage.inputAudioTokens,
      output_text: usage.outputTokens - usage.outputAudioTokens,
      output_audio: usage.outputAudioTokens,
      cached: usage.cachedTokens,
    };
    for (const kind of TOKEN_KINDS) {
      const count = counts[kind];
      if (count > 0) this.tokens.inc({ kind, provider }, count);
    }
  }
}

function newLiveCall(call: CallInfo, active: boolean): LiveCall {
  return { direction: call.direction, active, provider: call.provider, streamOutcome: null, twilioStatus: null, responsesStarted: new Map() };
}

/** Every end-reason category `callbridge_calls_total` may carry (docs, dashboards). */
export { END_REASON_CATEGORIES };
