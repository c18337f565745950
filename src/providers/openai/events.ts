/**
 * OpenAI Realtime (GA) event types and a tolerant parser for server events.
 *
 * The types come from the official `openai` package so the compiler checks every event we send and every field we
 * read against the published contract. Only types are imported: the SDK's own client always dials `wss:` and cannot
 * point at a simulator or Azure, so the socket is plain `ws` (see client.ts).
 */
import { DETAIL_EXCERPT_CHARS, parseJsonObject } from '../../net/socket-plumbing.js';
import { parseAudioDeltaFast } from './fast-delta.js';
import type {
  RealtimeAudioFormats,
  RealtimeClientEvent,
  RealtimeError,
  RealtimeErrorEvent,
  RealtimeFunctionTool,
  RealtimeToolsConfigUnion,
  RealtimeServerEvent,
  RealtimeSessionCreateRequest,
  SessionCreatedEvent,
  SessionUpdateEvent,
  SessionUpdatedEvent,
} from 'openai/resources/realtime/realtime';

export type {
  ConversationItemTruncateEvent,
  InputAudioBufferAppendEvent,
  InputAudioBufferSpeechStartedEvent,
  InputAudioBufferSpeechStoppedEvent,
  RealtimeAudioConfigInput,
  RealtimeAudioInputTurnDetection,
  RealtimeResponse,
  ResponseAudioDeltaEvent,
  ResponseAudioDoneEvent,
  ResponseAudioTranscriptDoneEvent,
  ResponseCancelEvent,
  ResponseCreateEvent,
  ResponseDoneEvent,
  ResponseFunctionCallArgumentsDoneEvent,
} from 'openai/resources/realtime/realtime';

export type {
  RealtimeAudioFormats,
  RealtimeClientEvent,
  RealtimeError,
  RealtimeErrorEvent,
  RealtimeServerEvent,
  RealtimeSessionCreateRequest,
  SessionCreatedEvent,
  SessionUpdateEvent,
  SessionUpdatedEvent,
};

/** A function tool offered to the model (`session.tools[]`). */
export type FunctionTool = RealtimeFunctionTool;

/** Any tool a session may carry: a function, or a remote MCP server the API calls itself. */
export type SessionTool = RealtimeToolsConfigUnion;

export type RealtimeServerEventType = RealtimeServerEvent['type'];

/**
 * Every GA server event type in the SDK typings. A `Record` over the union (rather than an array) makes the compiler
 * reject both a missing and a misspelt entry when the `openai` package is upgraded.
 */
const SERVER_EVENT_TYPES: Readonly<Record<RealtimeServerEventType, true>> = {
  'conversation.created': true,
  'conversation.item.created': true,
  'conversation.item.deleted': true,
  'conversation.item.added': true,
  'conversation.item.done': true,
  'conversation.item.retrieved': true,
  'conversation.item.truncated': true,
  'conversation.item.input_audio_transcription.completed': true,
  'conversation.item.input_audio_transcription.delta': true,
  'conversation.item.input_audio_transcription.failed': true,
  'conversation.item.input_audio_transcription.segment': true,
  error: true,
  'input_audio_buffer.cleared': true,
  'input_audio_buffer.committed': true,
  'input_audio_buffer.dtmf_event_received': true,
  'input_audio_buffer.speech_started': true,
  'input_audio_buffer.speech_stopped': true,
  'input_audio_buffer.timeout_triggered': true,
  'output_audio_buffer.started': true,
  'output_audio_buffer.stopped': true,
  'output_audio_buffer.cleared': true,
  'rate_limits.updated': true,
  'response.created': true,
  'response.done': true,
  'response.output_item.added': true,
  'response.output_item.done': true,
  'response.content_part.added': true,
  'response.content_part.done': true,
  'response.output_audio.delta': true,
  'response.output_audio.done': true,
  'response.output_audio_transcript.delta': true,
  'response.output_audio_transcript.done': true,
  'response.output_text.delta': true,
  'response.output_text.done': true,
  'response.function_call_arguments.delta': true,
  'response.function_call_arguments.done': true,
  'response.mcp_call_arguments.delta': true,
  'response.mcp_call_arguments.done': true,
  'response.mcp_call.in_progress': true,
  'response.mcp_call.completed': true,
  'response.mcp_call.failed': true,
  'mcp_list_tools.in_progress': true,
  'mcp_list_tools.completed': true,
  'mcp_list_tools.failed': true,
  'session.created': true,
  'session.updated': true,
};

/** All known GA server event type strings. */
export const KNOWN_SERVER_EVENT_TYPES: ReadonlySet<string> = new Set(Object.keys(SERVER_EVENT_TYPES));

export function isKnownServerEventType(type: string): type is RealtimeServerEventType {
  return KNOWN_SERVER_EVENT_TYPES.has(type);
}

export type ParseErrorCode = 'INVALID_JSON' | 'NOT_AN_OBJECT' | 'MISSING_TYPE' | 'UNKNOWN_EVENT';

export type ParseResult =
  | { ok: true; event: RealtimeServerEvent }
  | {
      ok: false;
      code: ParseErrorCode;
      /** Short, log-safe description. For UNKNOWN_EVENT it is the type string itself (so callers can log once per type). */
      detail: string;
    };

/**
 * Parses one server text frame. Never throws. No deep validation: audio deltas carry tens of kilobytes of base64
 * many times a second, and the field shapes are the SDK's contract, not ours to re-check. Only the envelope is
 * verified (an object with a known string `type`), so a caller can skip and log anything else.
 *
 * A `response.output_audio.delta` in exactly the API's shape is read by the fast path (fast-delta.ts: no `JSON.parse`,
 * the same object); everything else is `parseServerEventStrict`, which alone produces the error codes.
 */
export function parseServerEvent(text: string): ParseResult {
  const delta = parseAudioDeltaFast(text);
  if (delta !== null) return { ok: true, event: delta };
  return parseServerEventStrict(text);
}

/**
 * The reference parser: exactly one `JSON.parse`, then the envelope check. `parseServerEvent` gives the same result
 * for every input (tests compare them on simulated sessions and fuzzed frames); exported for those tests and the
 * parse benchmark.
 */
export function parseServerEventStrict(text: string): ParseResult {
  const parsed = parseJsonObject(text);
  if (!parsed.ok) return parsed;
  const { value } = parsed;
  const type = value['type'];
  if (typeof type !== 'string' || type === '') {
    return { ok: false, code: 'MISSING_TYPE', detail: `type is ${type === '' ? 'empty' : typeof type}` };
  }
  if (!isKnownServerEventType(type)) {
    return { ok: false, code: 'UNKNOWN_EVENT', detail: type.slice(0, DETAIL_EXCERPT_CHARS) };
  }
  return { ok: true, event: value as unknown as RealtimeServerEvent };
}

/** True for the session flavour this project uses (the union also admits transcription-only sessions). */
export function isRealtimeSession(session: SessionCreatedEvent['session']): session is RealtimeSessionCreateRequest {
  return session.type === 'realtime';
}
