import { describe, expect, it } from 'vitest';
import { ConfigError, DEFAULT_GREETING, loadConfig } from '../src/config.js';

describe('loadConfig', () => {
  it('applies the documented defaults on an empty environment and freezes the result', () => {
    const config = loadConfig({});
    expect(config.server.port).toBe(8080);
    expect(config.server.publicBaseUrl).toBe('http://localhost:8080');
    expect(config.server.publicBaseUrlDerived).toBe(true);
    expect(config.openai.backend).toBe('simulated');
    expect(config.openai.realtimeUrl).toBe('wss://api.openai.com/v1/realtime');
    expect(config.openai.model).toBe('gpt-realtime');
    expect(config.openai.authMode).toBe('bearer');
    expect(config.openai.audioFormat).toBe('pcm');
    expect(config.openai.greeting).toBe(DEFAULT_GREETING);
    expect(config.openai.turnDetection).toEqual({
      type: 'server_vad',
      threshold: 0.5,
      prefixPaddingMs: 300,
      silenceDurationMs: 500,
      idleTimeoutMs: null,
      createResponse: true,
      interruptResponse: true,
    });
    expect(config.call).toEqual({ playbackLeadMs: 200, pacerQuantumMs: 20, markIntervalMs: 100, forwardDtmf: true, jitterCushionMs: 60, appendBatchMs: 40 });
    expect(config.openai.transcriptionModel).toBe('gpt-4o-mini-transcribe'); // records want the caller's words
    expect(config.openai.sessionRotateAfterS).toBe(3_300);
    expect(config.server.drainTimeoutS).toBe(900);
    const { prices, ...records } = config.records;
    expect(records).toEqual({ enabled: true, dataDir: './data', databaseUrl: null, recordingsDir: './data/recordings', recordCalls: false, recordingRetentionDays: 30, maxBuffered: 10_000 });
    expect(prices['gpt-realtime']).toEqual({ textInPerMTokUsd: 4, cachedInPerMTokUsd: 0.4, textOutPerMTokUsd: 16, audioInPerMTokUsd: 32, audioOutPerMTokUsd: 64 });
    expect(config.api).toEqual({ key: null });
    expect(config.metrics).toEqual({ token: null });
    expect(config.tracing).toEqual({ otlpEndpoint: null, otlpTracesEndpoint: null });
    expect(config.guard).toEqual({ dailySpendCapUsd: null, callerMaxCallsPerHour: null, blocklist: [] });
    expect(config.outbound).toEqual({ maxConcurrent: 10, callsPerSecond: 1, maxQueued: 100, ringTimeoutS: 30, allowedPrefixes: [] });
    expect(config.twilio).toMatchObject({ accountSid: null, apiKeySid: null, apiKeySecret: null, fromNumber: null, apiUrl: 'https://api.twilio.com' });
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.openai.turnDetection)).toBe(true);
  });

  it('reads a full production environment', () => {
    const config = loadConfig({
      NODE_ENV: 'production',
      PORT: '3000',
      PUBLIC_BASE_URL: 'https://voice.example.com/',
      OPENAI_API_KEY: 'sk-test',
      TWILIO_AUTH_TOKEN: 'tok',
      OPENAI_VOICE: 'cedar',
      TURN_DETECTION: 'semantic_vad',
      VAD_EAGERNESS: 'high',
      VAD_INTERRUPT_RESPONSE: 'false',
      AGENT_GREETING: '',
      OPENAI_AUDIO_FORMAT: 'pcmu',
    });
    expect(config.server.port).toBe(3000);
    expect(config.server.publicBaseUrl).toBe('https://voice.example.com');
    expect(config.openai.backend).toBe('openai');
    expect(config.openai.voice).toBe('cedar');
    expect(config.openai.greeting).toBeNull();
    expect(config.openai.audioFormat).toBe('pcmu');
    expect(config.openai.turnDetection).toEqual({ type: 'semantic_vad', eagerness: 'high', createResponse: true, interruptResponse: false });
  });

  it('uses the api-key header for Azure endpoints unless told otherwise', () => {
    const url = 'wss://res.openai.azure.com/openai/v1/realtime';
    expect(loadConfig({ OPENAI_REALTIME_URL: url }).openai.authMode).toBe('api-key');
    expect(loadConfig({ OPENAI_REALTIME_URL: url, OPENAI_AUTH_MODE: 'bearer' }).openai.authMode).toBe('bearer');
  });

  it.each([
    [{ PORT: 'abc' }, 'PORT must be an integer from 0 to 65535 (got "abc")'],
    [{ PORT: '70000' }, 'PORT must be an integer from 0 to 65535 (got "70000")'],
    [{ PORT: '80.5' }, 'PORT must be an integer from 0 to 65535 (got "80.5")'],
    [{ PUBLIC_BASE_URL: 'not a url' }, 'PUBLIC_BASE_URL must be a URL like https://host (got "not a url")'],
    [{ PUBLIC_BASE_URL: 'ftp://x.org' }, 'PUBLIC_BASE_URL must use https: or http: (got "ftp://x.org")'],
    [{ PUBLIC_BASE_URL: 'https://x.org/voice' }, 'PUBLIC_BASE_URL must be an origin only, like https://voice.example.com (got "https://x.org/voice")'],
    [{ OPENAI_REALTIME_URL: 'https://api.openai.com' }, 'OPENAI_REALTIME_URL must use wss: or ws: (got "https://api.openai.com")'],
    [{ OPENAI_VOICE: 'robot' }, 'OPENAI_VOICE must be one of alloy, ash, ballad, coral, echo, sage, shimmer, verse, marin, cedar (got "robot")'],
    [{ TURN_DETECTION: 'magic' }, 'TURN_DETECTION must be one of server_vad, semantic_vad, none (got "magic")'],
    [{ VAD_THRESHOLD: '1.5' }, 'VAD_THRESHOLD must be a number from 0 to 1 (got "1.5")'],
    [{ VAD_CREATE_RESPONSE: 'maybe' }, 'VAD_CREATE_RESPONSE must be true or false (got "maybe")'],
    [{ LOG_LEVEL: 'loud' }, 'LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent (got "loud")'],
    [{ TWILIO_ACCOUNT_SID: 'AC123' }, 'TWILIO_ACCOUNT_SID must be AC followed by 32 hex digits (got "AC123")'],
    [{ TWILIO_FROM_NUMBER: '5551234' }, 'TWILIO_FROM_NUMBER must be an E.164 number like +14155550100 (got "5551234")'],
    [{ TWILIO_API_KEY_SID: `SK${'a'.repeat(32)}` }, 'TWILIO_API_KEY_SID and TWILIO_API_KEY_SECRET must be set together'],
    [{ DATABASE_URL: 'mysql://db/x' }, 'DATABASE_URL must use postgres: or postgresql: (got "mysql://db/x")'],
    [{ PRICE_TABLE: '{"gpt-realtime":{"audioInPerMTokUsd":-1}}' }, 'PRICE_TABLE gpt-realtime.audioInPerMTokUsd:'],
    [{ PRICE_TABLE: 'cheap' }, 'PRICE_TABLE must be a JSON object like {"gpt-realtime":{"audioInPerMTokUsd":32}}'],
    [{ CALLER_BLOCKLIST: '+1555,abc' }, 'CALLER_BLOCKLIST must list values like an E.164 number, a prefix like +1900*, or anonymous (got "abc")'],
    [{ OUTBOUND_ALLOWED_PREFIXES: '1555' }, 'OUTBOUND_ALLOWED_PREFIXES must list values like a + and digits, like +1555 (got "1555")'],
    [{ DAILY_SPEND_CAP_USD: 'lots' }, 'DAILY_SPEND_CAP_USD must be a number from 0 to 1000000000 (got "lots")'],
    [{ JITTER_CUSHION_MS: '900' }, 'JITTER_CUSHION_MS must be an integer from 0 to 500 (got "900")'],
    [{ CALLBRIDGE_API_KEY: 'has space' }, 'CALLBRIDGE_API_KEY must be printable text without spaces or line breaks'],
    [{ NODE_ENV: 'production', TWILIO_AUTH_TOKEN: 't', PUBLIC_BASE_URL: 'https://a.b' }, 'OPENAI_API_KEY is required when NODE_ENV=production'],
    [{ NODE_ENV: 'production', OPENAI_API_KEY: 'k', PUBLIC_BASE_URL: 'https://a.b' }, 'TWILIO_AUTH_TOKEN is required when NODE_ENV=production'],
    [{ NODE_ENV: 'production', OPENAI_API_KEY: 'k', TWILIO_AUTH_TOKEN: 't' }, 'PUBLIC_BASE_URL is required when NODE_ENV=production'],
  ])('rejects %o with one clear line', (env, message) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(message);
  });
});
