/**
 * The one place that reads the environment. `loadConfig()` validates it into a typed, frozen `Config`, or throws a
 * `ConfigError` whose message is one line naming the variable and what is wrong (the entry point prints it and exits
 * without a stack trace).
 */
import { readClusterConfig, readTrustProxy, type ClusterConfig } from './config-cluster.js';
import { EnvReader, type Env } from './config-reader.js';
import { ConfigError } from './config-error.js';
import { parsePriceTable, type PriceTable } from './records/pricing.js';
import { DEFAULT_APPEND_BATCH_MS } from './net/audio-batch.js';

export { ConfigError } from './config-error.js';

export const VOICES = ['alloy', 'ash', 'ballad', 'coral', 'echo', 'sage', 'shimmer', 'verse', 'marin', 'cedar'] as const;
export type Voice = (typeof VOICES)[number];
export const TURN_DETECTION_TYPES = ['server_vad', 'semantic_vad', 'none'] as const;
export const EAGERNESS_LEVELS = ['auto', 'low', 'medium', 'high'] as const;
export const NOISE_REDUCTION_TYPES = ['off', 'near_field', 'far_field'] as const;
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export const NODE_ENVS = ['development', 'production', 'test'] as const;
/** `pcm`: 24 kHz PCM16 upstream, transcoded per call. `pcmu`: mu-law 8 kHz end to end, no transcoding. */
export const AUDIO_FORMATS = ['pcm', 'pcmu'] as const;
/** The voice providers callbridge speaks to. */
export const VOICE_PROVIDERS = ['openai', 'elevenlabs'] as const;
export type VoiceProvider = (typeof VOICE_PROVIDERS)[number];
export const ELEVENLABS_TEXT_MODES = ['user_message', 'contextual_update'] as const;
/** `bearer`: OpenAI's `Authorization: Bearer`. `api-key`: Azure OpenAI's `api-key` header. */
export const AUTH_MODES = ['bearer', 'api-key'] as const;

export type TurnDetectionConfig =
  | { type: 'none' }
  | {
      type: 'server_vad';
      threshold: number;
      prefixPaddingMs: number;
      silenceDurationMs: number;
      idleTimeoutMs: number | null;
      createResponse: boolean;
      interruptResponse: boolean;
    }
  | {
      type: 'semantic_vad';
      eagerness: (typeof EAGERNESS_LEVELS)[number];
      createResponse: boolean;
      interruptResponse: boolean;
    };

export interface Config {
  nodeEnv: (typeof NODE_ENVS)[number];
  logLevel: (typeof LOG_LEVELS)[number];
  /** The agent file (YAML or JSON); null = one agent from the environment. */
  agentsFile: string | null;
  voice: {
    /** The provider of the environment's agent (an agent file names its own). */
    provider: VoiceProvider;
    /** Where a call goes when the provider cannot be reached before the call has started talking; null = nowhere. */
    fallback: VoiceProvider | null;
  };
  elevenlabs: {
    /** `simulated`: no key and no public agent outside production: the embedded simulated ElevenLabs server. */
    backend: 'elevenlabs' | 'simulated';
    apiKey: string | null;
    agentId: string | null;
    /** A public agent is reached without a signed URL (and without the key). */
    publicAgent: boolean;
    /** REST origin; the WebSocket origin is the same host with ws(s). */
    apiUrl: string;
    /** How DTMF and typed text reach the agent. */
    textAs: (typeof ELEVENLABS_TEXT_MODES)[number];
    /** Send the agent's instructions and language as conversation overrides (allow them in the agent's security settings). */
    sendOverrides: boolean;
    connectTimeoutMs: number;
  };
  server: {
    port: number;
    host: string;
    /** Origin Twilio reaches us at (no trailing slash), e.g. `https://voice.example.com`. */
    publicBaseUrl: string;
    /** True when PUBLIC_BASE_URL was not set and a localhost URL was derived (development only). */
    publicBaseUrlDerived: boolean;
    maxConcurrentCalls: number;
    /** Max size of one inbound WebSocket message from Twilio. */
    maxMessageBytes: number;
    /** Time allowed between the upgrade and Twilio's `start` message. */
    handshakeTimeoutMs: number;
    /** Lifetime of the one-time stream token issued in the TwiML. */
    streamTokenTtlMs: number;
    recordDir: string | null;
    /** SIGTERM: live calls may finish for this long before they are ended politely. */
    drainTimeoutS: number;
    /**
     * Which proxies' X-Forwarded-* headers to believe (express `trust proxy`): a hop count, or addresses, subnets and
     * `loopback`/`linklocal`/`uniquelocal`; null = none (the client address is the socket's, https only if direct).
     */
    trustProxy: number | string | null;
  };
  twilio: {
    /** Null only outside production: signatures are then not checked (a loud warning is logged). */
    authToken: string | null;
    /** REST API (outbound calls): the account, and either the auth token or an API key pair. */
    accountSid: string | null;
    apiKeySid: string | null;
    apiKeySecret: string | null;
    /** Caller ID of outbound calls (E.164); null = no outbound calls. */
    fromNumber: string | null;
    /** REST origin (the simulated Twilio REST server in development and tests). */
    apiUrl: string;
    /** Optional `<Say>` before the stream connects; null = none. */
    preludeSay: string | null;
  };
  openai: {
    /** `simulated`: no API key outside production, the embedded simulated Realtime server is used. */
    backend: 'openai' | 'simulated';
    apiKey: string | null;
    realtimeUrl: string;
    model: string;
    authMode: (typeof AUTH_MODES)[number];
    audioFormat: (typeof AUDIO_FORMATS)[number];
    voice: Voice;
    instructions: string;
    /** Instructions for the agent's first words; null = the agent waits for the caller. */
    greeting: string | null;
    turnDetection: TurnDetectionConfig;
    transcriptionModel: string | null;
    noiseReduction: (typeof NOISE_REDUCTION_TYPES)[number];
    /** How long a pre-dialled session waits for its stream before it is closed. */
    predialTimeoutMs: number;
    /** Re-dial attempts when the upstream is lost mid-call (0 = apologise and end the stream). */
    redialAttempts: number;
    /** Hand a call to a fresh provider session this long after each session started (OpenAI's last 60 minutes); 0 = never. */
    sessionRotateAfterS: number;
  };
  records: {
    /** False (RECORDS=off): no database, no records API, no recordings. */
    enabled: boolean;
    /** Embedded database (PGlite) directory, used when databaseUrl is null. */
    dataDir: string;
    /** PostgreSQL (several instances share it); null = embedded. A credential: never logged. */
    databaseUrl: string | null;
    recordingsDir: string;
    /** Default of the agents' `recording` (the agent file overrides it per agent). */
    recordCalls: boolean;
    /** Recordings older than this are deleted; 0 = kept forever. */
    recordingRetentionDays: number;
    prices: PriceTable;
    /** Finished records held in memory while the database is unreachable; beyond it the oldest are dropped (counted). */
    maxBuffered: number;
  };
  /** Several instances behind one load balancer (src/config-cluster.ts). */
  cluster: ClusterConfig;
  api: {
    /** Bearer key of /api (records, outbound calls); null = the API is off. */
    key: string | null;
  };
  console: {
    /** How long a console sign-in lasts (absolute, not renewed by use), seconds. The console needs CALLBRIDGE_API_KEY. */
    sessionTtlS: number;
  };
  metrics: {
    /** Bearer token of /metrics; null = open (scraped from inside the network: keep it off the public proxy). */
    token: string | null;
  };
  tracing: {
    /** OTLP/HTTP collector origin (traces go to `<endpoint>/v1/traces`); null = tracing off (nothing is loaded). */
    otlpEndpoint: string | null;
    /** Full traces URL, used as is (wins over the endpoint). */
    otlpTracesEndpoint: string | null;
  };
  guard: {
    /** Refuse new calls once today's (UTC) computed cost reaches this, in USD; null = no cap. */
    dailySpendCapUsd: number | null;
    /** Calls accepted per caller number per rolling hour; null = no limit. */
    callerMaxCallsPerHour: number | null;
    /** Caller numbers refused outright: exact E.164 numbers, or prefixes ending in `*`. */
    blocklist: readonly string[];
  };
  outbound: {
    maxConcurrent: number;
    /** Calls started per second at most (Twilio's default CPS is 1); beyond it calls wait in a queue. */
    callsPerSecond: number;
    maxQueued: number;
    /** How long the callee's phone rings before no-answer, seconds. */
    ringTimeoutS: number;
    /** Destination prefixes the environment's agent may call (an agent file sets them per agent). */
    allowedPrefixes: readonly string[];
  };
  call: {
    /** Max audio buffered at Twilio ahead of real-time playback. */
    playbackLeadMs: number;
    /** Agent audio goes in batches this long once the lead is reached (one wake, one `media` per batch); ≤ lead − 20. */
    pacerQuantumMs: number;
    /** A mark follows the audio at this interval, and at the end of each item. */
    markIntervalMs: number;
    /** Pass caller key presses to the agent as a user message. */
    forwardDtmf: boolean;
    /** Hold the start of each answer until this much audio is in hand (a real-time provider never leaves a gap); 0 = off. */
    jitterCushionMs: number;
    /** Caller audio gathered per append to the provider, ms (20 = each frame as it comes). */
    appendBatchMs: number;
  };
}

export const DEFAULT_INSTRUCTIONS =
  'You are a friendly, concise voice assistant on a phone call. Speak naturally, keep answers short, and ask one question at a time.';
export const DEFAULT_TRANSCRIPTION_MODEL = 'gpt-4o-mini-transcribe';
export const DEFAULT_GREETING = 'Greet the caller in one short sentence and ask how you can help.';

function readPublicBaseUrl(reader: EnvReader): string | undefined {
  const value = reader.url('PUBLIC_BASE_URL', undefined, ['https:', 'http:']);
  if (value === undefined) return undefined;
  const parsed = new URL(value);
  if ((parsed.pathname !== '/' && parsed.pathname !== '') || parsed.search !== '' || parsed.hash !== '') {
    throw new ConfigError(`PUBLIC_BASE_URL must be an origin only, like https://voice.example.com (got "${value}")`);
  }
  return parsed.origin;
}

function readTurnDetection(reader: EnvReader): TurnDetectionConfig {
  const type = reader.oneOf('TURN_DETECTION', TURN_DETECTION_TYPES, 'server_vad');
  const createResponse = reader.boolean('VAD_CREATE_RESPONSE', true);
  const interruptResponse = reader.boolean('VAD_INTERRUPT_RESPONSE', true);
  switch (type) {
    case 'none':
      return { type };
    case 'semantic_vad':
      return { type, eagerness: reader.oneOf('VAD_EAGERNESS', EAGERNESS_LEVELS, 'auto'), createResponse, interruptResponse };
    case 'server_vad': {
      const idleTimeoutMs = reader.raw('VAD_IDLE_TIMEOUT_MS') === undefined ? null : reader.integer('VAD_IDLE_TIMEOUT_MS', 0, 5_000, 30_000);
      return {
        type,
        threshold: reader.number('VAD_THRESHOLD', 0.5, 0, 1),
        prefixPaddingMs: reader.integer('VAD_PREFIX_PADDING_MS', 300, 0, 5_000),
        silenceDurationMs: reader.integer('VAD_SILENCE_DURATION_MS', 500, 0, 10_000),
        idleTimeoutMs,
        createResponse,
        interruptResponse,
      };
    }
  }
}

/** Validates `env` (normally `process.env` after dotenv) into a frozen Config. Throws ConfigError. */
export function loadConfig(env: Env = process.env): Readonly<Config> {
  const reader = new EnvReader(env);
  const nodeEnv = reader.oneOf('NODE_ENV', NODE_ENVS, 'development');
  const production = nodeEnv === 'production';
  const port = reader.integer('PORT', 8080, 0, 65_535);

  const apiKey = reader.secret('OPENAI_API_KEY');
  const authToken = reader.secret('TWILIO_AUTH_TOKEN');
  const publicBaseUrl = readPublicBaseUrl(reader);
  const provider = reader.oneOf('VOICE_PROVIDER', VOICE_PROVIDERS, 'openai');
  const fallback = reader.raw('VOICE_PROVIDER_FALLBACK') === undefined ? null : reader.oneOf('VOICE_PROVIDER_FALLBACK', VOICE_PROVIDERS, 'openai');
  if (fallback === provider) throw new ConfigError(`VOICE_PROVIDER_FALLBACK must differ from VOICE_PROVIDER (both "${provider}")`);
  const elevenLabsKey = reader.secret('ELEVENLABS_API_KEY');
  const elevenLabsAgentId = reader.optional('ELEVENLABS_AGENT_ID');
  const elevenLabsPublic = reader.boolean('ELEVENLABS_AGENT_PUBLIC', false);
  if (production && (provider === 'elevenlabs' || fallback === 'elevenlabs')) {
    if (elevenLabsAgentId === null) throw new ConfigError('ELEVENLABS_AGENT_ID is required when NODE_ENV=production and ElevenLabs is used');
    if (elevenLabsKey === null && !elevenLabsPublic) throw new ConfigError('ELEVENLABS_API_KEY is required when NODE_ENV=production and the ElevenLabs agent is not public');
  }

  const twilioKeySid = reader.raw('TWILIO_API_KEY_SID');
  if ((twilioKeySid === undefined) !== (reader.raw('TWILIO_API_KEY_SECRET') === undefined)) {
    throw new ConfigError('TWILIO_API_KEY_SID and TWILIO_API_KEY_SECRET must be set together');
  }
  if (production) {
    for (const [name, value] of [
      ['OPENAI_API_KEY', provider === 'openai' || fallback === 'openai' ? apiKey : 'not used'],
      ['TWILIO_AUTH_TOKEN', authToken],
      ['PUBLIC_BASE_URL', publicBaseUrl],
    ] as const) {
      if (value === null || value === undefined) throw new ConfigError(`${name} is required when NODE_ENV=production`);
    }
    if (publicBaseUrl !== undefined && !publicBaseUrl.startsWith('https://')) {
      throw new ConfigError(`PUBLIC_BASE_URL must use https: when NODE_ENV=production (got "${publicBaseUrl}")`);
    }
  }

  const realtimeUrl = reader.url('OPENAI_REALTIME_URL', 'wss://api.openai.com/v1/realtime', ['wss:', 'ws:'])!;
  const defaultAuthMode = new URL(realtimeUrl).hostname.endsWith('.azure.com') ? 'api-key' : 'bearer';
  const greeting = env['AGENT_GREETING'] === undefined ? DEFAULT_GREETING : reader.optional('AGENT_GREETING');
  const recordsEnabled = reader.boolean('RECORDS', true);
  // Records want the caller's words: transcription is on by default while records are (`off` turns it off).
  const transcription = reader.string('INPUT_TRANSCRIPTION_MODEL', recordsEnabled ? DEFAULT_TRANSCRIPTION_MODEL : 'off');

  const databaseUrl = reader.url('DATABASE_URL', undefined, ['postgres:', 'postgresql:']) ?? null;
  const playbackLeadMs = reader.integer('PLAYBACK_LEAD_MS', 200, 40, 5_000);
  const pacerQuantumMs = reader.integer('PACER_QUANTUM_MS', 20, 20, 1_000);
  if (pacerQuantumMs > playbackLeadMs - 20) throw new ConfigError(`PACER_QUANTUM_MS must be at most PLAYBACK_LEAD_MS − 20 = ${playbackLeadMs - 20} (got ${pacerQuantumMs})`);
  const config: Config = {
    nodeEnv,
    logLevel: reader.oneOf('LOG_LEVEL', LOG_LEVELS, 'info'),
    agentsFile: reader.optional('AGENTS_FILE'),
    voice: { provider, fallback },
    elevenlabs: {
      backend: elevenLabsKey === null && !elevenLabsPublic ? 'simulated' : 'elevenlabs',
      apiKey: elevenLabsKey,
      agentId: elevenLabsAgentId,
      publicAgent: elevenLabsPublic,
      apiUrl: reader.url('ELEVENLABS_API_URL', 'https://api.elevenlabs.io', ['https:', 'http:'])!,
      textAs: reader.oneOf('ELEVENLABS_TEXT_AS', ELEVENLABS_TEXT_MODES, 'user_message'),
      sendOverrides: reader.boolean('ELEVENLABS_SEND_OVERRIDES', false),
      connectTimeoutMs: reader.integer('ELEVENLABS_CONNECT_TIMEOUT_MS', 10_000, 500, 60_000),
    },
    server: {
      port,
      host: reader.string('HOST', '0.0.0.0'),
      publicBaseUrl: publicBaseUrl ?? `http://localhost:${port}`,
      publicBaseUrlDerived: publicBaseUrl === undefined,
      maxConcurrentCalls: reader.integer('MAX_CONCURRENT_CALLS', 100, 1, 100_000),
      maxMessageBytes: reader.integer('MAX_MESSAGE_BYTES', 64 * 1024, 1024, 16 * 1024 * 1024),
      handshakeTimeoutMs: reader.integer('HANDSHAKE_TIMEOUT_MS', 5_000, 100, 60_000),
      streamTokenTtlMs: reader.integer('STREAM_TOKEN_TTL_MS', 30_000, 1_000, 600_000),
      recordDir: reader.optional('RECORD_DIR'),
      drainTimeoutS: reader.integer('DRAIN_TIMEOUT_S', 900, 0, 86_400),
      trustProxy: readTrustProxy(reader),
    },
    twilio: {
      authToken,
      preludeSay: reader.optional('TWIML_PRELUDE_SAY'),
      accountSid: reader.pattern('TWILIO_ACCOUNT_SID', /^AC[0-9a-f]{32}$/, 'AC followed by 32 hex digits'),
      apiKeySid: reader.pattern('TWILIO_API_KEY_SID', /^SK[0-9a-f]{32}$/, 'SK followed by 32 hex digits'),
      apiKeySecret: reader.secret('TWILIO_API_KEY_SECRET'),
      fromNumber: reader.pattern('TWILIO_FROM_NUMBER', /^\+[1-9]\d{6,14}$/, 'an E.164 number like +14155550100'),
      apiUrl: reader.url('TWILIO_API_URL', 'https://api.twilio.com', ['https:', 'http:'])!.replace(/\/$/, ''),
    },
    openai: {
      backend: apiKey === null ? 'simulated' : 'openai',
      apiKey,
      realtimeUrl,
      model: reader.string('OPENAI_REALTIME_MODEL', 'gpt-realtime'),
      authMode: reader.oneOf('OPENAI_AUTH_MODE', AUTH_MODES, defaultAuthMode),
      audioFormat: reader.oneOf('OPENAI_AUDIO_FORMAT', AUDIO_FORMATS, 'pcm'),
      voice: reader.oneOf('OPENAI_VOICE', VOICES, 'marin'),
      instructions: reader.string('AGENT_INSTRUCTIONS', DEFAULT_INSTRUCTIONS),
      greeting,
      turnDetection: readTurnDetection(reader),
      transcriptionModel: transcription === 'off' ? null : transcription,
      noiseReduction: reader.oneOf('NOISE_REDUCTION', NOISE_REDUCTION_TYPES, 'near_field'),
      predialTimeoutMs: reader.integer('PREDIAL_TIMEOUT_MS', 5_000, 100, 60_000),
      redialAttempts: reader.integer('UPSTREAM_REDIAL_ATTEMPTS', 0, 0, 5),
      sessionRotateAfterS: reader.integer('SESSION_ROTATE_AFTER_S', 3_300, 0, 86_400),
    },
    records: {
      enabled: recordsEnabled,
      dataDir: reader.string('DATA_DIR', './data'),
      databaseUrl,
      recordingsDir: reader.string('RECORDINGS_DIR', './data/recordings'),
      recordCalls: reader.boolean('RECORD_CALLS', false),
      recordingRetentionDays: reader.integer('RECORDING_RETENTION_DAYS', 30, 0, 36_500),
      prices: reader.parsed('PRICE_TABLE', parsePriceTable, () => parsePriceTable('{}')),
      maxBuffered: reader.integer('RECORDS_MAX_BUFFERED', 10_000, 10, 1_000_000),
    },
    cluster: readClusterConfig(reader, { publicBaseUrl: publicBaseUrl ?? `http://localhost:${port}`, databaseUrl, production }),
    api: { key: reader.secret('CALLBRIDGE_API_KEY') },
    console: { sessionTtlS: reader.integer('CONSOLE_SESSION_TTL_S', 28_800, 60, 604_800) },
    metrics: { token: reader.secret('METRICS_TOKEN') },
    tracing: {
      otlpEndpoint: reader.url('OTEL_EXPORTER_OTLP_ENDPOINT', undefined, ['http:', 'https:']) ?? null,
      otlpTracesEndpoint: reader.url('OTEL_EXPORTER_OTLP_TRACES_ENDPOINT', undefined, ['http:', 'https:']) ?? null,
    },
    guard: {
      dailySpendCapUsd: reader.raw('DAILY_SPEND_CAP_USD') === undefined ? null : reader.number('DAILY_SPEND_CAP_USD', 0, 0, 1_000_000_000),
      callerMaxCallsPerHour: reader.raw('CALLER_MAX_CALLS_PER_HOUR') === undefined ? null : reader.integer('CALLER_MAX_CALLS_PER_HOUR', 0, 1, 100_000),
      blocklist: reader.list('CALLER_BLOCKLIST', /^(\+?\d{1,15}\*?|\*|anonymous)$/, 'an E.164 number, a prefix like +1900*, or anonymous'),
    },
    outbound: {
      maxConcurrent: reader.integer('OUTBOUND_MAX_CONCURRENT', 10, 1, 10_000),
      callsPerSecond: reader.number('OUTBOUND_CALLS_PER_SECOND', 1, 0.01, 1_000),
      maxQueued: reader.integer('OUTBOUND_MAX_QUEUED', 100, 0, 100_000),
      ringTimeoutS: reader.integer('OUTBOUND_RING_TIMEOUT_S', 30, 5, 600),
      allowedPrefixes: reader.list('OUTBOUND_ALLOWED_PREFIXES', /^\+\d{1,15}$/, 'a + and digits, like +1555'),
    },
    call: {
      playbackLeadMs,
      pacerQuantumMs,
      markIntervalMs: reader.integer('MARK_INTERVAL_MS', 100, 20, 2_000),
      forwardDtmf: reader.boolean('FORWARD_DTMF', true),
      jitterCushionMs: reader.integer('JITTER_CUSHION_MS', 60, 0, 500),
      appendBatchMs: reader.integer('APPEND_BATCH_MS', DEFAULT_APPEND_BATCH_MS, 20, 200),
    },
  };
  return deepFreeze(config);
}

function deepFreeze<T>(value: T): Readonly<T> {
  if (value !== null && typeof value === 'object') {
    for (const nested of Object.values(value)) deepFreeze(nested);
    Object.freeze(value);
  }
  return value;
}
