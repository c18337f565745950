/**
 * A validated agent: what the agent file (AGENTS_FILE, YAML or JSON) declares, after validation and after secrets
 * (`${ENV_VAR}` references) are resolved. Loading and validation live in load.ts and schema.ts; routing by called
 * number in routing.ts; instruction variables in template.ts.
 */
import type { BuiltinToolName, TransferTarget } from '../call/builtin-tools.js';
import type { AUDIO_FORMATS, TurnDetectionConfig, Voice, VoiceProvider } from '../config.js';

/** A header value: literal text, or a secret read from the environment at start (never logged). */
export interface HeaderValue {
  readonly value: string;
  /** True when the value came from `${ENV_VAR}`: it is a secret and is redacted everywhere. */
  readonly secret: boolean;
}

export interface HttpToolDefinition {
  readonly kind: 'http';
  readonly name: string;
  readonly description: string;
  /** JSON Schema (draft 2020-12 subset that Ajv supports) of the arguments object. */
  readonly parameters: Record<string, unknown>;
  readonly url: string;
  readonly method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  readonly headers: Readonly<Record<string, HeaderValue>>;
  readonly timeoutMs: number;
  readonly maxResponseBytes: number;
}

export interface McpServerDefinition {
  readonly label: string;
  readonly url: string;
  /** Tool names the model may call; null = all the server lists. */
  readonly allowedTools: readonly string[] | null;
  readonly headers: Readonly<Record<string, HeaderValue>>;
  /** Whether each call needs approval; callbridge approves or refuses by this policy itself. */
  readonly requireApproval: 'always' | 'never';
}

/** A named transfer destination (the call layer's type: the model picks by `name`). */
export type TransferDestination = TransferTarget;

export type { BuiltinToolName };

export interface AgentDefinition {
  readonly name: string;
  /** E.164 numbers this agent answers. */
  readonly numbers: readonly string[];
  /** Answers every number no other agent claims. At most one agent. */
  readonly isDefault: boolean;
  readonly provider: VoiceProvider;
  /** Where the call goes when `provider` cannot be reached before the call started talking; null = nowhere. */
  readonly fallbackProvider: VoiceProvider | null;
  /** The ElevenLabs agent (when `provider` or the fallback is `elevenlabs`); null = ELEVENLABS_AGENT_ID. */
  readonly elevenLabsAgentId: string | null;
  readonly model: string;
  readonly voice: Voice;
  readonly audioFormat: (typeof AUDIO_FORMATS)[number];
  /** May contain `{{callerNumber}}`, `{{calledNumber}}`, `{{callSid}}`, `{{localTime}}`, `{{custom.NAME}}`. */
  readonly instructions: string;
  /** Instructions for the first words; null = the caller speaks first. */
  readonly greeting: string | null;
  readonly turnDetection: TurnDetectionConfig;
  /** BCP 47 language for transcription and the model (e.g. `en`, `de-DE`); null = the provider's default. */
  readonly language: string | null;
  readonly transcriptionModel: string | null;
  readonly builtinTools: readonly BuiltinToolName[];
  readonly httpTools: readonly HttpToolDefinition[];
  readonly mcpServers: readonly McpServerDefinition[];
  readonly transferDestinations: readonly TransferDestination[];
  /** Caller ID shown to the transfer target; null = the caller's own number (Twilio's default). */
  readonly transferCallerId: string | null;
  /** How long `<Dial>` rings a transfer target before giving up, seconds. */
  readonly transferTimeoutS: number;
  /** Secret for the HMAC signature on HTTP tool requests; null = requests are not signed. */
  readonly toolSigningSecret: string | null;
  readonly limits: {
    /** The call ends politely after this long; null = no limit. */
    readonly maxCallDurationS: number | null;
    /** Caller silence before a polite check-in, then (after as long again) a goodbye; null = never. */
    readonly silenceCheckInS: number | null;
  };
  /** A slow tool (over this) plays a hold sound to the caller until the answer comes. */
  readonly holdSoundAfterMs: number;
  /** Record every call of this agent (stereo WAV in RECORDINGS_DIR). */
  readonly recording: boolean;
  readonly outbound: OutboundSettings;
}

/** Outbound calls placed for an agent. */
export interface OutboundSettings {
  /** Destination prefixes the agent may call; empty = none. */
  readonly allowedPrefixes: readonly string[];
  /** When a machine answers: leave `voicemailMessage` after the beep, hang up, or do not detect at all. */
  readonly answeringMachine: 'voicemail' | 'hang_up' | 'off';
  readonly voicemailMessage: string | null;
}

export interface AgentRoster {
  readonly agents: readonly AgentDefinition[];
  /** The agent answering numbers no agent claims; null = such callers hear a polite refusal. */
  readonly defaultAgent: AgentDefinition | null;
  /** Where the agents came from, for the start-up log line. */
  readonly source: 'file' | 'environment';
}
