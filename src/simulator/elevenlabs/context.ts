/**
 * What the parts of one simulated conversation (turns, responses, pings) share: the agent's configuration with its
 * defaults filled in, the formats, the clock and the conversation's outbound side. The conversation object
 * (conversation.ts) implements it; the parts never touch the socket.
 */
import type { Clock } from '../../clock.js';
import type { Logger } from '../../logger.js';
import type { ReplySpec } from '../realtime/replies.js';
import { formatInfo, type AudioFormatInfo } from './formats.js';
import type {
  EffectiveAgentSettings,
  ElevenLabsScriptedResponse,
  ServerEventBodies,
  ServerEventType,
  SimulatedAgentConfig,
  SimulatedAgentFaults,
  SimulatedFailure,
} from './types.js';

export const DEFAULT_SPEED_FACTOR = 4;
export const DEFAULT_CHUNK_MS = 125;
export const DEFAULT_PING_INTERVAL_MS = 2_000;
export const DEFAULT_REPLY: ReplySpec = { kind: 'tone-coded', durationMs: 1_000 };

export interface ResolvedAgent {
  /** The configuration as it was when the conversation connected. */
  config: SimulatedAgentConfig;
  agentId: string;
  isPublic: boolean;
  input: AudioFormatInfo;
  output: AudioFormatInfo;
  reply: ReplySpec;
  firstMessageReply: ReplySpec;
  script: ElevenLabsScriptedResponse[];
  speedFactor: number;
  chunkMs: number;
  responseLatencyMs: number;
  callerTranscripts: string[];
  vad: { threshold: number; silenceDurationMs: number; prefixPaddingMs: number };
  sendVadScores: boolean;
  pingIntervalMs: number;
  closeOnMissedPongs: number | null;
  keepSendingAfterInterruption: number;
  maxDurationMs: number | null;
  faults: SimulatedAgentFaults;
}

/** A snapshot of the agent's configuration at connect time (later edits to the config affect later conversations). */
export function resolveAgent(config: SimulatedAgentConfig): ResolvedAgent {
  const reply = config.reply ?? DEFAULT_REPLY;
  return {
    config: { ...config },
    agentId: config.agentId,
    isPublic: config.public ?? false,
    input: formatInfo(config.inputFormat),
    output: formatInfo(config.outputFormat),
    reply,
    firstMessageReply: config.firstMessageReply ?? reply,
    script: [...(config.script ?? [])],
    speedFactor: config.speedFactor ?? DEFAULT_SPEED_FACTOR,
    chunkMs: config.chunkMs ?? DEFAULT_CHUNK_MS,
    responseLatencyMs: config.responseLatencyMs ?? 0,
    callerTranscripts: [...(config.callerTranscripts ?? [])],
    vad: {
      threshold: config.vad?.threshold ?? 0.5,
      silenceDurationMs: config.vad?.silenceDurationMs ?? 500,
      prefixPaddingMs: config.vad?.prefixPaddingMs ?? 0,
    },
    sendVadScores: config.sendVadScores ?? false,
    pingIntervalMs: config.pingIntervalMs ?? DEFAULT_PING_INTERVAL_MS,
    closeOnMissedPongs: config.closeOnMissedPongs ?? null,
    keepSendingAfterInterruption: config.keepSendingAfterInterruption ?? 0,
    maxDurationMs: config.maxDurationMs ?? null,
    faults: { ...config.faults },
  };
}

export interface ConversationContext {
  readonly agent: ResolvedAgent;
  readonly clock: Clock;
  readonly logger: Logger;
  /** The settings after the initiation (configured ones until it arrives). */
  settings(): EffectiveAgentSettings;
  emit<T extends ServerEventType>(type: T, body: ServerEventBodies[T]): void;
  /** The conversation's event counter: 1, 2, 3, … */
  nextEventId(): number;
  newId(prefix: string): string;
  sinceConnectMs(): number;
  isClosed(): boolean;
  /** An `error` event with the failure's code, then close with that code. */
  fail(failure: SimulatedFailure): void;
  /** Drops the TCP connection without a close frame. */
  terminate(): void;
}
