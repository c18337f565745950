/**
 * `conversation_initiation_client_data`: the overrides the agent's security settings allow, the dynamic variables,
 * and the effective settings they produce. A refused override or a dynamic variable the first message or prompt
 * needs but was not given ends the conversation (error, close 1008), as the platform does.
 */
import type { EffectiveAgentSettings, InboundMessage, InitiationRecord, SimulatedAgentConfig, SimulatedFailure } from './types.js';

export type InitiationOutcome =
  | { ok: true; record: InitiationRecord; settings: EffectiveAgentSettings }
  | { ok: false; record: InitiationRecord; failure: Required<SimulatedFailure> };

interface OverrideField {
  /** Path in `conversation_config_override`. */
  path: [string, ...string[]];
  permission: 'prompt' | 'firstMessage' | 'language' | 'voice';
  setting: keyof EffectiveAgentSettings;
  /** The field name the platform's error message uses. */
  label: string;
}

const OVERRIDE_FIELDS: OverrideField[] = [
  { path: ['agent', 'prompt', 'prompt'], permission: 'prompt', setting: 'prompt', label: 'prompt' },
  { path: ['agent', 'first_message'], permission: 'firstMessage', setting: 'firstMessage', label: 'first_message' },
  { path: ['agent', 'language'], permission: 'language', setting: 'language', label: 'language' },
  { path: ['tts', 'voice_id'], permission: 'voice', setting: 'voiceId', label: 'voice_id' },
];

export const DEFAULT_PROMPT = 'You are a helpful phone assistant.';
export const DEFAULT_LANGUAGE = 'en';
export const DEFAULT_VOICE_ID = 'sim-voice';

export function configuredSettings(agent: SimulatedAgentConfig): EffectiveAgentSettings {
  return {
    prompt: agent.prompt ?? DEFAULT_PROMPT,
    firstMessage: agent.firstMessage ?? '',
    language: agent.language ?? DEFAULT_LANGUAGE,
    voiceId: agent.voiceId ?? DEFAULT_VOICE_ID,
  };
}

/**
 * Applies an initiation message (or none: `message` null, when the client's first message was something else).
 * `system` holds the `system__…` dynamic variables the platform provides itself.
 */
export function applyInitiation(
  agent: SimulatedAgentConfig,
  message: InboundMessage | null,
  atMs: number,
  system: Record<string, string>,
): InitiationOutcome {
  const overrides = objectOrNull(message?.['conversation_config_override']);
  const record: InitiationRecord = {
    atMs,
    overrides,
    dynamicVariables: objectOrNull(message?.['dynamic_variables']) ?? {},
    customLlmExtraBody: objectOrNull(message?.['custom_llm_extra_body']),
    userId: typeof message?.['user_id'] === 'string' ? message['user_id'] : null,
    accepted: false,
  };
  const settings = configuredSettings(agent);
  for (const field of OVERRIDE_FIELDS) {
    const value = valueAt(overrides, field.path);
    if (value === undefined || value === null) continue;
    if (agent.allowOverrides?.[field.permission] !== true) {
      return fail(record, 'override_error', `Override for field '${field.label}' is not allowed by config.`);
    }
    if (typeof value !== 'string') return fail(record, 'invalid_message', `Invalid value for '${field.label}': expected a string.`);
    settings[field.setting] = value;
  }
  const variables: Record<string, string> = { ...system };
  for (const [name, value] of Object.entries(record.dynamicVariables)) {
    if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') {
      return fail(record, 'invalid_message', `Dynamic variable '${name}' must be a string, number or boolean.`);
    }
    variables[name] = String(value);
  }
  for (const setting of ['firstMessage', 'prompt'] as const) {
    const missing = placeholders(settings[setting]).filter((name) => !(name in variables));
    if (missing.length > 0) {
      const where = setting === 'firstMessage' ? 'first message' : 'prompt';
      return fail(record, 'missing_dynamic_variable', `Missing required dynamic variables in ${where}: ${missing.join(', ')}`);
    }
    settings[setting] = settings[setting].replace(PLACEHOLDER, (_match, name: string) => variables[name] ?? '');
  }
  record.accepted = true;
  return { ok: true, record, settings };
}

const PLACEHOLDER = /\{\{\s*([A-Za-z0-9_]+)\s*\}\}/g;

function placeholders(text: string): string[] {
  return [...new Set([...text.matchAll(PLACEHOLDER)].map((match) => match[1]!))];
}

function fail(record: InitiationRecord, errorType: string, message: string): InitiationOutcome {
  return { ok: false, record, failure: { code: 1008, errorType, message } };
}

function objectOrNull(value: unknown): Record<string, unknown> | null {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : null;
}

function valueAt(root: Record<string, unknown> | null, path: string[]): unknown {
  let current: unknown = root;
  for (const key of path) {
    const object = objectOrNull(current);
    if (object === null) return undefined;
    current = object[key];
  }
  return current;
}
