/**
 * What the simulated agent says: reply specs (bundled speech, tones, tone-coded timelines, custom audio) and scripted
 * per-response behaviour (audio, a function call or an MCP call), resolved to 24 kHz PCM16 plus a transcript.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { PCM_SAMPLE_RATE_HZ } from '../../audio/frames.js';
import { readWav } from '../../audio/wav.js';
import { generateTone, generateToneTimeline } from './tones.js';

export type ReplySpec =
  /** Bundled espeak-ng phrases from assets/speech: the greeting for a greeting request, else answers round-robin. */
  | { kind: 'speech' }
  | { kind: 'tone'; frequencyHz: number; durationMs: number }
  /** 100 ms dual-tone segments naming the response and segment: decode with `decodeToneTimeline`. */
  | { kind: 'tone-coded'; durationMs: number }
  /** Any 24 kHz PCM16 audio per response index. */
  | { kind: 'custom'; generate(responseIndex: number): Int16Array; transcript?(responseIndex: number): string };

export type ScriptedResponse =
  | { kind: 'audio'; reply: ReplySpec }
  | {
      kind: 'function_call';
      name: string;
      /** JSON text, streamed in a few `function_call_arguments.delta` pieces. */
      arguments: string;
      /** Defaults to a generated `call_…` id. */
      callId?: string;
    }
  | {
      /**
       * The model calls a tool of a configured `mcp` server: the session calls the server itself (`tools/call`) and
       * the next audio answer starts by saying what the tool returned. With approval required, this response asks
       * for approval instead; an approving `mcp_approval_response` starts a response that makes the call.
       */
      kind: 'mcp_call';
      /** The `server_label` of an `mcp` tool in `session.tools`. */
      serverLabel: string;
      name: string;
      /** JSON text (an object), streamed in a few `mcp_call_arguments.delta` pieces. */
      arguments: string;
    };

export interface ReplyAudio {
  /** 24 kHz PCM16 mono. */
  samples24k: Int16Array;
  transcript: string;
}

interface SpeechPhrase {
  file: string;
  role: 'greeting' | 'answer';
  text: string;
}

interface SpeechBundle {
  greeting: ReplyAudio;
  answers: ReplyAudio[];
}

let speechBundle: SpeechBundle | null = null;

/** Loads assets/speech once per process (a few hundred KB). Works from src/ under tsx and from dist/ after a build. */
export function loadSpeechBundle(): SpeechBundle {
  if (speechBundle !== null) return speechBundle;
  const directory = new URL('../../../assets/speech/', import.meta.url);
  const manifest = JSON.parse(readFileSync(fileURLToPath(new URL('manifest.json', directory)), 'utf8')) as { phrases: SpeechPhrase[] };
  const load = (phrase: SpeechPhrase): ReplyAudio => {
    const wav = readWav(readFileSync(fileURLToPath(new URL(phrase.file, directory))));
    if (wav.sampleRateHz !== PCM_SAMPLE_RATE_HZ) throw new Error(`${phrase.file}: expected 24 kHz, got ${wav.sampleRateHz} Hz`);
    return { samples24k: wav.samples, transcript: phrase.text };
  };
  const greeting = manifest.phrases.find((phrase) => phrase.role === 'greeting');
  const answers = manifest.phrases.filter((phrase) => phrase.role === 'answer');
  if (greeting === undefined || answers.length === 0) throw new Error('assets/speech/manifest.json needs a greeting and answers');
  speechBundle = { greeting: load(greeting), answers: answers.map(load) };
  return speechBundle;
}

export interface ReplyContext {
  /** Ordinal of the response in its session, from 0. */
  responseIndex: number;
  /** Ordinal among this session's audio responses that were not greetings, from 0 (drives the round-robin). */
  answerIndex: number;
  /** True for a client `response.create` that carries instructions before any caller turn: the greeting. */
  isGreeting: boolean;
}

export function renderReply(spec: ReplySpec, context: ReplyContext): ReplyAudio {
  switch (spec.kind) {
    case 'speech': {
      const bundle = loadSpeechBundle();
      if (context.isGreeting) return bundle.greeting;
      return bundle.answers[context.answerIndex % bundle.answers.length]!;
    }
    case 'tone':
      return { samples24k: generateTone(spec.frequencyHz, spec.durationMs), transcript: `Tone of ${spec.frequencyHz} hertz.` };
    case 'tone-coded':
      return {
        samples24k: generateToneTimeline(context.responseIndex, spec.durationMs),
        transcript: `Tone-coded response ${context.responseIndex}.`,
      };
    case 'custom':
      return {
        samples24k: spec.generate(context.responseIndex),
        transcript: spec.transcript?.(context.responseIndex) ?? `Custom response ${context.responseIndex}.`,
      };
  }
}
