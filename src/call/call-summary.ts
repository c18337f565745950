/**
 * The one line an operator reads per call (and what observers get when it ends): counters from every part.
 */
import type { TokenUsage } from '../voice/port.js';

export type { TokenUsage } from '../voice/port.js';

export interface CallSummary {
  callSid: string;
  streamSid: string;
  durationMs: number;
  endReason: string;
  turns: number;
  responses: number;
  bargeIns: number;
  truncates: number;
  framesIn: number;
  framesOut: number;
  gaps: number;
  gapMs: number;
  underruns: number;
  underrunMs: number;
  sequenceErrors: number;
  lateDeltasDropped: number;
  upstreamFaults: number;
  usage: TokenUsage;
}

/** A summary with every counter at zero (a call that never connected a stream). */
export function emptySummary(): CallSummary {
  return {
    callSid: '',
    streamSid: '',
    durationMs: 0,
    endReason: '',
    turns: 0,
    responses: 0,
    bargeIns: 0,
    truncates: 0,
    framesIn: 0,
    framesOut: 0,
    gaps: 0,
    gapMs: 0,
    underruns: 0,
    underrunMs: 0,
    sequenceErrors: 0,
    lateDeltasDropped: 0,
    upstreamFaults: 0,
    usage: emptyUsage(),
  };
}

export function emptyUsage(): TokenUsage {
  return { inputTokens: 0, outputTokens: 0, inputAudioTokens: 0, outputAudioTokens: 0, cachedTokens: 0 };
}

/** Adds `usage` into `total` (in place). */
export function addUsage(total: TokenUsage, usage: TokenUsage): void {
  total.inputTokens += usage.inputTokens;
  total.outputTokens += usage.outputTokens;
  total.inputAudioTokens += usage.inputAudioTokens;
  total.outputAudioTokens += usage.outputAudioTokens;
  total.cachedTokens += usage.cachedTokens;
}

export interface SummaryInputs {
  callSid: string;
  streamSid: string;
  durationMs: number;
  endReason: string;
  counters: { turns: number; responses: number; bargeIns: number; framesIn: number; lateDeltasDropped: number; upstreamFaults: number };
  playout: { framesSent: number; underruns: number; underrunMs: number; sequenceErrors: number; lateDeltasDropped: number };
  channel: { gaps: number; gapMs: number };
  /** Every provider session of the call (a re-dial adds one): their counters add up. */
  sessions: ReadonlyArray<{ truncates: number; lateAudioDropped: number }>;
  usage: TokenUsage;
}

export function summariseCall(inputs: SummaryInputs): CallSummary {
  const { counters, playout, sessions } = inputs;
  return {
    callSid: inputs.callSid,
    streamSid: inputs.streamSid,
    durationMs: inputs.durationMs,
    endReason: inputs.endReason,
    turns: counters.turns,
    responses: counters.responses,
    bargeIns: counters.bargeIns,
    truncates: sessions.reduce((sum, session) => sum + session.truncates, 0),
    framesIn: counters.framesIn,
    framesOut: playout.framesSent,
    gaps: inputs.channel.gaps,
    gapMs: inputs.channel.gapMs,
    underruns: playout.underruns,
    underrunMs: playout.underrunMs,
    sequenceErrors: playout.sequenceErrors,
    // Dropped by the call (not live), by the provider (interrupted response) and by the out-queue (item closed).
    lateDeltasDropped: counters.lateDeltasDropped + sessions.reduce((sum, session) => sum + session.lateAudioDropped, 0) + playout.lateDeltasDropped,
    upstreamFaults: counters.upstreamFaults,
    usage: { ...inputs.usage },
  };
}
