/**
 * The far end of an outbound call. A callee who answers has a timeline that starts at the moment of answer: what
 * they say (a person's audio; a machine's greeting, beep and recording silence), their key presses and when they
 * hang up. A `<Connect><Stream>` joins that timeline wherever it has got to, through the simulated caller's own
 * machinery (signed upgrade, paced media, playback emulator), so a bridge that connects late misses the start of a
 * greeting, as on a real line. The AMD verdict is derived from the same timeline.
 */
import { randomBytes } from 'node:crypto';
import { FRAME_DURATION_MS, MULAW_BYTES_PER_FRAME, MULAW_SAMPLE_RATE_HZ, msToMulawBytes, mulawBytesToMs, mulawSilence } from '../../audio/frames.js';
import { decodeMulaw, encodeMulaw } from '../../audio/mulaw.js';
import { base64ToBytes, concatBytes } from '../../audio/pcm.js';
import type { Clock } from '../../clock.js';
import type { FixtureDtmf } from '../fixtures.js';
import { generateTone } from '../realtime/tones.js';
import { buildScript } from '../twilio-caller-script.js';
import type { CallerAudio, PlaceCallOptions, SimulatedCall } from '../twilio-caller-types.js';
import { LiveCall, openStreamSocket } from '../twilio-live-call.js';
import { twilioSignatureHeader } from '../twilio-webhook-client.js';
import type { CreateCallRequest } from './create-params.js';
import type { AnsweredBy, HumanCallee, VoicemailCallee } from './types.js';

export const DEFAULT_BEEP_MS = 400;
export const DEFAULT_BEEP_HZ = 1_000;
export const DEFAULT_RECORD_MS = 30_000;
/** Loud enough to be unmistakable, far from clipping. */
const BEEP_AMPLITUDE = 8_000;
/** A 20 ms frame whose RMS exceeds this (PCM16, about -40 dBFS) is speech to the simulated AMD. */
const SPEECH_RMS = 330;

export interface CalleeTimeline {
  /** mu-law 8 kHz the callee sends from the moment of answer; silence after it. */
  mulaw: Uint8Array;
  /** Ms since answer. */
  dtmf: FixtureDtmf[];
  /** Ms since answer; null: the callee never hangs up by themselves. */
  hangUpAfterMs: number | null;
  /** Voicemail: ms since answer at which the greeting ends and the beep ends. */
  greetingEndMs: number | null;
  beepEndMs: number | null;
}

/** Builds what an answering callee will do. Throws TwilioCallerError (`invalid_audio`) for unreadable audio. */
export function calleeTimeline(behaviour: HumanCallee | VoicemailCallee): CalleeTimeline {
  if (behaviour.kind === 'human') {
    const spoken = audioTimeline(behaviour.audio);
    const dtmf = [...spoken.dtmf, ...(behaviour.dtmf ?? [])].sort((a, b) => a.atMs - b.atMs);
    return { mulaw: spoken.mulaw, dtmf, hangUpAfterMs: behaviour.hangUpAfterMs ?? null, greetingEndMs: null, beepEndMs: null };
  }
  const greeting = audioTimeline(behaviour.greeting).mulaw;
  const beepMs = behaviour.beepMs ?? DEFAULT_BEEP_MS;
  const recordMs = behaviour.recordMs ?? DEFAULT_RECORD_MS;
  const beep = beepMs > 0 ? encodeMulaw(generateTone(behaviour.beepHz ?? DEFAULT_BEEP_HZ, beepMs, BEEP_AMPLITUDE, MULAW_SAMPLE_RATE_HZ)) : new Uint8Array(0);
  const greetingEndMs = mulawBytesToMs(greeting.length);
  const beepEndMs = greetingEndMs + mulawBytesToMs(beep.length);
  return {
    mulaw: concatBytes([greeting, beep, mulawSilence(msToMulawBytes(recordMs))]),
    dtmf: [],
    hangUpAfterMs: beepEndMs + recordMs,
    greetingEndMs,
    beepEndMs,
  };
}

/** Any CallerAudio as one run of mu-law (through the caller's own script builder) plus its key presses. */
function audioTimeline(audio: CallerAudio): { mulaw: Uint8Array; dtmf: FixtureDtmf[] } {
  const script = buildScript({ baseUrl: 'http://callee.invalid', authToken: null, audio });
  const envelope = { sequenceNumber: '0', streamSid: '' };
  const frames: Uint8Array[] = [];
  const dtmf: FixtureDtmf[] = [];
  for (const entry of script.entries) {
    const message = entry.build(envelope);
    if (message.event === 'media') frames.push(base64ToBytes(message.media.payload));
    else if (message.event === 'dtmf') dtmf.push({ atMs: entry.atMs, digit: message.dtmf.digit });
  }
  return { mulaw: concatBytes(frames), dtmf };
}

export interface AmdVerdict {
  answeredBy: AnsweredBy;
  /** Ms since answer (MachineDetectionDuration). */
  afterMs: number;
}

/**
 * What Twilio's AMD concludes, and when. A person: `human` once their first words are followed by
 * MachineDetectionSpeechEndThreshold of silence (`unknown` after MachineDetectionSilenceTimeout if they say nothing).
 * A machine: with `Enable`, `machine_start` once the greeting has gone on for MachineDetectionSpeechThreshold (or at
 * its end if shorter); with `DetectMessageEnd`, `machine_end_beep` when the beep ends (`machine_end_silence` a
 * speech-end threshold after the greeting when there is no beep). Later than MachineDetectionTimeout: `unknown`.
 */
export function amdVerdict(behaviour: HumanCallee | VoicemailCallee, timeline: CalleeTimeline, request: CreateCallRequest): AmdVerdict {
  if (behaviour.amd !== undefined) return { ...behaviour.amd };
  let verdict: AmdVerdict;
  if (behaviour.kind === 'human') {
    const speechEndMs = firstUtteranceEndMs(timeline.mulaw, request.machineDetectionSpeechEndThresholdMs);
    verdict =
      speechEndMs === null
        ? { answeredBy: 'unknown', afterMs: request.machineDetectionSilenceTimeoutMs }
        : { answeredBy: 'human', afterMs: speechEndMs + request.machineDetectionSpeechEndThresholdMs };
  } else {
    const greetingEndMs = timeline.greetingEndMs ?? 0;
    const beepEndMs = timeline.beepEndMs ?? greetingEndMs;
    if (request.machineDetection === 'DetectMessageEnd') {
      verdict =
        beepEndMs > greetingEndMs
          ? { answeredBy: 'machine_end_beep', afterMs: beepEndMs }
          : { answeredBy: 'machine_end_silence', afterMs: greetingEndMs + request.machineDetectionSpeechEndThresholdMs };
    } else {
      const speechStartMs = firstSpeechStartMs(timeline.mulaw) ?? 0;
      verdict = { answeredBy: 'machine_start', afterMs: Math.min(speechStartMs + request.machineDetectionSpeechThresholdMs, greetingEndMs) };
    }
  }
  if (verdict.afterMs > request.machineDetectionTimeoutMs) return { answeredBy: 'unknown', afterMs: request.machineDetectionTimeoutMs };
  return verdict;
}

function speechFrames(mulaw: Uint8Array): boolean[] {
  const pcm = decodeMulaw(mulaw);
  const samplesPerFrame = MULAW_BYTES_PER_FRAME;
  const frames: boolean[] = [];
  for (let start = 0; start < pcm.length; start += samplesPerFrame) {
    const frame = pcm.subarray(start, start + samplesPerFrame);
    let sumSquares = 0;
    for (const sample of frame) sumSquares += sample * sample;
    frames.push(Math.sqrt(sumSquares / frame.length) > SPEECH_RMS);
  }
  return frames;
}

function firstSpeechStartMs(mulaw: Uint8Array): number | null {
  const index = speechFrames(mulaw).indexOf(true);
  return index === -1 ? null : index * FRAME_DURATION_MS;
}

/** End of the first run of speech not followed within `gapMs` by more speech (the line is silent after the audio). */
function firstUtteranceEndMs(mulaw: Uint8Array, gapMs: number): number | null {
  const frames = speechFrames(mulaw);
  let lastSpeechEndMs: number | null = null;
  for (let index = 0; index < frames.length; index++) {
    const frameStartMs = index * FRAME_DURATION_MS;
    if (lastSpeechEndMs !== null && frameStartMs - lastSpeechEndMs >= gapMs) break;
    if (frames[index]) lastSpeechEndMs = frameStartMs + FRAME_DURATION_MS;
  }
  return lastSpeechEndMs;
}

export interface CalleeStreamInit {
  /** The `<Stream url>` exactly as in the TwiML: the upgrade is signed over it. */
  url: string;
  /** Where to connect (the URL itself, or a tunnel's local end). */
  dialUrl: string;
  parameters: Record<string, string>;
  /** The TwiML document the stream came from (kept in the stream's result). */
  twiml: string;
  timeline: CalleeTimeline;
  /** Clock time of answer. */
  answeredAtClockMs: number;
  clock: Clock;
  callSid: string;
  accountSid: string;
  authToken: string;
  keepPayloads: boolean;
}

/**
 * Opens the stream (rejects with TwilioCallerError when refused or unreachable) and runs the callee's line through
 * it from where their timeline has got to. The line stays open until hung up or closed by the server.
 */
export async function openCalleeStream(init: CalleeStreamInit): Promise<{ call: SimulatedCall; startedAtMs: number }> {
  const socket = await openStreamSocket(init.dialUrl, twilioSignatureHeader(init.authToken, init.url, {}));
  const startedAtMs = init.clock.now() - init.answeredAtClockMs;
  const offsetBytes = Math.min(msToMulawBytes(startedAtMs), init.timeline.mulaw.length);
  const options: PlaceCallOptions = {
    baseUrl: new URL(init.dialUrl).origin,
    authToken: init.authToken,
    callSid: init.callSid,
    accountSid: init.accountSid,
    audio: { kind: 'mulaw', bytes: init.timeline.mulaw.subarray(offsetBytes) },
    dtmf: init.timeline.dtmf.filter((press) => press.atMs >= startedAtMs).map((press) => ({ atMs: press.atMs - startedAtMs, digit: press.digit })),
    clock: init.clock,
    keepLineOpen: true,
    keepPayloads: init.keepPayloads,
  };
  const live = new LiveCall({
    clock: init.clock,
    socket,
    callSid: init.callSid,
    accountSid: init.accountSid,
    streamSid: `MZ${randomBytes(16).toString('hex')}`,
    twiml: init.twiml,
    parsedTwiml: { streamUrl: init.url, parameters: { ...init.parameters }, says: [], hangup: false },
    streamUrl: init.url,
    script: buildScript(options),
    options,
  });
  return { call: live.publicView(), startedAtMs };
}
