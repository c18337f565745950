/** The server-event parser sits on the hot path of every call: it must never throw and must name what it skipped. */
import { describe, expect, it } from 'vitest';
import { KNOWN_SERVER_EVENT_TYPES, parseServerEvent } from '../src/providers/openai/events.js';

describe('parseServerEvent', () => {
  it('returns a known GA event as is', () => {
    const event = { type: 'response.output_audio.delta', event_id: 'ev_1', response_id: 'r', item_id: 'i', output_index: 0, content_index: 0, delta: 'AAAA' };
    expect(parseServerEvent(JSON.stringify(event))).toStrictEqual({ ok: true, event });
  });

  it.each([
    ['{"type":', 'INVALID_JSON'],
    ['', 'INVALID_JSON'],
    ['null', 'NOT_AN_OBJECT'],
    ['[1,2]', 'NOT_AN_OBJECT'],
    ['"session.created"', 'NOT_AN_OBJECT'],
    ['42', 'NOT_AN_OBJECT'],
    ['{}', 'MISSING_TYPE'],
    ['{"type":7}', 'MISSING_TYPE'],
    ['{"type":""}', 'MISSING_TYPE'],
    // Beta event names: the GA server never sends them, and treating one as known would misread its payload.
    ['{"type":"response.audio.delta","delta":"AAAA"}', 'UNKNOWN_EVENT'],
    ['{"type":"conversation.item.created.v2"}', 'UNKNOWN_EVENT'],
  ])('%j → %s, without throwing', (text, code) => {
    const result = parseServerEvent(text);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.code).toBe(code);
  });

  it('UNKNOWN_EVENT detail is the type, so callers can log once per type', () => {
    expect(parseServerEvent('{"type":"response.audio.delta"}')).toStrictEqual({ ok: false, code: 'UNKNOWN_EVENT', detail: 'response.audio.delta' });
  });

  it('quotes at most a short excerpt of a huge malformed frame', () => {
    const result = parseServerEvent(`{"type":"response.output_audio.delta","delta":"${'A'.repeat(100_000)}`);
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.code).toBe('INVALID_JSON');
      expect(result.detail.length).toBeLessThan(400);
    }
  });

  it('knows the GA events the bridge relies on and none of the beta names', () => {
    for (const type of [
      'session.created',
      'session.updated',
      'error',
      'input_audio_buffer.speech_started',
      'input_audio_buffer.speech_stopped',
      'input_audio_buffer.committed',
      'input_audio_buffer.timeout_triggered',
      'conversation.item.added',
      'conversation.item.done',
      'conversation.item.truncated',
      'conversation.item.input_audio_transcription.delta',
      'conversation.item.input_audio_transcription.completed',
      'response.created',
      'response.output_item.added',
      'response.output_item.done',
      'response.content_part.added',
      'response.content_part.done',
      'response.output_audio.delta',
      'response.output_audio.done',
      'response.output_audio_transcript.delta',
      'response.output_audio_transcript.done',
      'response.function_call_arguments.delta',
      'response.function_call_arguments.done',
      'response.done',
      'rate_limits.updated',
    ]) {
      expect(KNOWN_SERVER_EVENT_TYPES.has(type), type).toBe(true);
    }
    for (const beta of ['response.audio.delta', 'response.audio.done', 'response.audio_transcript.delta', 'response.text.delta']) {
      expect(KNOWN_SERVER_EVENT_TYPES.has(beta), beta).toBe(false);
    }
  });
});
