/**
 * The pure ElevenLabs wire pieces: the tolerant parser (never throws, stable codes), format names, the initiation
 * message, the serializer, log-safe URLs, and the rules that turn a close or an error into a port fault.
 */
import { describe, expect, it } from 'vitest';
import { cutAtWord } from '../src/voice/transcript-cut.js';
import { faultForClose, faultForError } from '../src/providers/elevenlabs/connection-types.js';
import {
  buildInitiation,
  formatsFromMetadata,
  parseAudioFormat,
  parseServerMessage,
  serializeClientMessage,
  signedUrlOf,
  urlForLog,
} from '../src/providers/elevenlabs/wire.js';

describe('parseServerMessage', () => {
  it('flattens every message the provider uses', () => {
    const cases: Array<[object, object]> = [
      [{ type: 'audio', audio_event: { audio_base_64: 'AAE=', event_id: 3 } }, { type: 'audio', eventId: 3, audioBase64: 'AAE=' }],
      [{ type: 'interruption', interruption_event: { event_id: 4 } }, { type: 'interruption', eventId: 4 }],
      [{ type: 'ping', ping_event: { event_id: 5, ping_ms: 30 } }, { type: 'ping', eventId: 5, pingMs: 30 }],
      [{ type: 'agent_response', agent_response_event: { agent_response: 'Hi' } }, { type: 'agent_response', text: 'Hi', eventId: null }],
      [
        { type: 'agent_response_correction', agent_response_correction_event: { original_agent_response: 'Hi there', corrected_agent_response: 'Hi', event_id: 6 } },
        { type: 'agent_response_correction', original: 'Hi there', corrected: 'Hi', eventId: 6 },
      ],
      [{ type: 'user_transcript', user_transcription_event: { user_transcript: 'yes' } }, { type: 'user_transcript', text: 'yes', eventId: null }],
      [{ type: 'user_transcript', user_transcript_event: { user_transcript: 'no', event_id: 2 } }, { type: 'user_transcript', text: 'no', eventId: 2 }],
      [
        { type: 'client_tool_call', client_tool_call: { tool_name: 't', tool_call_id: 'c1', parameters: { a: 1 }, event_id: 8 } },
        { type: 'client_tool_call', toolName: 't', toolCallId: 'c1', parameters: { a: 1 }, eventId: 8 },
      ],
      [
        { type: 'conversation_initiation_metadata', conversation_initiation_metadata_event: { conversation_id: 'c', agent_output_audio_format: 'pcm_16000', user_input_audio_format: 'ulaw_8000' } },
        { type: 'conversation_initiation_metadata', conversationId: 'c', inputFormat: 'ulaw_8000', outputFormat: 'pcm_16000' },
      ],
      [{ type: 'error', error_event: { code: 1008, message: 'bad', error_type: 'input' } }, { type: 'error', code: '1008', errorType: 'input', message: 'bad' }],
      [{ type: 'error', message: 'top level' }, { type: 'error', code: null, errorType: null, message: 'top level' }],
      [{ type: 'vad_score', vad_score_event: { vad_score: 0.9 } }, { type: 'ignored', wireType: 'vad_score' }],
    ];
    for (const [wire, parsed] of cases) expect(parseServerMessage(JSON.stringify(wire))).toEqual({ ok: true, message: parsed });
  });

  it('accepts a numeric-string event id', () => {
    expect(parseServerMessage('{"type":"interruption","interruption_event":{"event_id":"12"}}')).toEqual({ ok: true, message: { type: 'interruption', eventId: 12 } });
  });

  it('never throws, and names each problem with a stable code', () => {
    const cases: Array<[string, string]> = [
      ['{', 'INVALID_JSON'],
      ['[1]', 'NOT_AN_OBJECT'],
      ['null', 'NOT_AN_OBJECT'],
      ['{"type":""}', 'MISSING_TYPE'],
      ['{"audio_event":{}}', 'MISSING_TYPE'],
      ['{"type":"brand_new"}', 'UNKNOWN_TYPE'],
      ['{"type":"audio","audio_event":{"audio_base_64":"AA=="}}', 'MISSING_FIELD'],
      ['{"type":"audio","audio_event":"x"}', 'MISSING_FIELD'],
      ['{"type":"ping","ping_event":{"event_id":1.5}}', 'MISSING_FIELD'],
      ['{"type":"conversation_initiation_metadata"}', 'MISSING_FIELD'],
      ['{"type":"client_tool_call","client_tool_call":{"tool_name":"t"}}', 'MISSING_FIELD'],
    ];
    for (const [text, code] of cases) expect(parseServerMessage(text)).toMatchObject({ ok: false, code });
    expect(parseServerMessage('{"type":"brand_new"}')).toEqual({ ok: false, code: 'UNKNOWN_TYPE', detail: 'brand_new' });
  });
});

describe('audio formats', () => {
  it('ulaw_8000 and the six PCM rates are supported; anything else is not', () => {
    expect(parseAudioFormat('ulaw_8000')).toEqual({ encoding: 'pcmu', sampleRateHz: 8_000 });
    for (const rate of [8_000, 16_000, 22_050, 24_000, 44_100, 48_000]) expect(parseAudioFormat(`pcm_${rate}`)).toEqual({ encoding: 'pcm16', sampleRateHz: rate });
    for (const name of ['mp3_44100', 'pcm_11025', 'ulaw_16000', 'alaw_8000', 'pcm_', 'PCM_16000', 'opus_48000']) expect(parseAudioFormat(name)).toBeNull();
  });

  it('the metadata check names the unsupported direction', () => {
    expect(formatsFromMetadata('ulaw_8000', 'mp3_44100')).toMatch(/^the agent speaks an unsupported agent_output_audio_format "mp3_44100" \(supported: ulaw_8000, pcm_8000/);
  });
});

describe('client messages', () => {
  it('the initiation carries only the overrides given', () => {
    expect(buildInitiation({ language: 'de' }, {})).toEqual({ type: 'conversation_initiation_client_data', conversation_config_override: { agent: { language: 'de' } } });
    expect(buildInitiation({ voiceId: 'v' }, { a: '1' })).toEqual({
      type: 'conversation_initiation_client_data',
      conversation_config_override: { tts: { voice_id: 'v' } },
      dynamic_variables: { a: '1' },
    });
    expect(buildInitiation(undefined, {})).toEqual({ type: 'conversation_initiation_client_data' });
  });

  it('audio is serialized without a type; everything else as JSON', () => {
    expect(serializeClientMessage({ user_audio_chunk: 'AAE=' })).toBe('{"user_audio_chunk":"AAE="}');
    expect(JSON.parse(serializeClientMessage({ type: 'user_message', text: 'say "hi"' }))).toEqual({ type: 'user_message', text: 'say "hi"' });
  });
});

describe('URLs', () => {
  it('a logged URL keeps agent_id and hides every other query value', () => {
    expect(urlForLog('wss://api.elevenlabs.io/v1/convai/conversation?agent_id=a1&conversation_signature=secret&token=t')).toBe(
      'wss://api.elevenlabs.io/v1/convai/conversation?agent_id=a1&conversation_signature=REDACTED&token=REDACTED',
    );
  });

  it('only a ws:/wss: signed_url is accepted', () => {
    expect(signedUrlOf({ signed_url: 'wss://x/y?z=1' })).toBe('wss://x/y?z=1');
    expect(signedUrlOf({ signed_url: 'https://x/y' })).toBeNull();
    expect(signedUrlOf({ signed_url: 'not a url' })).toBeNull();
    expect(signedUrlOf('wss://x')).toBeNull();
  });
});

describe('faults', () => {
  const connecting = { state: 'initiating' as const, readyForMs: null, maxDurationMs: null };
  const live = { state: 'ready' as const, readyForMs: 10_000, maxDurationMs: 600_000 };

  it('close codes', () => {
    expect(faultForClose(1008, 'Invalid API key', connecting).kind).toBe('unauthorized');
    expect(faultForClose(1008, 'Override for field first_message is not allowed', connecting).kind).toBe('protocol');
    expect(faultForClose(1008, 'Invalid API key', live).kind).toBe('protocol');
    expect(faultForClose(1002, '', live)).toMatchObject({ kind: 'closed', closeCode: 1002 });
    expect(faultForClose(1011, 'internal', live)).toMatchObject({ kind: 'closed', closeCode: 1011 });
    expect(faultForClose(1000, 'Maximum duration reached', live).kind).toBe('session_expired');
    expect(faultForClose(1000, '', { ...live, readyForMs: 600_000 }).kind).toBe('session_expired');
    // A plain normal close of a running conversation is the agent ending it; while connecting it is a failure.
    expect(faultForClose(1000, '', live).kind).toBe('ended');
    expect(faultForClose(1000, '', connecting).kind).toBe('closed');
  });

  it('error messages: fatal ones become faults, the rest are only logged', () => {
    expect(faultForError({ code: null, errorType: 'auth_error', message: 'Unauthorized' })?.kind).toBe('unauthorized');
    expect(faultForError({ code: 'max_duration_exceeded', errorType: null, message: '' })?.kind).toBe('session_expired');
    expect(faultForError({ code: null, errorType: null, message: 'Override for field prompt not allowed' })?.kind).toBe('protocol');
    expect(faultForError({ code: 'quota_exceeded', errorType: null, message: '' })?.kind).toBe('protocol');
    expect(faultForError({ code: 'transient', errorType: 'warning', message: 'LLM slow' })).toBeNull();
    // An error whose code is the close code that follows ends the session at once, with the close code.
    expect(faultForError({ code: '1011', errorType: 'llm_error', message: 'LLM failed' })).toEqual({
      kind: 'closed',
      code: 'llm_error',
      message: 'ElevenLabs error: 1011 llm_error LLM failed',
      closeCode: 1011,
    });
    expect(faultForError({ code: '1008', errorType: 'missing_dynamic_variable', message: 'caller_name' })?.kind).toBe('protocol');
    expect(faultForError({ code: '1000', errorType: 'max_duration_exceeded', message: '' })?.kind).toBe('session_expired');
  });
});

describe('cutAtWord', () => {
  it('keeps whole words up to the share', () => {
    expect(cutAtWord('Sure, I can help you with', 0.5)).toBe('Sure, I can');
    expect(cutAtWord('one two three four', 0.5)).toBe('one two');
    expect(cutAtWord('one two', 1)).toBe('one two');
    expect(cutAtWord('incomprehensibilities', 0.5)).toBe('');
    expect(cutAtWord('abc', 0)).toBe('');
  });
});
