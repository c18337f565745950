/**
 * The simulated ElevenLabs Agents server's public types: agent configuration, faults, the wire events (shaped as in
 * ElevenLabs' own AsyncAPI typings, `@elevenlabs/types` asyncapi-types.ts) and the records a conversation keeps.
 */
import type { ReplySpec } from '../realtime/replies.js';
import type { ElevenLabsAudioFormat } from './formats.js';

export type { ElevenLabsAudioFormat } from './formats.js';
export type { ReplySpec } from '../realtime/replies.js';

/** The close codes the platform documents; `error_event.code` takes the same values. */
export type ElevenLabsCloseCode = 1000 | 1002 | 1008 | 1011;

/** `error_event.error_type` values the simulator uses (the platform lists more; any string is accepted). */
export type ElevenLabsErrorType =
  | 'invalid_message'
  | 'override_error'
  | 'missing_dynamic_variable'
  | 'max_duration_exceeded'
  | 'transport_receive_timeout'
  | 'llm_error'
  | 'unknown'
  | (string & {});

export interface SimulatedFailure {
  code: Exclude<ElevenLabsCloseCode, 1000>;
  errorType?: ElevenLabsErrorType;
  message?: string;
}

/** Per response (after the first message, in order): an audio answer or a client tool call. */
export type ElevenLabsScriptedResponse =
  | { kind: 'audio'; reply: ReplySpec }
  | {
      /** Sends `client_tool_call`, waits for the matching `client_tool_result`, then the next response answers. */
      kind: 'client_tool_call';
      toolName: string;
      parameters: Record<string, unknown>;
      /** Defaults to a generated `toolu_…` id. */
      toolCallId?: string;
    };

export interface SimulatedAgentFaults {
  /** Accept the WebSocket but never send `conversation_initiation_metadata` (nor anything else). */
  hang?: boolean;
  /** This long after the socket opened (server clock): an `error` event, then close with its code. */
  failAfterMs?: { afterMs: number } & SimulatedFailure;
  /** After the n-th audio chunk of response `responseIndex`: fail with an error and close code, or drop the TCP connection. */
  midResponse?: { responseIndex: number; afterChunks: number; action: SimulatedFailure | 'drop' };
}

export interface OverridePermissions {
  prompt?: boolean;
  firstMessage?: boolean;
  language?: boolean;
  voice?: boolean;
}

export interface SimulatedAgentConfig {
  agentId: string;
  /** Public agents accept a WebSocket without a signature; private ones (default) need a signed URL. */
  public?: boolean;
  inputFormat: ElevenLabsAudioFormat;
  outputFormat: ElevenLabsAudioFormat;
  /** Spoken when the conversation starts (`{{var}}` takes dynamic variables). Empty or absent: the agent waits. */
  firstMessage?: string;
  prompt?: string;
  language?: string;
  voiceId?: string;
  /** Which `conversation_config_override` fields the agent's security settings allow. Default: none. */
  allowOverrides?: OverridePermissions;
  /** What the agent says when no script entry applies. Default: a 1 s tone-coded timeline. */
  reply?: ReplySpec;
  /** Audio of the first message. Default: `reply` rendered as a greeting (response index 0). */
  firstMessageReply?: ReplySpec;
  /** Per response after the first message. Beyond its end, `reply` applies. */
  script?: ElevenLabsScriptedResponse[];
  /** Agent audio is streamed this many times faster than real time. Default 4; Infinity sends it all at once. */
  speedFactor?: number;
  /** Duration of each audio chunk, ms (whole samples; the last chunk of a response is shorter). Default 125. */
  chunkMs?: number;
  /** Delay from the end of the caller's turn (or a tool result, or a user_message) to `agent_response`. Default 0. */
  responseLatencyMs?: number;
  /** `user_transcript` text per caller turn index. Default `Caller turn <n>.` (1-based). */
  callerTranscripts?: string[];
  /** Energy VAD on caller audio (see realtime/vad.ts). Defaults: threshold 0.5, silence 500 ms, padding 0. */
  vad?: { threshold?: number; silenceDurationMs?: number; prefixPaddingMs?: number };
  /** Send a `vad_score` event per caller audio chunk. Default false. */
  sendVadScores?: boolean;
  /** `ping` cadence after the metadata, ms. Default 2 000; 0 disables pings. */
  pingIntervalMs?: number;
  /** Close 1002 when this many pings are unanswered at the next ping tick. Default off (null). */
  closeOnMissedPongs?: number | null;
  /** After an interruption, send this many more audio chunks with the interrupted response's event_id. Default 0. */
  keepSendingAfterInterruption?: number;
  /** Conversation limit, from the socket opening: `error` (max_duration_exceeded, code 1000), then close 1000. Default none. */
  maxDurationMs?: number | null;
  faults?: SimulatedAgentFaults;
}

// ---- wire events (server → client) ----

export interface ServerEventBodies {
  conversation_initiation_metadata: {
    conversation_id: string;
    agent_output_audio_format: ElevenLabsAudioFormat;
    user_input_audio_format: ElevenLabsAudioFormat;
  };
  audio: { audio_base_64: string; event_id: number };
  agent_response: { agent_response: string; event_id: number };
  agent_response_correction: { original_agent_response: string; corrected_agent_response: string; event_id: number };
  user_transcript: { user_transcript: string; event_id: number };
  interruption: { event_id: number };
  /** `ping_ms` is null until a pong has measured the round trip, then the last round trip in whole ms. */
  ping: { event_id: number; ping_ms: number | null };
  client_tool_call: { tool_name: string; tool_call_id: string; parameters: Record<string, unknown>; event_id: number };
  vad_score: { vad_score: number };
  error: { code: ElevenLabsCloseCode; message: string; error_type: ElevenLabsErrorType };
}

export type ServerEventType = keyof ServerEventBodies;

/** The key each event's body travels under: `<type>_event`, except `user_transcription_event` and `client_tool_call`. */
export const EVENT_BODY_KEY = {
  conversation_initiation_metadata: 'conversation_initiation_metadata_event',
  audio: 'audio_event',
  agent_response: 'agent_response_event',
  agent_response_correction: 'agent_response_correction_event',
  user_transcript: 'user_transcription_event',
  interruption: 'interruption_event',
  ping: 'ping_event',
  client_tool_call: 'client_tool_call',
  vad_score: 'vad_score_event',
  error: 'error_event',
} as const satisfies Record<ServerEventType, string>;

export type ElevenLabsServerEvent = {
  [T in ServerEventType]: { type: T } & { [K in (typeof EVENT_BODY_KEY)[T]]: ServerEventBodies[T] };
}[ServerEventType];

export type ElevenLabsServerEventOf<T extends ServerEventType> = Extract<ElevenLabsServerEvent, { type: T }>;

/** The body of a server event (`event[EVENT_BODY_KEY[event.type]]`). */
export function eventBody<T extends ServerEventType>(event: ElevenLabsServerEventOf<T>): ServerEventBodies[T] {
  return (event as unknown as Record<string, ServerEventBodies[T]>)[EVENT_BODY_KEY[event.type as T]]!;
}

/** A client message as received (parsed JSON object). */
export type InboundMessage = Record<string, unknown>;

// ---- records ----

export interface ConversationLogEntry {
  direction: 'in' | 'out';
  /** ms since the socket opened (server clock). */
  atMs: number;
  /** With `logAudio: false`, audio payloads are replaced by `<n bytes>`. */
  event: ElevenLabsServerEvent | InboundMessage;
}

export interface InitiationRecord {
  atMs: number;
  /** The `conversation_config_override` object as sent (null when absent). */
  overrides: Record<string, unknown> | null;
  dynamicVariables: Record<string, unknown>;
  customLlmExtraBody: Record<string, unknown> | null;
  userId: string | null;
  /** Whether the overrides were accepted (false: the conversation was closed 1008). */
  accepted: boolean;
}

/** The agent settings in force after the initiation's overrides and dynamic variables. */
export interface EffectiveAgentSettings {
  prompt: string;
  firstMessage: string;
  language: string;
  voiceId: string;
}

export interface PingRecord {
  eventId: number;
  atMs: number;
  /** When its pong arrived (ms since open), or null. */
  pongAtMs: number | null;
}

export interface PongRecord {
  eventId: number | null;
  atMs: number;
  /** Round trip to the ping it answers, ms; null when it names no ping the server sent. */
  rttMs: number | null;
}

export interface ToolResultRecord {
  toolCallId: string;
  result: unknown;
  isError: boolean;
  /** The id names a `client_tool_call` this conversation sent and that was still waiting. */
  knownCall: boolean;
  atMs: number;
}

export interface CallerTurnRecord {
  index: number;
  /** Caller audio time, ms since the first chunk (speech onset − prefix padding). */
  audioStartMs: number;
  /** Caller audio time at which the turn ended (last loud audio + the silence). */
  audioEndMs: number;
  transcript: string;
  /** Server clock, ms since open. */
  atMs: number;
}

export interface InterruptionRecord {
  /** The interrupted response's event_id (what `interruption_event.event_id` carried). */
  eventId: number;
  responseIndex: number;
  /** Server clock, ms since open. */
  atMs: number;
  /** Caller audio time of the speech onset that caused it; null when a user_message or a new answer did. */
  callerOnsetMs: number | null;
  /** ms of the response's audio sent, and played by the model's estimate, when it was interrupted. */
  sentMs: number;
  playedMs: number;
  /** Old-id chunks sent after the interruption (`keepSendingAfterInterruption`). */
  staleChunksSent: number;
}

export interface SimulatedAgentResponse {
  index: number;
  kind: 'first_message' | 'audio' | 'client_tool_call';
  /** agent_response's event_id (= every audio chunk's), or the client_tool_call's. */
  eventId: number;
  status: 'streaming' | 'completed' | 'interrupted' | 'aborted' | 'waiting_for_tool_result';
  transcript: string;
  /** Set after an interruption: the text cut at the played position. */
  correctedTranscript: string | null;
  audioMsTotal: number;
  audioMsSent: number;
  chunksSent: number;
  toolCallId: string | null;
  toolName: string | null;
  /** Caller turn after which it started (-1: before any). */
  afterTurnIndex: number;
  startedAtMs: number;
  doneAtMs: number | null;
}

export interface ConversationViolations {
  /** Text that is not a JSON object, or an unknown message type: error + close 1008. */
  invalidMessage: number;
  /** A second `conversation_initiation_client_data`. */
  repeatedInitiation: number;
  /** A `client_tool_result` naming no waiting call, or a pong naming no ping. */
  unknownToolResult: number;
  unknownPong: number;
}
