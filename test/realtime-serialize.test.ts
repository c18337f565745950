import { describe, expect, it } from 'vitest';
import { serializeClientEvent } from '../src/providers/openai/connection.js';

describe('serializeClientEvent', () => {
  it('builds audio appends by concatenation, byte-identical to JSON.stringify', () => {
    const event = { type: 'input_audio_buffer.append' as const, audio: 'AAEC/w==', event_id: 'cb_17' };
    expect(serializeClientEvent(event)).toBe(JSON.stringify(event));
  });

  it('falls back to JSON.stringify when an event id would need escaping, and for every other event', () => {
    const odd = { type: 'input_audio_buffer.append' as const, audio: 'AAEC', event_id: 'a"b' };
    expect(JSON.parse(serializeClientEvent(odd))).toEqual(odd);
    const truncate = { type: 'conversation.item.truncate' as const, item_id: 'item_1', content_index: 0, audio_end_ms: 730 };
    expect(serializeClientEvent(truncate)).toBe(JSON.stringify(truncate));
  });
});
