/**
 * Builds one call's record from what its observers saw: the CallInfo, every live event and the summary. Pure (no
 * clock, no I/O): the records observer feeds it and hands the result to the writer.
 *
 * The transcript is the one the caller heard: an agent answer they talked over is cut to the share of its audio they
 * heard (at a word boundary), or replaced by the provider's own correction (`asHeard`), and marked interrupted.
 */
import type { CallEvent, HeardShare } from '../call/call-events.js';
import { emptySummary, type CallSummary } from '../call/call-summary.js';
import type { CallInfo } from '../observers/hub.js';
import { cutAtWord } from '../voice/transcript-cut.js';
import { costOf, priceFor, type PriceTable } from './pricing.js';
import type { Redactor } from './redact.js';
import type { CallRecord, RecordEvent, RecordingInfo, ResponseRecord, TranscriptLine, TurnRecord } from './types.js';

export interface RecordContext {
  info: CallInfo;
  /** The call clock's reading at `info.startedAtEpochMs`: event times are made relative to it. */
  clockStartMs: number;
  /** The model that served the call (prices it); null = unknown. */
  model: string | null;
  prices: PriceTable;
  redactor: Redactor;
  recording: RecordingInfo | null;
  endedAtEpochMs: number;
}

interface Spoken {
  speaker: 'caller' | 'agent';
  itemId: string;
  text: string;
  final: boolean;
  /** Replaced by the provider's correction: already what the caller heard. */
  asHeard: boolean;
  /** Earlier final text the correction replaced. */
  before: string | null;
  atMs: number;
}

export function buildCallRecord(context: RecordContext, events: readonly CallEvent[], summary: CallSummary | null): CallRecord {
  const { info } = context;
  const rel = (atMs: number) => Math.round(atMs - context.clockStartMs);
  const usage = summary?.usage ?? { inputTokens: 0, outputTokens: 0, inputAudioTokens: 0, outputAudioTokens: 0, cachedTokens: 0 };
  const durationMs = summary?.durationMs ?? Math.max(0, context.endedAtEpochMs - info.startedAtEpochMs);
  const finalStatus = [...events].reverse().find((event) => event.type === 'call_status')?.status ?? null;
  const priced = context.model === null ? null : priceFor(context.prices, context.model);
  const { callSid: _callSid, streamSid: _streamSid, endReason, usage: _usage, durationMs: _duration, ...counters } = summary ?? emptySummary();
  return {
    callSid: info.callSid,
    streamSid: info.streamSid === '' ? null : info.streamSid,
    direction: info.direction,
    from: info.from,
    to: info.to,
    agent: info.agent,
    provider: info.provider,
    model: context.model,
    startedAtEpochMs: info.startedAtEpochMs,
    answeredAtEpochMs: answeredAtOf(context, events, summary),
    endedAtEpochMs: context.endedAtEpochMs,
    durationMs,
    endReason: summary === null ? (finalStatus ?? 'not answered') : endReason,
    finalStatus,
    answeredBy: [...events].reverse().find((event) => event.type === 'answered_by')?.answeredBy ?? null,
    transcript: transcriptOf(events, rel),
    turns: turnsOf(events, rel),
    responses: responsesOf(events, rel),
    events: otherEventsOf(events, rel, context.redactor),
    usage: { ...usage },
    cost: { totalUsd: priced === null ? 0 : costOf(priced.price, usage, durationMs), priceModel: priced?.key ?? null },
    recording: context.recording,
    counters,
  };
}

/**
 * Inbound: the stream's start is the answer (the record starts there). Outbound: Twilio's `in-progress` status, or
 * failing that the first agent audio; never answered = null.
 */
function answeredAtOf(context: RecordContext, events: readonly CallEvent[], summary: CallSummary | null): number | null {
  const { info } = context;
  if (info.direction === 'inbound') return summary === null ? null : info.startedAtEpochMs;
  const answered = events.find((event) => event.type === 'call_status' && event.status === 'in-progress') ?? events.find((event) => event.type === 'agent_audio_started');
  return answered === undefined ? null : Math.round(info.startedAtEpochMs + answered.atMs - context.clockStartMs);
}

function transcriptOf(events: readonly CallEvent[], rel: (atMs: number) => number): TranscriptLine[] {
  const spoken = new Map<string, Spoken>();
  const heard = new Map<string, HeardShare>();
  const firstAudioAt = new Map<string, number>();
  const turnEnds: number[] = [];
  for (const event of events) {
    switch (event.type) {
      case 'transcript': {
        const key = `${event.speaker}:${event.itemId}`;
        const known = spoken.get(key);
        if (known === undefined) {
          spoken.set(key, { speaker: event.speaker, itemId: event.itemId, text: event.text, final: event.final, asHeard: event.asHeard === true, before: null, atMs: event.atMs });
        } else if (event.final) {
          // A later final line replaces (a correction); deltas only count until the final text arrives.
          const before = known.final && known.text !== event.text ? known.text : known.before;
          Object.assign(known, { text: event.text, final: true, asHeard: known.asHeard || event.asHeard === true, before });
        } else if (!known.final) {
          known.text += event.text;
        }
        break;
      }
      case 'barge_in':
        for (const share of event.heard) if (!heard.has(share.itemId)) heard.set(share.itemId, share);
        break;
      case 'agent_audio_started':
        if (!firstAudioAt.has(event.itemId)) firstAudioAt.set(event.itemId, event.atMs);
        break;
      case 'turn_ended':
        turnEnds.push(event.atMs);
        break;
      default:
        break;
    }
  }
  const lines: Array<Omit<TranscriptLine, 'seq'>> = [];
  for (const line of spoken.values()) {
    if (line.speaker === 'caller') {
      // A caller's words belong where their turn ended: the last turn end at or before the transcript arrived.
      const turnEnd = [...turnEnds].reverse().find((endMs) => endMs <= line.atMs) ?? line.atMs;
      lines.push({ atMs: rel(turnEnd), speaker: 'caller', itemId: line.itemId, text: line.text.trim(), interrupted: false, heardMs: null, fullText: null });
      continue;
    }
    const atMs = rel(firstAudioAt.get(line.itemId) ?? line.atMs);
    const share = heard.get(line.itemId);
    if (line.asHeard) {
      lines.push({ atMs, speaker: 'agent', itemId: line.itemId, text: line.text.trim(), interrupted: true, heardMs: share?.heardMs ?? null, fullText: line.before });
    } else if (share !== undefined && share.heardMs < share.audioMs) {
      const text = cutAtWord(line.text.trim(), share.audioMs > 0 ? share.heardMs / share.audioMs : 0);
      lines.push({ atMs, speaker: 'agent', itemId: line.itemId, text, interrupted: true, heardMs: share.heardMs, fullText: line.text.trim() });
    } else if (firstAudioAt.has(line.itemId)) {
      lines.push({ atMs, speaker: 'agent', itemId: line.itemId, text: line.text.trim(), interrupted: false, heardMs: null, fullText: null });
    }
    // An agent item none of whose audio reached the caller was never heard: it is not in the transcript.
  }
  return lines
    .filter((line) => line.text !== '' || line.interrupted)
    .sort((a, b) => a.atMs - b.atMs)
    .map((line, seq) => ({ seq, ...line }));
}

function turnsOf(events: readonly CallEvent[], rel: (atMs: number) => number): TurnRecord[] {
  const turns = new Map<number, { callerStoppedAtMs: number; firstAudioAtMs: number | null; latencyMs: number | null }>();
  for (const event of events) {
    if (event.type === 'turn_ended') turns.set(event.turn, { callerStoppedAtMs: rel(event.atMs), firstAudioAtMs: null, latencyMs: null });
    if (event.type === 'turn_latency') {
      const turn = turns.get(event.turn);
      if (turn !== undefined) Object.assign(turn, { firstAudioAtMs: rel(event.atMs), latencyMs: Math.round(event.latencyMs) });
    }
  }
  return [...turns.entries()].sort(([a], [b]) => a - b).map(([turn, fields]) => ({ turn, ...fields }));
}

function responsesOf(events: readonly CallEvent[], rel: (atMs: number) => number): ResponseRecord[] {
  const responses = new Map<string, { startedAtMs: number; firstAudioAtMs: number | null; status: string | null }>();
  for (const event of events) {
    if (event.type === 'response_started') responses.set(event.responseId, { startedAtMs: event.atMs, firstAudioAtMs: null, status: null });
    const response = 'responseId' in event ? responses.get(event.responseId) : undefined;
    if (response === undefined) continue;
    if (event.type === 'agent_audio_started' && response.firstAudioAtMs === null) response.firstAudioAtMs = event.atMs;
    if (event.type === 'response_done') response.status = event.status;
  }
  return [...responses.entries()].map(([responseId, response]) => ({
    responseId,
    startedAtMs: rel(response.startedAtMs),
    firstAudioAtMs: response.firstAudioAtMs === null ? null : rel(response.firstAudioAtMs),
    firstAudioLatencyMs: response.firstAudioAtMs === null ? null : Math.round(response.firstAudioAtMs - response.startedAtMs),
    status: response.status,
  }));
}

function otherEventsOf(events: readonly CallEvent[], rel: (atMs: number) => number, redactor: Redactor): RecordEvent[] {
  const out: Array<Omit<RecordEvent, 'seq'>> = [];
  for (const event of events) {
    const atMs = rel(event.atMs);
    switch (event.type) {
      case 'dtmf':
        out.push({ atMs, type: 'dtmf', data: { digit: event.digit } });
        break;
      case 'tool_call':
        out.push({
          atMs,
          type: 'tool_call',
          data: { name: event.name, callId: event.callId, ok: event.ok, durationMs: event.durationMs, arguments: redactor.json(event.argumentsJson), result: redactor.json(event.output) },
        });
        break;
      case 'barge_in':
        out.push({ atMs, type: 'barge_in', data: { heard: event.heard.map((share) => ({ ...share })) } });
        break;
      case 'fault':
        out.push({ atMs, type: 'fault', data: { kind: event.kind, recovery: event.recovery, message: redactor.text(event.message) } });
        break;
      case 'provider_fallback':
        out.push({ atMs, type: 'provider_fallback', data: { from: event.from, to: event.to, fault: event.fault } });
        break;
      case 'stream_outcome':
        out.push({ atMs, type: event.outcome === 'transfer' ? 'transfer' : 'hang_up', data: { outcome: event.outcome, reason: event.reason, ...(event.destination === undefined ? {} : { destination: event.destination }) } });
        break;
      case 'call_status':
        out.push({ atMs, type: 'call_status', data: { status: event.status, ...(event.durationS === undefined ? {} : { durationS: event.durationS }) } });
        break;
      case 'answered_by':
        out.push({ atMs, type: 'answered_by', data: { answeredBy: event.answeredBy, action: event.action } });
        break;
      default:
        break;
    }
  }
  return out.sort((a, b) => a.atMs - b.atMs).map((event, seq) => ({ seq, ...event }));
}
