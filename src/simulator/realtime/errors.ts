/**
 * The Realtime API's error payloads, with the codes and messages the real service sends. Pure builders: the session
 * wraps them in `{type: 'error', event_id, error}`.
 *
 * Where the text is known from real traffic the source is linked; the rest are marked as the simulator's own wording
 * (the code or the shape is what a client should branch on, never the message).
 */
import type { RealtimeError } from 'openai/resources/realtime/realtime';

/** Error body with every field present, as the real service sends it (nulls, not omissions). */
export interface SimulatedRealtimeError extends RealtimeError {
  type: string;
  code: string | null;
  message: string;
  param: string | null;
  event_id: string | null;
}

function invalidRequest(code: string | null, message: string, param: string | null, eventId: string | null): SimulatedRealtimeError {
  return { type: 'invalid_request_error', code, message, param, event_id: eventId };
}

/**
 * A second `response.create` while one is in flight. The message names the active response.
 * https://github.com/tleyden/arty/issues/81, https://github.com/openai/openai-agents-python/issues/1466
 */
export function activeResponseError(activeResponseId: string, eventId: string | null): SimulatedRealtimeError {
  return invalidRequest(
    'conversation_already_has_active_response',
    `Conversation already has an active response in progress: ${activeResponseId}. Wait until the response is finished before creating a new one.`,
    null,
    eventId,
  );
}

/** `response.cancel` with nothing to cancel: a harmless race every client must tolerate. */
export function cancelNotActiveError(eventId: string | null): SimulatedRealtimeError {
  return invalidRequest('response_cancel_not_active', 'Cancellation failed: no active response found', null, eventId);
}

/**
 * Manual commit of (almost) nothing; the real message prints the buffered audio with two decimals.
 * https://github.com/betalgo/openai/issues/674
 */
export function commitEmptyError(bufferedMs: number, eventId: string | null): SimulatedRealtimeError {
  return invalidRequest(
    'input_audio_buffer_commit_empty',
    `Error committing input audio buffer: buffer too small. Expected at least 100ms of audio, but buffer only has ${bufferedMs.toFixed(2)}ms of audio.`,
    null,
    eventId,
  );
}

/**
 * Truncating past the audio the server generated for the item. Code null; the real service leaves `error.event_id`
 * null here even when the client event carried one (ReviewStage/luke#564 trace), so a client must not rely on it.
 * https://github.com/twilio-samples/speech-assistant-openai-realtime-api-python/issues/22
 */
export function truncateBeyondAudioError(audioMs: number, requestedMs: number): SimulatedRealtimeError {
  return invalidRequest(null, `Audio content of ${audioMs}ms is already shorter than ${requestedMs}ms`, null, null);
}

/** https://github.com/openai/openai-agents-js/issues/315 */
export function truncateDecimalError(eventId: string | null): SimulatedRealtimeError {
  return invalidRequest(
    'invalid_type',
    "Invalid type for 'audio_end_ms': expected an integer, but got a decimal number instead.",
    'audio_end_ms',
    eventId,
  );
}

/** OpenAI's standard bound message (as for `n`, `max_output_tokens` elsewhere in the API). */
export function truncateNegativeError(value: number, eventId: string | null): SimulatedRealtimeError {
  return invalidRequest(
    'integer_below_min_value',
    `Invalid 'audio_end_ms': integer below minimum value. Expected a value >= 0, but got ${value} instead.`,
    'audio_end_ms',
    eventId,
  );
}

/** Truncating a user message, a function call, …: code and param null in real traffic (livekit/agents#1016). */
export function truncateNotAssistantAudioError(eventId: string | null): SimulatedRealtimeError {
  return invalidRequest(null, 'Only model output audio messages can be truncated', null, eventId);
}

/** Simulator wording: the real text for an unknown item is not on record. Branch on the code. */
export function itemNotFoundError(itemId: string, param: string, eventId: string | null): SimulatedRealtimeError {
  return invalidRequest('item_not_found', `Item with item_id '${itemId}' not found.`, param, eventId);
}

/** Simulator wording: assistant audio messages have a single content part, index 0. */
export function contentIndexError(contentIndex: unknown, eventId: string | null): SimulatedRealtimeError {
  return invalidRequest(
    'invalid_value',
    `Invalid 'content_index': expected 0 for an audio message, but got ${JSON.stringify(contentIndex)} instead.`,
    'content_index',
    eventId,
  );
}

/**
 * The beta protocol is shut down: header `OpenAI-Beta: realtime=v1` or a beta-shaped session. Followed by close 4000.
 * https://github.com/api7/aisix/pull/1061
 */
export function betaShapeError(eventId: string | null): SimulatedRealtimeError {
  return invalidRequest(
    'beta_api_shape_disabled',
    'The Realtime Beta API is no longer supported. Please use /v1/realtime for the GA API.',
    null,
    eventId,
  );
}

/** Close code and reason that follow `beta_api_shape_disabled` (NousResearch/hermes-agent#117693). */
export const BETA_SHAPE_CLOSE_CODE = 4000;
export const BETA_SHAPE_CLOSE_REASON = 'invalid_request_error.beta_api_shape_disabled';

/** The 60-minute session cap. Followed by close 1001. */
export function sessionExpiredError(): SimulatedRealtimeError {
  return invalidRequest('session_expired', 'Your session hit the maximum duration of 60 minutes.', null, null);
}

export function unknownEventError(type: unknown, eventId: string | null): SimulatedRealtimeError {
  return invalidRequest('invalid_value', `Invalid value: ${JSON.stringify(type)}. Unsupported client event type.`, 'type', eventId);
}

export function invalidJsonError(): SimulatedRealtimeError {
  return invalidRequest(
    'invalid_json',
    "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library correctly.)",
    null,
    null,
  );
}

export function missingParameterError(param: string, eventId: string | null): SimulatedRealtimeError {
  return invalidRequest('missing_required_parameter', `Missing required parameter: '${param}'.`, param, eventId);
}

export function invalidValueError(param: string, message: string, eventId: string | null): SimulatedRealtimeError {
  return invalidRequest('invalid_value', message, param, eventId);
}
