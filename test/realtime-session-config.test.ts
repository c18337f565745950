/**
 * The session.update is the one message that decides the audio format of the whole call: a beta field or a wrong
 * format means silence or noise. Every case asserts the whole message so an extra field (say `temperature`) fails.
 */
import { describe, expect, it } from 'vitest';
import { loadConfig, type Config } from '../src/config.js';
import { buildSessionUpdate, expectedFormats, formatMatches } from '../src/providers/openai/session-config.js';
import type { FunctionTool, RealtimeAudioFormats } from '../src/providers/openai/events.js';

const INSTRUCTIONS = 'Be brief.';

function openaiConfig(overrides: Partial<Config['openai']> = {}): Config['openai'] {
  return { ...loadConfig({ NODE_ENV: 'test' }).openai, instructions: INSTRUCTIONS, voice: 'cedar', ...overrides };
}

const PCM: RealtimeAudioFormats = { type: 'audio/pcm', rate: 24000 };
const PCMU: RealtimeAudioFormats = { type: 'audio/pcmu' };

describe('buildSessionUpdate', () => {
  it('server_vad with idle timeout, pcm, transcription on, near-field noise reduction', () => {
    const update = buildSessionUpdate(
      openaiConfig({
        transcriptionModel: 'gpt-4o-mini-transcribe',
        noiseReduction: 'near_field',
        turnDetection: {
          type: 'server_vad',
          threshold: 0.6,
          prefixPaddingMs: 300,
          silenceDurationMs: 450,
          idleTimeoutMs: 8000,
          createResponse: true,
          interruptResponse: false,
        },
      }),
    );
    expect(update).toStrictEqual({
      type: 'session.update',
      session: {
        type: 'realtime',
        output_modalities: ['audio'],
        instructions: INSTRUCTIONS,
        audio: {
          input: {
            format: PCM,
            transcription: { model: 'gpt-4o-mini-transcribe' },
            noise_reduction: { type: 'near_field' },
            turn_detection: {
              type: 'server_vad',
              threshold: 0.6,
              prefix_padding_ms: 300,
              silence_duration_ms: 450,
              idle_timeout_ms: 8000,
              create_response: true,
              interrupt_response: false,
            },
          },
          output: { format: PCM, voice: 'cedar' },
        },
      },
    });
  });

  it('server_vad without idle timeout omits idle_timeout_ms; transcription off is omitted', () => {
    const update = buildSessionUpdate(
      openaiConfig({
        transcriptionModel: null,
        noiseReduction: 'far_field',
        turnDetection: {
          type: 'server_vad',
          threshold: 0.5,
          prefixPaddingMs: 200,
          silenceDurationMs: 500,
          idleTimeoutMs: null,
          createResponse: false,
          interruptResponse: true,
        },
      }),
    );
    expect(update).toStrictEqual({
      type: 'session.update',
      session: {
        type: 'realtime',
        output_modalities: ['audio'],
        instructions: INSTRUCTIONS,
        audio: {
          input: {
            format: PCM,
            noise_reduction: { type: 'far_field' },
            turn_detection: {
              type: 'server_vad',
              threshold: 0.5,
              prefix_padding_ms: 200,
              silence_duration_ms: 500,
              create_response: false,
              interrupt_response: true,
            },
          },
          output: { format: PCM, voice: 'cedar' },
        },
      },
    });
  });

  it('semantic_vad, pcmu both ways, noise reduction off is an explicit null', () => {
    const update = buildSessionUpdate(
      openaiConfig({
        audioFormat: 'pcmu',
        transcriptionModel: null,
        noiseReduction: 'off',
        turnDetection: { type: 'semantic_vad', eagerness: 'low', createResponse: true, interruptResponse: true },
      }),
    );
    expect(update).toStrictEqual({
      type: 'session.update',
      session: {
        type: 'realtime',
        output_modalities: ['audio'],
        instructions: INSTRUCTIONS,
        audio: {
          input: {
            format: { type: 'audio/pcmu' },
            noise_reduction: null,
            turn_detection: { type: 'semantic_vad', eagerness: 'low', create_response: true, interrupt_response: true },
          },
          output: { format: { type: 'audio/pcmu' }, voice: 'cedar' },
        },
      },
    });
  });

  it('turn detection none is an explicit null; tools come with tool_choice auto', () => {
    const tools: FunctionTool[] = [
      { type: 'function', name: 'end_call', description: 'Hang up.', parameters: { type: 'object', properties: {} } },
    ];
    const update = buildSessionUpdate(openaiConfig({ transcriptionModel: null, noiseReduction: 'near_field', turnDetection: { type: 'none' } }), tools);
    expect(update).toStrictEqual({
      type: 'session.update',
      session: {
        type: 'realtime',
        output_modalities: ['audio'],
        instructions: INSTRUCTIONS,
        audio: {
          input: { format: PCM, noise_reduction: { type: 'near_field' }, turn_detection: null },
          output: { format: PCM, voice: 'cedar' },
        },
        tools: [{ type: 'function', name: 'end_call', description: 'Hang up.', parameters: { type: 'object', properties: {} } }],
        tool_choice: 'auto',
      },
    });
  });

  it('never emits beta fields', () => {
    const text = JSON.stringify(buildSessionUpdate(openaiConfig()));
    for (const betaField of ['temperature', 'input_audio_format', 'output_audio_format', 'pcm16', '"modalities"', 'turn_detection":{"type":"server_vad","silence']) {
      expect(text).not.toContain(betaField);
    }
  });
});

describe('expectedFormats / formatMatches', () => {
  it('pcm expects 24 kHz PCM both ways; pcmu expects mu-law', () => {
    expect(expectedFormats(openaiConfig({ audioFormat: 'pcm' }))).toStrictEqual({ input: PCM, output: PCM });
    expect(expectedFormats(openaiConfig({ audioFormat: 'pcmu' }))).toStrictEqual({ input: { type: 'audio/pcmu' }, output: { type: 'audio/pcmu' } });
  });

  it.each([
    [{ type: 'audio/pcm', rate: 24000 }, PCM, true],
    [{ type: 'audio/pcm' }, PCM, true],
    [{ type: 'audio/pcm', rate: 16000 }, PCM, false],
    [{ type: 'audio/pcmu' }, PCM, false],
    ['pcm16', PCM, false],
    [undefined, PCM, false],
    [null, PCMU, false],
    [{ type: 'audio/pcmu' }, PCMU, true],
    [{ type: 'audio/pcma' }, PCMU, false],
  ] satisfies Array<[unknown, RealtimeAudioFormats, boolean]>)('formatMatches(%j, %j) is %s', (actual, expected, matches) => {
    expect(formatMatches(actual, expected)).toBe(matches);
  });
});
