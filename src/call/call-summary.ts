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
