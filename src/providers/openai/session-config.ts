/**
 * Builds the one `session.update` a call sends, in the GA shape, from the validated config. Pure: no I/O, no clock.
 * GA only: the beta shape (`input_audio_format: "pcm16"`, `temperature`, `modalities`) is refused by the API with
 * `beta_api_shape_disabled`, so nothing here may emit it.
 */
import type { Config } from '../../config.js';
import {
  isRealtimeSession,
  type SessionTool,
  type RealtimeAudioConfigInput,
  type RealtimeAudioFormats,
  type RealtimeAudioInputTurnDetection,
  type RealtimeSessionCreateRequest,
  type SessionUpdateEvent,
  type SessionUpdatedEvent,
} from './events.js';

type OpenAiConfig = Readonly<Config>['openai'];

/** What one session is configured from: the environment's OpenAI settings, or an agent's (agent file). */
export type OpenAiSessionSettings = Pick<OpenAiConfig, 'instructions' | 'audioFormat' | 'transcriptionModel' | 'noiseReduction' | 'turnDetection' | 'voice'> & {
  /** Language hint for input transcription (BCP 47); absent/null = the API detects it. */
  language?: string | null;
};

/** The only PCM rate the Realtime API accepts, in Hz. */
export const REALTIME_PCM_RATE_HZ = 24_000;

/**
 * The SDK types `noise_reduction` without `| null`, but the API documents `null` as the way to turn it off, and
 * sending it explicitly (rather than omitting it) does not depend on the server's default.
 * https://platform.openai.com/docs/api-reference/realtime-client-events/session/update
 * This is the one place the typings are widened.
 */
const NOISE_REDUCTION_OFF = null as unknown as RealtimeAudioConfigInput.NoiseReduction;

export interface ExpectedFormats {
  input: RealtimeAudioFormats;
  output: RealtimeAudioFormats;
}

/** The wire format for a configured audio format. Input and output always match: one transcoder per call. */
export function audioFormatFor(audioFormat: OpenAiConfig['audioFormat']): RealtimeAudioFormats {
  return audioFormat === 'pcmu' ? { type: 'audio/pcmu' } : { type: 'audio/pcm', rate: REALTIME_PCM_RATE_HZ };
}

/** What `session.updated` must report back for the call's audio to be read in the right format. */
export function expectedFormats(openai: OpenAiConfig): ExpectedFormats {
  return { input: audioFormatFor(openai.audioFormat), output: audioFormatFor(openai.audioFormat) };
}

function turnDetectionFor(turnDetection: OpenAiConfig['turnDetection']): RealtimeAudioInputTurnDetection | null {
  switch (turnDetection.type) {
    case 'none':
      return null;
    case 'server_vad':
      return {
        type: 'server_vad',
        threshold: turnDetection.threshold,
        prefix_padding_ms: turnDetection.prefixPaddingMs,
        silence_duration_ms: turnDetection.silenceDurationMs,
        // Omitted rather than null when unset: the API's default is "no idle timeout".
        ...(turnDetection.idleTimeoutMs === null ? {} : { idle_timeout_ms: turnDetection.idleTimeoutMs }),
        create_response: turnDetection.createResponse,
        interrupt_response: turnDetection.interruptResponse,
      };
    case 'semantic_vad':
      return {
        type: 'semantic_vad',
        eagerness: turnDetection.eagerness,
        create_response: turnDetection.createResponse,
        interrupt_response: turnDetection.interruptResponse,
      };
  }
}

/**
 * The GA `session.update` for a call. `tools`, when non-empty, are offered with `tool_choice: "auto"`.
 * Transcription is omitted when off (it is off by default in a new session, and the SDK types do not admit null).
 */
export function buildSessionUpdate(openai: OpenAiSessionSettings, tools?: readonly SessionTool[]): SessionUpdateEvent {
  const format = audioFormatFor(openai.audioFormat);
  const session: RealtimeSessionCreateRequest = {
    type: 'realtime',
    output_modalities: ['audio'],
    instructions: openai.instructions,
    audio: {
      input: {
        format,
        ...(openai.transcriptionModel === null
          ? {}
          : { transcription: { model: openai.transcriptionModel, ...(openai.language === undefined || openai.language === null ? {} : { language: openai.language }) } }),
        noise_reduction: openai.noiseReduction === 'off' ? NOISE_REDUCTION_OFF : { type: openai.noiseReduction },
        turn_detection: turnDetectionFor(openai.turnDetection),
      },
      output: { format: audioFormatFor(openai.audioFormat), voice: openai.voice },
    },
    ...(tools === undefined || tools.length === 0 ? {} : { tools: tools.map((tool) => ({ ...tool })), tool_choice: 'auto' as const }),
  };
  return { type: 'session.update', session };
}

/**
 * Compares a reported format with the requested one. A missing `rate` on PCM is accepted: 24 kHz is the only rate
 * the API has, and it is what it means when it leaves the field out.
 */
export function formatMatches(actual: unknown, expected: RealtimeAudioFormats): boolean {
  if (actual === null || typeof actual !== 'object') return false;
  const reported = actual as { type?: unknown; rate?: unknown };
  if (reported.type !== expected.type) return false;
  if (expected.type === 'audio/pcm') return reported.rate === undefined || reported.rate === REALTIME_PCM_RATE_HZ;
  return true;
}

/** Describes a format for a log line or fault message, e.g. `audio/pcm@24000`. Tolerates garbage. */
export function describeFormat(format: unknown): string {
  if (format === null || typeof format !== 'object') return String(format);
  const { type, rate } = format as { type?: unknown; rate?: unknown };
  return rate === undefined ? String(type) : `${String(type)}@${String(rate)}`;
}

/** Null when `session.updated` reports the formats `sessionUpdate` asked for; otherwise a log-safe description. */
export function reportedFormatMismatch(sessionUpdate: SessionUpdateEvent, reported: SessionUpdatedEvent['session']): string | null {
  if (!isRealtimeSession(reported)) return `session.updated reports a "${String(reported.type)}" session, expected "realtime"`;
  const requested = sessionUpdate.session;
  if (requested.type !== 'realtime') return null;
  for (const direction of ['input', 'output'] as const) {
    const expected = requested.audio?.[direction]?.format;
    if (expected === undefined) continue;
    const actual = reported.audio?.[direction]?.format;
    if (!formatMatches(actual, expected)) {
      return `session.updated reports ${direction} format ${describeFormat(actual)}, expected ${describeFormat(expected)}`;
    }
  }
  return null;
}
