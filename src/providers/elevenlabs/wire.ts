/**
 * The ElevenLabs Agents (Conversational AI) WebSocket wire: client and server message shapes, a tolerant parser
 * that never throws, the audio format names, the initiation message and the URLs.
 *
 * Server messages are `{"type": T, "<T>_event": {…}}`, with two exceptions seen on the real service: the tool call
 * sits under `client_tool_call`, and the caller's transcript under `user_transcription_event` (the documented
 * `user_transcript_event` is accepted too). The parser flattens each into one small typed object, so the rest of the
 * provider never reads the nested wire shape.
 */
import { DETAIL_EXCERPT_CHARS, parseJsonObject } from '../../net/socket-plumbing.js';
import type { AudioFormat, VoiceAgentFormats } from '../../voice/port.js';

// ---- client → server -------------------------------------------------------------------------------------------

/** What may be overridden per conversation (only when the agent's security settings allow it). */
export interface ConversationConfigOverride {
  agent?: { prompt?: { prompt: string }; first_message?: string; language?: string };
  tts?: { voice_id: string };
}

export interface ConversationInitiationClientData {
  type: 'conversation_initiation_client_data';
  conversation_config_override?: ConversationConfigOverride;
  dynamic_variables?: Record<string, string>;
}

export type ElevenLabsClientMessage =
  | ConversationInitiationClientData
  /** Caller audio in the agent's `user_input_audio_format`; this one has no `type`. */
  | { user_audio_chunk: string }
  | { type: 'pong'; event_id: number }
  | { type: 'client_tool_result'; tool_call_id: string; result: string; is_error: boolean }
  | { type: 'contextual_update'; text: string }
  | { type: 'user_message'; text: string }
  | { type: 'user_activity' };

/** The per-call overrides a dialer may set; only the fields given are sent. */
export interface ElevenLabsOverrides {
  prompt?: string;
  firstMessage?: string;
  language?: string;
  voiceId?: string;
}

/** The first client message: overrides for the fields given only, and the call's dynamic variables (if any). */
export function buildInitiation(overrides: ElevenLabsOverrides | undefined, dynamicVariables: Readonly<Record<string, string>>): ConversationInitiationClientData {
  const agent: NonNullable<ConversationConfigOverride['agent']> = {};
  if (overrides?.prompt !== undefined) agent.prompt = { prompt: overrides.prompt };
  if (overrides?.firstMessage !== undefined) agent.first_message = overrides.firstMessage;
  if (overrides?.language !== undefined) agent.language = overrides.language;
  const override: ConversationConfigOverride = {};
  if (Object.keys(agent).length > 0) override.agent = agent;
  if (overrides?.voiceId !== undefined) override.tts = { voice_id: overrides.voiceId };
  const message: ConversationInitiationClientData = { type: 'conversation_initiation_client_data' };
  if (Object.keys(override).length > 0) message.conversation_config_override = override;
  if (Object.keys(dynamicVariables).length > 0) message.dynamic_variables = { ...dynamicVariables };
  return message;
}

/**
 * JSON for a client message. Caller audio (50 chunks a second) is built by concatenation: base64 never needs
 * escaping, and JSON.stringify would scan every character.
 */
export function serializeClientMessage(message: ElevenLabsClientMessage): string {
  if ('user_audio_chunk' in message) return `{"user_audio_chunk":"${message.user_audio_chunk}"}`;
  return JSON.stringify(message);
}

// ---- server → client -------------------------------------------------------------------------------------------

/** A server message, flattened. `eventId` null: the server did not say (tolerated where it is not essential). */
export type ElevenLabsServerMessage =
  | { type: 'conversation_initiation_metadata'; conversationId: string | null; inputFormat: string; outputFormat: string }
  | { type: 'audio'; eventId: number; audioBase64: string }
  | { type: 'interruption'; eventId: number }
  | { type: 'agent_response'; text: string; eventId: number | null }
  | { type: 'agent_response_correction'; original: string; corrected: string; eventId: number | null }
  | { type: 'user_transcript'; text: string; eventId: number | null }
  | { type: 'ping'; eventId: number; pingMs: number | null }
  | { type: 'client_tool_call'; toolName: string; toolCallId: string; parameters: unknown; eventId: number | null }
  | { type: 'error'; code: string | null; errorType: string | null; message: string }
  /** Known and deliberately unused (`vad_score`, tentative responses, tool/MCP status, metadata of a response). */
  | { type: 'ignored'; wireType: string };

export type ElevenLabsServerMessageType = ElevenLabsServerMessage['type'];

/** Server types read and not used: counted, never logged as unknown. */
const IGNORED_TYPES: ReadonlySet<string> = new Set([
  'vad_score',
  'internal_tentative_agent_response',
  'agent_response_metadata',
  'agent_tool_response',
  'agent_chat_response_part',
  'mcp_tool_call',
  'mcp_connection_status',
  'audio_alignment',
]);

export type ElevenLabsParseErrorCode = 'INVALID_JSON' | 'NOT_AN_OBJECT' | 'MISSING_TYPE' | 'UNKNOWN_TYPE' | 'MISSING_FIELD';

export type ElevenLabsParseResult =
  | { ok: true; message: ElevenLabsServerMessage }
  /** `detail` is short and log-safe; for UNKNOWN_TYPE it is the type itself (to log once per type). */
  | { ok: false; code: ElevenLabsParseErrorCode; detail: string };

type Fields = Record<string, unknown>;

/** Parses one server text frame. Never throws. Only the fields this provider uses are checked. */
export function parseServerMessage(text: string): ElevenLabsParseResult {
  const parsed = parseJsonObject(text);
  if (!parsed.ok) return parsed;
  const { value } = parsed;
  const fields: Fields = value;
  const type = fields['type'];
  if (typeof type !== 'string' || type === '') return { ok: false, code: 'MISSING_TYPE', detail: `type is ${type === '' ? 'empty' : typeof type}` };
  if (IGNORED_TYPES.has(type)) return { ok: true, message: { type: 'ignored', wireType: type } };
  const missing = (field: string): ElevenLabsParseResult => ({ ok: false, code: 'MISSING_FIELD', detail: `${type}: ${field}` });
  const body = (key: string): Fields => (isObject(fields[key]) ? (fields[key] as Fields) : {});
  switch (type) {
    case 'audio': {
      const event = body('audio_event');
      const eventId = eventIdOf(event['event_id']);
      if (typeof event['audio_base_64'] !== 'string') return missing('audio_event.audio_base_64');
      if (eventId === null) return missing('audio_event.event_id');
      return { ok: true, message: { type, eventId, audioBase64: event['audio_base_64'] } };
    }
    case 'ping': {
      const event = body('ping_event');
      const eventId = eventIdOf(event['event_id']);
      if (eventId === null) return missing('ping_event.event_id');
      return { ok: true, message: { type, eventId, pingMs: typeof event['ping_ms'] === 'number' ? event['ping_ms'] : null } };
    }
    case 'interruption': {
      const eventId = eventIdOf(body('interruption_event')['event_id']);
      return eventId === null ? missing('interruption_event.event_id') : { ok: true, message: { type, eventId } };
    }
    case 'conversation_initiation_metadata': {
      const event = body('conversation_initiation_metadata_event');
      const inputFormat = event['user_input_audio_format'];
      const outputFormat = event['agent_output_audio_format'];
      if (typeof inputFormat !== 'string') return missing('user_input_audio_format');
      if (typeof outputFormat !== 'string') return missing('agent_output_audio_format');
      const conversationId = typeof event['conversation_id'] === 'string' ? event['conversation_id'] : null;
      return { ok: true, message: { type, conversationId, inputFormat, outputFormat } };
    }
    case 'agent_response': {
      const event = body('agent_response_event');
      if (typeof event['agent_response'] !== 'string') return missing('agent_response_event.agent_response');
      return { ok: true, message: { type, text: event['agent_response'], eventId: eventIdOf(event['event_id']) } };
    }
    case 'agent_response_correction': {
      const event = body('agent_response_correction_event');
      const corrected = event['corrected_agent_response'];
      if (typeof corrected !== 'string') return missing('agent_response_correction_event.corrected_agent_response');
      const original = typeof event['original_agent_response'] === 'string' ? event['original_agent_response'] : '';
      return { ok: true, message: { type, original, corrected, eventId: eventIdOf(event['event_id']) } };
    }
    case 'user_transcript': {
      const event = isObject(fields['user_transcription_event']) ? body('user_transcription_event') : body('user_transcript_event');
      if (typeof event['user_transcript'] !== 'string') return missing('user_transcription_event.user_transcript');
      return { ok: true, message: { type, text: event['user_transcript'], eventId: eventIdOf(event['event_id']) } };
    }
    case 'client_tool_call': {
      const call = body('client_tool_call');
      if (typeof call['tool_name'] !== 'string') return missing('client_tool_call.tool_name');
      if (typeof call['tool_call_id'] !== 'string') return missing('client_tool_call.tool_call_id');
      return {
        ok: true,
        message: { type, toolName: call['tool_name'], toolCallId: call['tool_call_id'], parameters: call['parameters'] ?? {}, eventId: eventIdOf(call['event_id']) },
      };
    }
    case 'error': {
      // The payload's place is not pinned down: `error_event`, or the fields at the top level.
      const event = isObject(fields['error_event']) ? body('error_event') : fields;
      const code = event['code'] ?? event['error_code'];
      return {
        ok: true,
        message: {
          type,
          code: typeof code === 'string' || typeof code === 'number' ? String(code) : null,
          errorType: typeof event['error_type'] === 'string' ? event['error_type'] : null,
          message: typeof event['message'] === 'string' ? event['message'] : typeof event['reason'] === 'string' ? event['reason'] : '',
        },
      };
    }
    default:
      return { ok: false, code: 'UNKNOWN_TYPE', detail: type.slice(0, DETAIL_EXCERPT_CHARS) };
  }
}

function isObject(value: unknown): value is Fields {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** Event ids are integers; a numeric string is tolerated. */
function eventIdOf(value: unknown): number | null {
  const id = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  return typeof id === 'number' && Number.isSafeInteger(id) ? id : null;
}

// ---- audio formats ---------------------------------------------------------------------------------------------

/** The PCM rates an agent may be configured with (`pcm_<rate>`). */
export const PCM_SAMPLE_RATES_HZ: readonly number[] = [8_000, 16_000, 22_050, 24_000, 44_100, 48_000];

export const SUPPORTED_FORMAT_NAMES = ['ulaw_8000', ...PCM_SAMPLE_RATES_HZ.map((rate) => `pcm_${rate}`)].join(', ');

/** `ulaw_8000` → mu-law 8 kHz; `pcm_<rate>` → PCM16 at that rate; anything else (mp3, opus, alaw…) → null. */
export function parseAudioFormat(name: string): AudioFormat | null {
  if (name === 'ulaw_8000') return { encoding: 'pcmu', sampleRateHz: 8_000 };
  const match = /^pcm_(\d+)$/.exec(name);
  const rate = match === null ? NaN : Number(match[1]);
  return PCM_SAMPLE_RATES_HZ.includes(rate) ? { encoding: 'pcm16', sampleRateHz: rate } : null;
}

/** Both directions' formats from the metadata's names, or a log-safe message naming the unsupported one(s). */
export function formatsFromMetadata(inputFormat: string, outputFormat: string): VoiceAgentFormats | string {
  const input = parseAudioFormat(inputFormat);
  const output = parseAudioFormat(outputFormat);
  if (input !== null && output !== null) return { input, output };
  const which = [input === null ? `user_input_audio_format "${inputFormat}"` : '', output === null ? `agent_output_audio_format "${outputFormat}"` : ''];
  return `the agent speaks an unsupported ${which.filter(Boolean).join(' and ')} (supported: ${SUPPORTED_FORMAT_NAMES})`;
}

/** Bytes of one millisecond of audio in `format`. */
export function bytesPerMs(format: AudioFormat): number {
  return (format.sampleRateHz / 1_000) * (format.encoding === 'pcmu' ? 1 : 2);
}

// ---- URLs ------------------------------------------------------------------------------------------------------

function joined(base: string, path: string): URL {
  return new URL(`${base.replace(/\/+$/, '')}${path}`);
}

/** `GET` this with header `xi-api-key` to get a private agent's `signed_url`. */
export function signedUrlEndpoint(apiBaseUrl: string, agentId: string): URL {
  const url = joined(apiBaseUrl, '/v1/convai/conversation/get-signed-url');
  url.searchParams.set('agent_id', agentId);
  return url;
}

/** A public agent's conversation socket. */
export function publicConversationUrl(wsBaseUrl: string, agentId: string): URL {
  const url = joined(wsBaseUrl, '/v1/convai/conversation');
  url.searchParams.set('agent_id', agentId);
  return url;
}

/** A URL safe to log: no userinfo, every query value but `agent_id` replaced (a signed URL's token is opaque). */
export function urlForLog(url: string | URL): string {
  let copy: URL;
  try {
    copy = new URL(typeof url === 'string' ? url : url.href);
  } catch {
    return '(unparseable URL)';
  }
  copy.username = '';
  copy.password = '';
  for (const key of [...copy.searchParams.keys()]) if (key !== 'agent_id') copy.searchParams.set(key, 'REDACTED');
  return copy.href;
}

/** The `signed_url` of a get-signed-url answer when it is a ws:/wss: URL, else null. */
export function signedUrlOf(body: unknown): string | null {
  const signedUrl = isObject(body) ? body['signed_url'] : undefined;
  if (typeof signedUrl !== 'string') return null;
  try {
    const protocol = new URL(signedUrl).protocol;
    return protocol === 'ws:' || protocol === 'wss:' ? signedUrl : null;
  } catch {
    return null;
  }
}
