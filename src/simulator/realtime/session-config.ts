/**
 * The GA session object: defaults as `session.created` reports them, `session.update` merging, the beta-shape check,
 * and what the session's audio formats mean in bytes and samples.
 */
import type {
  RealtimeAudioFormats,
  RealtimeAudioInputTurnDetection,
  RealtimeSessionCreateRequest,
} from 'openai/resources/realtime/realtime';
import { MULAW_BYTES_PER_MS, MULAW_SAMPLE_RATE_HZ, PCM_BYTES_PER_MS, PCM_SAMPLE_RATE_HZ } from '../../audio/frames.js';
import type { VadSettings } from './vad.js';

/** The full session the simulator reports: the request shape plus the server-assigned fields. */
export type SimulatedSessionObject = RealtimeSessionCreateRequest & {
  object: 'realtime.session';
  id: string;
  /** Unix seconds. */
  expires_at: number;
};

/** Defaults from the typings' documentation: threshold 0.5, prefix padding 300 ms, silence 500 ms. */
export const DEFAULT_SERVER_VAD: RealtimeAudioInputTurnDetection.ServerVad = {
  type: 'server_vad',
  threshold: 0.5,
  prefix_padding_ms: 300,
  silence_duration_ms: 500,
  idle_timeout_ms: null,
  create_response: true,
  interrupt_response: true,
};

const SESSION_LIFETIME_S = 60 * 60;

export function defaultSession(id: string, model: string, nowUnixS: number): SimulatedSessionObject {
  return {
    type: 'realtime',
    object: 'realtime.session',
    id,
    model,
    expires_at: nowUnixS + SESSION_LIFETIME_S,
    output_modalities: ['audio'],
    instructions: '',
    tools: [],
    tool_choice: 'auto',
    max_output_tokens: 'inf',
    tracing: null,
    truncation: 'auto',
    prompt: null,
    audio: {
      input: {
        format: { type: 'audio/pcm', rate: 24_000 },
        turn_detection: { ...DEFAULT_SERVER_VAD },
      },
      output: {
        format: { type: 'audio/pcm', rate: 24_000 },
        voice: 'marin',
        speed: 1,
      },
    },
  };
}

/**
 * Keys that only the retired beta session had (flat audio settings, `modalities`, `temperature`). Any of them, or a
 * missing `session.type`, makes the update beta-shaped.
 */
const BETA_SESSION_KEYS = [
  'modalities',
  'input_audio_format',
  'output_audio_format',
  'input_audio_transcription',
  'input_audio_noise_reduction',
  'turn_detection',
  'voice',
  'temperature',
  'max_response_output_tokens',
] as const;

/** Returns the offending key, or null for a GA-shaped session. */
export function betaShapeOf(session: Record<string, unknown>): string | null {
  if (session['type'] === undefined) return 'session.type';
  for (const key of BETA_SESSION_KEYS) if (key in session) return `session.${key}`;
  return null;
}

/**
 * Applies a GA `session.update` to the current session: top-level fields replace, `audio.input`/`audio.output`
 * merge field by field, and a provided `turn_detection` replaces the old one with its own defaults filled in
 * (`null` turns detection off). `id`, `object`, `expires_at` are the server's and are kept.
 */
export function mergeSession(current: SimulatedSessionObject, update: Record<string, unknown>): SimulatedSessionObject {
  const { audio: audioUpdate, id: _id, object: _object, expires_at: _expiresAt, ...rest } = update as Record<string, unknown> & {
    audio?: { input?: Record<string, unknown>; output?: Record<string, unknown> };
  };
  const merged: SimulatedSessionObject = { ...current, ...(rest as Partial<SimulatedSessionObject>) };
  const input = { ...current.audio?.input };
  const output = { ...current.audio?.output };
  if (audioUpdate?.input !== undefined) {
    const { turn_detection: turnDetection, ...inputRest } = audioUpdate.input;
    Object.assign(input, inputRest);
    if (turnDetection !== undefined) input.turn_detection = withTurnDetectionDefaults(turnDetection);
  }
  if (audioUpdate?.output !== undefined) Object.assign(output, audioUpdate.output);
  merged.audio = { input, output };
  return merged;
}

function withTurnDetectionDefaults(value: unknown): RealtimeAudioInputTurnDetection | null {
  if (value === null || typeof value !== 'object') return null;
  const detection = value as RealtimeAudioInputTurnDetection;
  if (detection.type === 'semantic_vad') {
    return { eagerness: 'auto', create_response: true, interrupt_response: true, ...detection };
  }
  return { ...DEFAULT_SERVER_VAD, ...detection, type: 'server_vad' };
}

/**
 * Semantic VAD has no published timing; the simulator treats it as server VAD with a fixed silence per eagerness
 * (high 300 ms, auto/medium 500 ms, low 1 000 ms) and the default threshold and padding.
 */
const SEMANTIC_SILENCE_MS = { high: 300, medium: 500, auto: 500, low: 1_000 } as const;

export interface TurnDetectionPolicy {
  vad: VadSettings;
  createResponse: boolean;
  interruptResponse: boolean;
}

/** The session's turn detection as VAD settings, or null when it is off (`turn_detection: null`). */
export function turnDetectionPolicy(session: SimulatedSessionObject): TurnDetectionPolicy | null {
  const detection = session.audio?.input?.turn_detection;
  if (detection === null || detection === undefined) return null;
  if (detection.type === 'semantic_vad') {
    return {
      vad: {
        threshold: DEFAULT_SERVER_VAD.threshold!,
        prefixPaddingMs: DEFAULT_SERVER_VAD.prefix_padding_ms!,
        silenceDurationMs: SEMANTIC_SILENCE_MS[detection.eagerness ?? 'auto'],
      },
      createResponse: detection.create_response ?? true,
      interruptResponse: detection.interrupt_response ?? true,
    };
  }
  return {
    vad: {
      threshold: detection.threshold ?? DEFAULT_SERVER_VAD.threshold!,
      prefixPaddingMs: detection.prefix_padding_ms ?? DEFAULT_SERVER_VAD.prefix_padding_ms!,
      silenceDurationMs: detection.silence_duration_ms ?? DEFAULT_SERVER_VAD.silence_duration_ms!,
    },
    createResponse: detection.create_response ?? true,
    interruptResponse: detection.interrupt_response ?? true,
  };
}

/** What one audio format means on the wire. Only `audio/pcm` (24 kHz PCM16) and `audio/pcmu` (8 kHz mu-law). */
export interface AudioFormatInfo {
  kind: 'pcm' | 'pcmu';
  sampleRateHz: number;
  bytesPerMs: number;
}

export const PCM_FORMAT: AudioFormatInfo = { kind: 'pcm', sampleRateHz: PCM_SAMPLE_RATE_HZ, bytesPerMs: PCM_BYTES_PER_MS };
export const PCMU_FORMAT: AudioFormatInfo = { kind: 'pcmu', sampleRateHz: MULAW_SAMPLE_RATE_HZ, bytesPerMs: MULAW_BYTES_PER_MS };

/** `audio/pcma` is not simulated (the bridge never asks for it); it reads as PCM so nothing decodes garbage silently. */
export function formatInfo(format: RealtimeAudioFormats | undefined): AudioFormatInfo {
  return format?.type === 'audio/pcmu' ? PCMU_FORMAT : PCM_FORMAT;
}

export function transcriptionModelOf(session: SimulatedSessionObject): string | null {
  return session.audio?.input?.transcription?.model ?? null;
}
