/**
 * Opens ElevenLabs conversations for calls: one socket per call, initiated with the agent's overrides (only those
 * given) and the call's dynamic variables, wrapped in the port adapter.
 */
import type { Clock } from '../../clock.js';
import type { Logger } from '../../logger.js';
import type { VoiceAgentSession } from '../../voice/port.js';
import { ElevenLabsVoiceAgent, type ElevenLabsTextMode } from './agent.js';
import { openElevenLabsConnection } from './connection.js';
import { buildInitiation, type ElevenLabsOverrides } from './wire.js';

export interface ElevenLabsDialerOptions {
  /** Used only for a private agent (the signed-URL request header). */
  apiKey: string;
  agentId: string;
  /** A public agent is dialled directly, without the signed-URL request. */
  public: boolean;
  /** e.g. `https://api.elevenlabs.io` */
  apiBaseUrl: string;
  /** e.g. `wss://api.elevenlabs.io` */
  wsBaseUrl: string;
  clock: Clock;
  connectTimeoutMs: number;
  overrides?: ElevenLabsOverrides;
  dtmfAs?: ElevenLabsTextMode;
  audioIdleMs?: number;
  maxDurationMs?: number;
  /** Caller audio per `user_audio_chunk`, ms (config `call.appendBatchMs`). */
  appendBatchMs?: number;
}

export type ElevenLabsDialer = (request: {
  dynamicVariables: Record<string, string>;
  logger: Logger;
  overrides?: ElevenLabsOverrides;
  /** A re-dial of a call that already spoke: the agent's first message is not played again. */
  continuing?: boolean;
}) => VoiceAgentSession;

/** A dialer: each call opens a new conversation at once (it holds caller audio until the metadata arrives). */
export function createElevenLabsDialer(options: ElevenLabsDialerOptions): ElevenLabsDialer {
  const { apiKey, agentId, apiBaseUrl, wsBaseUrl, clock, connectTimeoutMs } = options;
  return ({ dynamicVariables, logger, overrides, continuing }) =>
    new ElevenLabsVoiceAgent({
      connection: openElevenLabsConnection({
        target: options.public ? { kind: 'public', wsBaseUrl, agentId } : { kind: 'private', apiBaseUrl, apiKey, agentId },
        initiation: buildInitiation(overrides ?? options.overrides, dynamicVariables),
        logger,
        clock,
        connectTimeoutMs,
        ...(options.maxDurationMs === undefined ? {} : { maxDurationMs: options.maxDurationMs }),
        ...(options.appendBatchMs === undefined ? {} : { appendBatchMs: options.appendBatchMs }),
      }),
      logger,
      clock,
      ...(options.audioIdleMs === undefined ? {} : { audioIdleMs: options.audioIdleMs }),
      ...(options.dtmfAs === undefined ? {} : { dtmfAs: options.dtmfAs }),
      ...(continuing === undefined ? {} : { continuing }),
    });
}
