/**
 * The contract of one ElevenLabs conversation socket (connection.ts): states, options, handlers, counters, and the
 * pure rules that turn a close code or an `error` message into the port's typed fault.
 */
import type { Clock } from '../../clock.js';
import type { Logger } from '../../logger.js';
import type { VoiceAgentFault, VoiceAgentFaultKind, VoiceAgentFormats } from '../../voice/port.js';
import type { ConversationInitiationClientData, ElevenLabsClientMessage, ElevenLabsServerMessage } from './wire.js';

/**
 * `connecting`: fetching the signed URL (private agent) and the WebSocket handshake. `initiating`: socket open, our
 * `conversation_initiation_client_data` sent, waiting for `conversation_initiation_metadata`. `ready`: formats known.
 */
export type ElevenLabsConnectionState = 'connecting' | 'initiating' | 'ready' | 'closed';

/** Where the conversation is: a private agent (signed URL fetched with the API key) or a public one. */
export type ElevenLabsTarget =
  | { kind: 'private'; apiBaseUrl: string; apiKey: string; agentId: string }
  | { kind: 'public'; wsBaseUrl: string; agentId: string };

export interface ElevenLabsConnectionOptions {
  target: ElevenLabsTarget;
  /** Sent first, as soon as the socket is open. */
  initiation: ConversationInitiationClientData;
  logger: Logger;
  clock?: Clock;
  /** From dial to `conversation_initiation_metadata` (signed URL and handshake included), in ms. Default 10 000. */
  connectTimeoutMs?: number;
  /** Caller audio held before `ready`, in bytes. Default 320 000 (10 s of PCM16 at 16 kHz, 40 s of mu-law). */
  maxHeldAudioBytes?: number;
  /** The agent's maximum conversation duration, if known: a normal close after it is `session_expired`. */
  maxDurationMs?: number;
  /** Caller audio gathered per `user_audio_chunk` once ready, ms (≤ 20: each chunk as it comes). Default DEFAULT_APPEND_BATCH_MS. */
  appendBatchMs?: number;
}

export interface ElevenLabsReady {
  conversationId: string | null;
  formats: VoiceAgentFormats;
}

export interface ElevenLabsHandlers {
  /** Once, after the metadata announced supported formats; held client messages have been flushed by then. */
  onReady(ready: ElevenLabsReady): void;
  /** Server messages after `ready`, in order (pings, errors and ignored types are handled by the connection). */
  onMessage(message: ElevenLabsServerMessage): void;
  /** At most once; the connection is closed (or closing). */
  onFault(fault: VoiceAgentFault): void;
}

export interface ElevenLabsConnectionStats {
  /** Well-formed server messages, by type (ignored ones by their wire type). */
  messagesIn: Record<string, number>;
  /** Client messages written to the socket, by type (`user_audio_chunk` for audio). */
  messagesOut: Record<string, number>;
  /** Server frames skipped: malformed, unknown type, binary, or arriving before the metadata. */
  skippedIn: number;
  /** Decoded caller audio bytes written. */
  audioBytesSent: number;
  heldAudioDroppedChunks: number;
  heldAudioDroppedBytes: number;
  /** Server messages dropped (oldest first) while no handlers were set. */
  bufferedMessagesDropped: number;
  /** Client messages (audio included) offered after the connection closed. */
  droppedAfterClose: number;
}

export interface ElevenLabsConnection {
  readonly state: ElevenLabsConnectionState;
  /** Null until `ready`. The same object for the connection's life. */
  readonly formats: VoiceAgentFormats | null;
  readonly conversationId: string | null;
  /** Resolves when the socket is gone (or was never opened), whoever closed it. Never rejects. */
  readonly closed: Promise<void>;
  /** Caller audio in `formats.input`; held before `ready` (bounded, oldest dropped), dropped after close. */
  appendAudio(audio: Uint8Array): void;
  /** Held before `ready` in call order (never dropped), dropped after close. */
  send(message: ElevenLabsClientMessage): void;
  /** Readiness, messages and a fault that happened before are delivered now, in order. */
  setHandlers(handlers: ElevenLabsHandlers): void;
  /** Idempotent, any state (a signed-URL request or a handshake in progress is aborted). Reports nothing. */
  close(): void;
  stats(): ElevenLabsConnectionStats;
}

/** The connection's traffic counters (its `stats()` without the hold's). */
export class ConnectionCounters {
  readonly messagesIn = new Map<string, number>();
  readonly messagesOut = new Map<string, number>();
  skippedIn = 0;
  audioBytesSent = 0;
  bufferedMessagesDropped = 0;
  droppedAfterClose = 0;

  countIn(type: string): void {
    this.messagesIn.set(type, (this.messagesIn.get(type) ?? 0) + 1);
  }

  countOut(type: string, audioBytes: number): void {
    this.messagesOut.set(type, (this.messagesOut.get(type) ?? 0) + 1);
    this.audioBytesSent += audioBytes;
  }

  stats(held: { droppedChunks: number; droppedBytes: number }): ElevenLabsConnectionStats {
    const { skippedIn, audioBytesSent, bufferedMessagesDropped, droppedAfterClose } = this;
    return {
      messagesIn: Object.fromEntries(this.messagesIn),
      messagesOut: Object.fromEntries(this.messagesOut),
      skippedIn,
      audioBytesSent,
      heldAudioDroppedChunks: held.droppedChunks,
      heldAudioDroppedBytes: held.droppedBytes,
      bufferedMessagesDropped,
      droppedAfterClose,
    };
  }

  /** Totals for a log line. */
  summary(): Record<string, number> {
    const total = (counts: Map<string, number>): number => [...counts.values()].reduce((sum, count) => sum + count, 0);
    return { messagesIn: total(this.messagesIn), messagesOut: total(this.messagesOut), audioBytesSent: this.audioBytesSent, skippedIn: this.skippedIn };
  }
}

export const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;
export const DEFAULT_MAX_HELD_AUDIO_BYTES = 320_000;
export const CLOSE_HANDSHAKE_TIMEOUT_MS = 2_000;
export const MAX_BUFFERED_SERVER_MESSAGES = 1_000;
/** The subprotocol the official client asks for. */
export const CONVAI_SUBPROTOCOL = 'convai';

const AUTH_REASON = /auth|unauthori[sz]ed|forbidden|api[ _-]?key|signature|token|credential|permission/i;
const EXPIRED_REASON = /max(imum)?[ _-]?(conversation[ _-]?|call[ _-]?)?duration|time[ _-]?limit|expired/i;

/**
 * The fault for a close we did not ask for. 1008 (input/auth/override refused): `unauthorized` while connecting
 * with an auth-ish reason, else `protocol`. 1000 (normal end or maximum duration): `session_expired` when the
 * reason says so or the known maximum duration has passed, else `ended` (the agent ended the conversation) once
 * ready and `closed` while connecting. 1002, 1011 and the rest: `closed`.
 */
export function faultForClose(
  closeCode: number,
  closeReason: string,
  context: { state: ElevenLabsConnectionState; readyForMs: number | null; maxDurationMs: number | null },
): VoiceAgentFault {
  const connecting = context.state !== 'ready';
  const message = `server closed the socket (${closeCode}${closeReason ? ` ${closeReason}` : ''}) while ${context.state}`;
  let kind: VoiceAgentFaultKind = 'closed';
  if (closeCode === 1008) kind = connecting && AUTH_REASON.test(closeReason) ? 'unauthorized' : 'protocol';
  else if (closeCode === 1000) {
    const pastMaximum = context.maxDurationMs !== null && context.readyForMs !== null && context.readyForMs >= context.maxDurationMs;
    if (EXPIRED_REASON.test(closeReason) || pastMaximum) kind = 'session_expired';
    // A plain 1000 once the conversation runs is the agent ending it (ElevenLabs' own end-call): not a failure.
    else if (!connecting) kind = 'ended';
  }
  return { kind, message, closeCode };
}

/**
 * What an `error` message means. Its `code` is the close code that follows (1002, 1008, 1011, or 1000 at the maximum
 * duration); ElevenLabs publishes no finer list, so the type and text are read too. Authentication and
 * maximum-duration errors, refused overrides, quota exhaustion and any error announcing a close end the session
 * here (with a more telling message than the close); anything else is logged and the session goes on.
 */
export function faultForError(
  error: { code: string | null; errorType: string | null; message: string },
  state: ElevenLabsConnectionState = 'ready',
): VoiceAgentFault | null {
  const said = [error.code, error.errorType, error.message].filter((part): part is string => part !== null && part !== '').join(' ');
  const code = error.errorType ?? error.code ?? 'error';
  const message = `ElevenLabs error: ${said || 'no detail'}`;
  const closeCode = error.code === '1002' || error.code === '1008' || error.code === '1011' ? Number(error.code) : undefined;
  const withClose = closeCode === undefined ? {} : { closeCode };
  if (/unauthori[sz]ed|authenticat|forbidden|invalid[ _-]?api[ _-]?key|invalid[ _-]?signature/i.test(said)) return { kind: 'unauthorized', code, message, ...withClose };
  if (EXPIRED_REASON.test(said)) return { kind: 'session_expired', code, message };
  if (/override|quota|limit[ _-]?exceeded|agent[ _-]?not[ _-]?found|invalid[ _-]?agent|fatal/i.test(said)) return { kind: 'protocol', code, message, ...withClose };
  if (closeCode === undefined) return null;
  if (closeCode === 1008) return { kind: state !== 'ready' && AUTH_REASON.test(said) ? 'unauthorized' : 'protocol', code, message, closeCode };
  return { kind: 'closed', code, message, closeCode };
}
