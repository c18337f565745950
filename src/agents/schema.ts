/**
 * The agent file's schema (AGENTS_FILE, YAML or JSON): `{ agents: [...] }`, every object strict (camelCase keys, an
 * unknown key is an error so a typo never silently falls back to a default). docs/agents.md documents every key.
 * Parsing yields finished `AgentDefinition`s: `${ENV_VAR}` references are resolved from `context.env`,
 * `instructionsFile` is read, HTTP tool schemas are compiled, and what an agent leaves out comes from
 * `context.defaults` (the environment's agent). Messages are short plain text and never contain a secret's value;
 * load.ts turns the issues into `AGENTS_FILE agents[0].key: message` lines.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { z } from 'zod';
import { AUDIO_FORMATS, EAGERNESS_LEVELS, TURN_DETECTION_TYPES, VOICE_PROVIDERS, VOICES, type TurnDetectionConfig } from '../config.js';
import { compileArgumentsValidator } from '../tools/json-schema.js';
import { DEFAULT_HOLD_SOUND_AFTER_MS, DEFAULT_TRANSFER_TIMEOUT_S } from './from-config.js';
import type { OutboundSettings, AgentDefinition, BuiltinToolName, HeaderValue, HttpToolDefinition, McpServerDefinition } from './types.js';

export const BUILTIN_TOOL_NAMES: readonly BuiltinToolName[] = ['end_call', 'transfer_call'];
export const E164_PATTERN = /^\+[1-9]\d{6,14}$/;
export const AGENT_NAME_PATTERN = /^[a-z0-9_-]{1,64}$/;
export const TOOL_NAME_PATTERN = /^[a-zA-Z0-9_-]{1,64}$/;
export const LANGUAGE_PATTERN = /^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$/;
const SIP_URI_PATTERN = /^sip:[^\s@]+@[^\s@]+$/;
const HEADER_NAME_PATTERN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const ENV_REFERENCE = /\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g;
const CONTROL_CHARACTERS = /[\u0000-\u0008\u000a-\u001f\u007f]/;
/** Plain http:// is accepted for these hosts only, and only when NODE_ENV is not production. */
export const LOCAL_HTTP_HOSTS: ReadonlySet<string> = new Set(['localhost', '127.0.0.1', '[::1]']);
export const HTTP_METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'] as const;
export const MAX_RESPONSE_BYTES_LIMIT = 10 * 1024 * 1024;

/** What an agent that leaves a key out gets: the environment's agent (`agentFromConfig`). */
export type AgentDefaults = Pick<AgentDefinition, 'provider' | 'fallbackProvider' | 'model' | 'voice' | 'audioFormat' | 'greeting' | 'turnDetection' | 'transcriptionModel' | 'recording'>;

export interface AgentFileContext {
  /** Directory of the agent file: `instructionsFile` paths are relative to it. */
  readonly baseDir: string;
  /** Where `${ENV_VAR}` references are read (an empty value counts as unset). */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** http://localhost, http://127.0.0.1 and http://[::1] URLs are accepted (NODE_ENV is not production). */
  readonly allowLocalHttp: boolean;
  readonly defaults: AgentDefaults;
}

// ---------------------------------------------------------------------------------------------------------------
// Building blocks

type Issues = z.core.$RefinementCtx;

function intIn(min: number, max: number) {
  const message = `must be a whole number from ${min} to ${max}`;
  return z
    .number({ error: (issue) => (issue.input === undefined ? undefined : message) })
    .int({ error: message })
    .min(min, { error: message })
    .max(max, { error: message });
}

function numberIn(min: number, max: number) {
  const message = `must be a number from ${min} to ${max}`;
  return z.number({ error: (issue) => (issue.input === undefined ? undefined : message) }).min(min, { error: message }).max(max, { error: message });
}

const text = () => z.string().trim().min(1, { error: 'must not be empty' });
const named = (rule: RegExp, message: string) => z.string().regex(rule, { error: message });
const NAME_RULE = 'must be 1 to 64 letters, digits, _ or -';
/** YAML reads an unquoted `+14155550100` as a number: say so instead of "must be text". */
const quotedNumber = (issue: { input?: unknown }) => (typeof issue.input === 'number' ? "must be quoted, like '+14155550100' (YAML reads an unquoted +… as a number)" : undefined);
const e164 = () => z.string({ error: quotedNumber }).regex(E164_PATTERN, { error: 'must be an E.164 number like +14155550100' });
const transferTarget = () =>
  z.string({ error: quotedNumber }).refine((value) => E164_PATTERN.test(value) || SIP_URI_PATTERN.test(value), { error: 'must be an E.164 number like +14155550100 or a sip:user@host URI' });

/** `${NAME}` references replaced from the environment; a value with a reference is a secret. Null after an issue. */
function resolveReferences(raw: string, env: AgentFileContext['env'], issues: Issues): HeaderValue | null {
  if (raw.replace(ENV_REFERENCE, '').includes('${')) {
    issues.addIssue({ code: 'custom', message: 'has a malformed ${…} reference (write ${NAME}: letters, digits and _)' });
    return null;
  }
  const missing = new Set<string>();
  let secret = false;
  const value = raw.replace(ENV_REFERENCE, (_whole, name: string) => {
    secret = true;
    const found = env[name];
    if (found === undefined || found === '') missing.add(name);
    return found ?? '';
  });
  for (const name of missing) issues.addIssue({ code: 'custom', message: `environment variable ${name} is not set` });
  return missing.size > 0 ? null : { value, secret };
}

function headersSchema(env: AgentFileContext['env']) {
  const value = z.string().transform((raw, issues): HeaderValue => {
    const header = resolveReferences(raw, env, issues);
    if (header === null) return z.NEVER;
    if (CONTROL_CHARACTERS.test(header.value)) {
      issues.addIssue({ code: 'custom', message: header.secret ? 'contains a line break or control character (check the environment variable)' : 'must not contain a line break or control character' });
      return z.NEVER;
    }
    return header;
  });
  return z
    .record(z.string(), value)
    .superRefine((headers, issues) => {
      for (const name of Object.keys(headers)) {
        if (!HEADER_NAME_PATTERN.test(name)) issues.addIssue({ code: 'custom', path: [name], message: 'is not a valid HTTP header name' });
        else if (name.toLowerCase().startsWith('x-callbridge-')) issues.addIssue({ code: 'custom', path: [name], message: 'is reserved for callbridge (the request signature)' });
      }
    })
    .default(() => ({}));
}

function urlProblem(raw: string, allowLocalHttp: boolean): string | null {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return 'must be an https URL';
  }
  if (url.username !== '' || url.password !== '') return 'must not contain a user name or password (put credentials in headers, from ${ENV_VAR})';
  if (url.protocol === 'https:') return null;
  if (url.protocol === 'http:' && LOCAL_HTTP_HOSTS.has(url.hostname)) {
    return allowLocalHttp ? null : 'must be an https URL (http://localhost is allowed only when NODE_ENV is not production)';
  }
  return 'must be an https URL';
}

const endpointUrl = (allowLocalHttp: boolean) =>
  z.string().superRefine((raw, issues) => {
    const problem = urlProblem(raw, allowLocalHttp);
    if (problem !== null) issues.addIssue({ code: 'custom', message: problem });
  });

const parametersSchema = z.record(z.string(), z.unknown()).superRefine((schema, issues) => {
  if (schema['type'] !== 'object') {
    issues.addIssue({ code: 'custom', path: ['type'], message: 'must be object (parameters is the JSON Schema of the arguments object)' });
    return;
  }
  try {
    compileArgumentsValidator(schema);
  } catch (error) {
    const reason = error instanceof Error ? error.message.split('\n')[0] : 'unknown problem';
    issues.addIssue({ code: 'custom', message: `is not a valid JSON Schema (${reason})` });
  }
});

// ---------------------------------------------------------------------------------------------------------------
// Sections of an agent

function httpToolSchema(context: AgentFileContext) {
  return z
    .strictObject({
      type: z.literal('http'),
      name: named(TOOL_NAME_PATTERN, NAME_RULE),
      description: text(),
      parameters: parametersSchema.optional(),
      url: endpointUrl(context.allowLocalHttp),
      method: z.enum(HTTP_METHODS).default('POST'),
      headers: headersSchema(context.env),
      timeoutMs: intIn(100, 60_000).default(5_000),
      maxResponseBytes: intIn(1, MAX_RESPONSE_BYTES_LIMIT).default(65_536),
    })
    .transform(({ type: _type, parameters, ...rest }): HttpToolDefinition => ({ kind: 'http', ...rest, parameters: parameters ?? { type: 'object', properties: {} } }));
}

const builtinToolSchema = z.enum(BUILTIN_TOOL_NAMES as [BuiltinToolName, ...BuiltinToolName[]]).transform((name) => ({ kind: 'builtin' as const, name }));

/** A built-in tool's name, or an HTTP tool object (load.ts reports the issues of the alternative that was meant). */
const toolEntrySchema = (context: AgentFileContext) =>
  z.union([builtinToolSchema, httpToolSchema(context)], {
    error: (issue) =>
      typeof issue.input === 'string'
        ? `unknown built-in tool "${issue.input}" (end_call or transfer_call; an HTTP tool is an object with type: http)`
        : 'must be a built-in tool name or an HTTP tool object',
  });

function mcpServerSchema(context: AgentFileContext) {
  return z
    .strictObject({
      label: named(TOOL_NAME_PATTERN, NAME_RULE),
      url: endpointUrl(context.allowLocalHttp),
      allowedTools: z.array(text()).optional(),
      headers: headersSchema(context.env),
      requireApproval: z.enum(['never', 'always']).default('never'),
    })
    .transform((server): McpServerDefinition => ({ ...server, allowedTools: server.allowedTools ?? null }));
}

const transferSchema = z
  .strictObject({
    destinations: z.array(z.strictObject({ name: named(TOOL_NAME_PATTERN, NAME_RULE), target: transferTarget(), description: text() })).min(1, { error: 'must list at least one destination' }),
    callerId: e164().optional(),
    timeoutS: intIn(5, 600).default(DEFAULT_TRANSFER_TIMEOUT_S),
  })
  .superRefine(({ destinations }, issues) => {
    destinations.forEach((destination, index) => {
      if (destinations.findIndex((other) => other.name === destination.name) < index) {
        issues.addIssue({ code: 'custom', path: ['destinations', index, 'name'], message: `duplicate destination name "${destination.name}"` });
      }
    });
  });

const SERVER_VAD_ONLY = ['threshold', 'prefixPaddingMs', 'silenceDurationMs', 'idleTimeoutMs'] as const;

/** The env's turn-detection knobs (TURN_DETECTION, VAD_*) with the same defaults and ranges; knobs of another type are errors. */
const turnDetectionSchema = z
  .strictObject({
    type: z.enum(TURN_DETECTION_TYPES).default('server_vad'),
    threshold: numberIn(0, 1).optional(),
    prefixPaddingMs: intIn(0, 5_000).optional(),
    silenceDurationMs: intIn(0, 10_000).optional(),
    idleTimeoutMs: intIn(5_000, 30_000).nullable().optional(),
    eagerness: z.enum(EAGERNESS_LEVELS).optional(),
    createResponse: z.boolean().optional(),
    interruptResponse: z.boolean().optional(),
  })
  .transform((knobs, issues): TurnDetectionConfig => {
    const misplaced = (keys: readonly (keyof typeof knobs)[], message: string): void => {
      for (const key of keys) if (knobs[key] !== undefined) issues.addIssue({ code: 'custom', path: [key], message });
    };
    const createResponse = knobs.createResponse ?? true;
    const interruptResponse = knobs.interruptResponse ?? true;
    switch (knobs.type) {
      case 'none':
        misplaced([...SERVER_VAD_ONLY, 'eagerness', 'createResponse', 'interruptResponse'], 'does not apply to type: none');
        return { type: 'none' };
      case 'semantic_vad':
        misplaced(SERVER_VAD_ONLY, 'applies only to type: server_vad');
        return { type: 'semantic_vad', eagerness: knobs.eagerness ?? 'auto', createResponse, interruptResponse };
      case 'server_vad':
        misplaced(['eagerness'], 'applies only to type: semantic_vad');
        return {
          type: 'server_vad',
          threshold: knobs.threshold ?? 0.5,
          prefixPaddingMs: knobs.prefixPaddingMs ?? 300,
          silenceDurationMs: knobs.silenceDurationMs ?? 500,
          idleTimeoutMs: knobs.idleTimeoutMs ?? null,
          createResponse,
          interruptResponse,
        };
    }
  });

const limitsSchema = z
  .strictObject({ maxCallDurationS: intIn(10, 14_400).nullable().default(null), silenceCheckInS: intIn(5, 600).nullable().default(null) })
  .default(() => ({ maxCallDurationS: null, silenceCheckInS: null }));

/** Outbound calls: where the agent may call, and what it does when a machine answers. */
const outboundSchema = z
  .strictObject({
    /** Destination prefixes the agent may dial (`+1555`, `+44`); empty = none (outbound is off for the agent). */
    allowedPrefixes: z.array(z.string().regex(/^\+\d{1,15}$/, { error: 'must be a + and digits, like +1555' })).default(() => []),
    /** Answering-machine detection: `voicemail` (leave voicemailMessage after the beep), `hang_up`, or `off`. */
    answeringMachine: z.enum(['voicemail', 'hang_up', 'off']).optional(),
    /** What to say to a voicemail (instructions for the agent's one message); a template like the instructions. */
    voicemailMessage: text().optional(),
  })
  .superRefine((outbound, issues) => {
    if (outbound.answeringMachine === 'voicemail' && outbound.voicemailMessage === undefined) {
      issues.addIssue({ code: 'custom', path: ['voicemailMessage'], message: 'is required when answeringMachine is voicemail' });
    }
  })
  .transform((outbound): OutboundSettings => ({
    allowedPrefixes: outbound.allowedPrefixes,
    answeringMachine: outbound.answeringMachine ?? (outbound.voicemailMessage === undefined ? 'hang_up' : 'voicemail'),
    voicemailMessage: outbound.voicemailMessage ?? null,
  }))
  .default(() => ({ allowedPrefixes: [], answeringMachine: 'hang_up' as const, voicemailMessage: null }));

// ---------------------------------------------------------------------------------------------------------------
// An agent, and the file

function agentSchema(context: AgentFileContext) {
  const { defaults } = context;
  return z
    .strictObject({
      name: named(AGENT_NAME_PATTERN, 'must be 1 to 64 lowercase letters, digits, _ or -'),
      numbers: z.array(e164()).default(() => []),
      default: z.boolean().default(false),
      provider: z.enum(VOICE_PROVIDERS).optional(),
      fallbackProvider: z.enum(VOICE_PROVIDERS).nullable().optional(),
      elevenLabsAgentId: text().optional(),
      model: text().optional(),
      voice: z.enum(VOICES).optional(),
      audioFormat: z.enum(AUDIO_FORMATS).optional(),
      instructions: text().optional(),
      /** Becomes the file's text (read relative to the agent file). */
      instructionsFile: text()
        .transform((file, issues) => {
          let content: string;
          try {
            content = readFileSync(resolve(context.baseDir, file), 'utf8');
          } catch (error) {
            issues.addIssue({ code: 'custom', message: `cannot read ${file} (${(error as NodeJS.ErrnoException).code ?? 'error'})` });
            return z.NEVER;
          }
          if (content.trim() === '') issues.addIssue({ code: 'custom', message: `${file} is empty` });
          return content.trim();
        })
        .optional(),
      greeting: z.union([text(), z.null(), z.literal(false)], { error: 'must be text, or null or false (the caller speaks first)' }).optional(),
      turnDetection: turnDetectionSchema.optional(),
      language: named(LANGUAGE_PATTERN, 'must be a language code like en or de-DE').nullable().optional(),
      transcriptionModel: text().nullable().optional(),
      tools: z.array(toolEntrySchema(context)).default(() => []),
      mcpServers: z.array(mcpServerSchema(context)).default(() => []),
      transfer: transferSchema.optional(),
      toolSigningSecret: text()
        .transform((raw, issues) => resolveReferences(raw, context.env, issues)?.value ?? z.NEVER)
        .optional(),
      limits: limitsSchema,
      holdSoundAfterMs: intIn(0, 30_000).default(DEFAULT_HOLD_SOUND_AFTER_MS),
      /** A stereo WAV of every call of this agent in RECORDINGS_DIR (default RECORD_CALLS). */
      recording: z.boolean().optional(),
      outbound: outboundSchema,
    })
    .superRefine((agent, issues) => {
      if (agent.instructions !== undefined && agent.instructionsFile !== undefined) {
        issues.addIssue({ code: 'custom', path: ['instructionsFile'], message: 'cannot be combined with instructions (give one of them)' });
      } else if (agent.instructions === undefined && agent.instructionsFile === undefined) {
        issues.addIssue({ code: 'custom', path: ['instructions'], message: 'is required (or instructionsFile)' });
      }
      agent.tools.forEach((tool, index) => {
        const earlier = agent.tools.findIndex((other) => other.name === tool.name) < index;
        if (tool.kind === 'builtin') {
          if (earlier) issues.addIssue({ code: 'custom', path: ['tools', index], message: `${tool.name} is listed twice` });
        } else if (BUILTIN_TOOL_NAMES.some((name) => name === tool.name)) {
          issues.addIssue({ code: 'custom', path: ['tools', index, 'name'], message: `${tool.name} is the name of a built-in tool` });
        } else if (earlier) {
          issues.addIssue({ code: 'custom', path: ['tools', index, 'name'], message: `duplicate tool name "${tool.name}"` });
        }
      });
      const transferCall = agent.tools.findIndex((tool) => tool.kind === 'builtin' && tool.name === 'transfer_call');
      if (transferCall >= 0 && agent.transfer === undefined) {
        issues.addIssue({ code: 'custom', path: ['tools', transferCall], message: 'transfer_call needs transfer.destinations' });
      } else if (transferCall < 0 && agent.transfer !== undefined) {
        issues.addIssue({ code: 'custom', path: ['transfer'], message: 'needs transfer_call in tools' });
      }
      agent.mcpServers.forEach((server, index) => {
        if (agent.mcpServers.findIndex((other) => other.label === server.label) < index) {
          issues.addIssue({ code: 'custom', path: ['mcpServers', index, 'label'], message: `duplicate label "${server.label}"` });
        }
      });
    })
    .transform(
      (agent): AgentDefinition => ({
        name: agent.name,
        numbers: agent.numbers,
        isDefault: agent.default,
        provider: agent.provider ?? defaults.provider,
        fallbackProvider: agent.fallbackProvider === undefined ? defaults.fallbackProvider : agent.fallbackProvider,
        elevenLabsAgentId: agent.elevenLabsAgentId ?? null,
        model: agent.model ?? defaults.model,
        voice: agent.voice ?? defaults.voice,
        audioFormat: agent.audioFormat ?? defaults.audioFormat,
        instructions: agent.instructions ?? agent.instructionsFile ?? '',
        greeting: agent.greeting === undefined ? defaults.greeting : agent.greeting === false ? null : agent.greeting,
        turnDetection: agent.turnDetection ?? defaults.turnDetection,
        language: agent.language ?? null,
        transcriptionModel: agent.transcriptionModel === undefined ? defaults.transcriptionModel : agent.transcriptionModel,
        builtinTools: agent.tools.flatMap((tool) => (tool.kind === 'builtin' ? [tool.name] : [])),
        httpTools: agent.tools.flatMap((tool) => (tool.kind === 'http' ? [tool] : [])),
        mcpServers: agent.mcpServers,
        transferDestinations: agent.transfer?.destinations ?? [],
        transferCallerId: agent.transfer?.callerId ?? null,
        transferTimeoutS: agent.transfer?.timeoutS ?? DEFAULT_TRANSFER_TIMEOUT_S,
        toolSigningSecret: agent.toolSigningSecret ?? null,
        limits: agent.limits,
        holdSoundAfterMs: agent.holdSoundAfterMs,
        recording: agent.recording ?? defaults.recording,
        outbound: agent.outbound,
      }),
    );
}

/**
 * The whole file: `{ agents: [...] }`. Rules across agents (unique names, a number claimed once, one default) are
 * checked on the result by load.ts.
 */
export function agentFileSchema(context: AgentFileContext) {
  return z.strictObject(
    { agents: z.array(agentSchema(context)).min(1, { error: 'must list at least one agent' }) },
    { error: (issue) => (issue.code === 'invalid_type' ? 'must be an object with an agents list' : undefined) },
  );
}

export type AgentFile = z.output<ReturnType<typeof agentFileSchema>>;
