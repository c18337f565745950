/**
 * The response streamer's pure builders: the `realtime.response` object, its `usage`, assistant items, and the reply
 * audio in the session's output format. No state: everything they report is passed in.
 */
import type {
  ConversationItem,
  RealtimeConversationItemAssistantMessage,
  RealtimeResponse,
  RealtimeResponseUsage,
} from 'openai/resources/realtime/realtime';
import { encodeMulaw } from '../../audio/mulaw.js';
import { pcm16ToBytes } from '../../audio/pcm.js';
import { resampleClip } from '../../audio/resampler.js';
import { MULAW_SAMPLE_RATE_HZ, PCM_SAMPLE_RATE_HZ } from '../../audio/frames.js';
import type { AudioFormatInfo, SimulatedSessionObject } from './session-config.js';
import type { SimulatedResponseRecord, UserTextMessage } from './session-types.js';

/** Approximate token rates for `usage`: the API bills output audio at about 20 tokens/s, input audio at about 10/s. */
const OUTPUT_AUDIO_MS_PER_TOKEN = 50;
const INPUT_AUDIO_MS_PER_TOKEN = 100;

export function responseObject(
  record: SimulatedResponseRecord,
  format: AudioFormatInfo,
  status: 'in_progress' | 'completed' | 'cancelled',
  output: ConversationItem[],
  conversationId: string,
  sessionObject: SimulatedSessionObject,
): RealtimeResponse {
  return {
    id: record.id,
    object: 'realtime.response',
    status,
    output,
    conversation_id: conversationId,
    output_modalities: ['audio'],
    max_output_tokens: 'inf',
    audio: {
      output: {
        format: format.kind === 'pcmu' ? { type: 'audio/pcmu' } : { type: 'audio/pcm', rate: 24_000 },
        voice: typeof sessionObject.audio?.output?.voice === 'string' ? sessionObject.audio.output.voice : 'marin',
      },
    },
    metadata: null,
  };
}

/** What the conversation had fed the model when the response was generated, for its `usage`. */
export interface UsageInputs {
  sessionInstructions: string | null | undefined;
  userTextMessages: readonly UserTextMessage[];
  committedAudioMs: number;
}

export function responseUsage(record: SimulatedResponseRecord, outputText: string, inputs: UsageInputs): RealtimeResponseUsage {
  const textOf = (value: string | null | undefined): number => (value ?? '').split(/\s+/).filter((word) => word !== '').length;
  const inputTextTokens =
    textOf(inputs.sessionInstructions) + textOf(record.instructions) + inputs.userTextMessages.reduce((sum, message) => sum + textOf(message.text), 0);
  const inputAudioTokens = Math.ceil(inputs.committedAudioMs / INPUT_AUDIO_MS_PER_TOKEN);
  const outputAudioTokens = Math.ceil((record.audioMsSent[record.itemId] ?? 0) / OUTPUT_AUDIO_MS_PER_TOKEN);
  const outputTextTokens = textOf(outputText);
  const inputTokens = inputTextTokens + inputAudioTokens;
  const outputTokens = outputTextTokens + outputAudioTokens;
  return {
    total_tokens: inputTokens + outputTokens,
    input_tokens: inputTokens,
    output_tokens: outputTokens,
    input_token_details: { text_tokens: inputTextTokens, audio_tokens: inputAudioTokens, cached_tokens: 0 },
    output_token_details: { text_tokens: outputTextTokens, audio_tokens: outputAudioTokens },
  };
}

export function assistantItem(
  id: string,
  status: 'in_progress' | 'completed' | 'incomplete',
  content: RealtimeConversationItemAssistantMessage.Content[],
): RealtimeConversationItemAssistantMessage {
  return { id, object: 'realtime.item', type: 'message', status, role: 'assistant', content };
}

/** 24 kHz PCM16 → the session's output format: PCM16 bytes as they are, or band-limited to 8 kHz and mu-law coded. */
export function encodeForOutput(samples24k: Int16Array, format: AudioFormatInfo): Uint8Array {
  if (format.kind === 'pcm') return pcm16ToBytes(samples24k).slice();
  const samples8k = resampleClip(samples24k, PCM_SAMPLE_RATE_HZ, MULAW_SAMPLE_RATE_HZ);
  // Keep exactly duration × 8 samples: the filter tail must not lengthen the item past the audio it represents.
  const exactLength = Math.round((samples24k.length * MULAW_SAMPLE_RATE_HZ) / PCM_SAMPLE_RATE_HZ);
  return encodeMulaw(samples8k.subarray(0, exactLength));
}
