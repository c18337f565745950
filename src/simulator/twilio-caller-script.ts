/**
 * What the caller sends after `start`, and when: the audio as 20 ms media frames (or a recorded fixture's media and
 * dtmf at their recorded times), the scripted key presses, then a phone's continued silence up to the hang-up time.
 * Built before the phone rings, so a bad audio file fails the call before any request is made.
 */
import { readFileSync } from 'node:fs';
import { FRAME_DURATION_MS, MULAW_BYTES_PER_FRAME, MULAW_SAMPLE_RATE_HZ, mulawSilence } from '../audio/frames.js';
import { encodeMulaw } from '../audio/mulaw.js';
import { bytesToBase64 } from '../audio/pcm.js';
import { resampleClip } from '../audio/resampler.js';
import { readWav } from '../audio/wav.js';
import { buildFixture, readFixture, silenceMulaw, type FixtureMessage, type TwilioInboundMessage } from './fixtures.js';
import { TwilioCallerError, type CallerAudio, type PlaceCallOptions } from './twilio-caller-types.js';

/** The ids every message after `connected` carries; the sequence number is only known at send time. */
export interface StreamEnvelope {
  sequenceNumber: string;
  streamSid: string;
}

export interface ScriptEntry {
  /** Ms since stream start at which to send. */
  atMs: number;
  build: (envelope: StreamEnvelope) => TwilioInboundMessage;
}

export interface Script {
  /** In send order. */
  entries: ScriptEntry[];
  /** Ms since stream start at which the caller sends `stop`. */
  hangUpAtMs: number;
}

export function buildScript(options: PlaceCallOptions): Script {
  const dtmf = options.dtmf ?? [];
  let recorded: FixtureMessage[];
  if (options.audio.kind === 'fixture') {
    const { audio } = options;
    const fixture = 'path' in audio ? readAudioOrThrow(`fixture ${audio.path}`, () => readFixture(audio.path)) : [...audio.messages];
    // Recorded times are relative to the recording's start; ours to this call's start.
    const startAtMs = fixture.find((entry) => entry.message.event === 'start')?.atMs ?? fixture[0]?.atMs ?? 0;
    recorded = fixture
      .filter((entry) => entry.message.event === 'media' || entry.message.event === 'dtmf')
      .map((entry) => ({ atMs: entry.atMs - startAtMs, message: entry.message }));
    recorded.push(...buildFixture({ mulaw: new Uint8Array(0), dtmf, envelope: false }));
    recorded.sort((a, b) => a.atMs - b.atMs);
  } else {
    recorded = buildFixture({ mulaw: loadMulaw(options.audio), dtmf, envelope: false });
  }

  const entries: ScriptEntry[] = recorded.map((entry) => ({ atMs: entry.atMs, build: rebuild(entry.message) }));
  const lastMedia = recorded.findLast((entry) => entry.message.event === 'media');
  const lastMediaAtMs = lastMedia?.atMs ?? 0;
  const audioEndMs = Math.max(lastMediaAtMs, recorded.at(-1)?.atMs ?? 0);
  const hangUpAtMs = options.hangUpAfterMs ?? audioEndMs + (options.trailingSilenceMs ?? 0);

  // A phone keeps sending frames while the caller is silent; continue the numbering of the last media frame.
  let chunk = lastMedia?.message.event === 'media' ? Number(lastMedia.message.media.chunk) : 0;
  let timestampMs = lastMedia?.message.event === 'media' ? Number(lastMedia.message.media.timestamp) : 0;
  const silencePayload = bytesToBase64(mulawSilence(MULAW_BYTES_PER_FRAME));
  for (let atMs = lastMediaAtMs + FRAME_DURATION_MS; atMs <= hangUpAtMs; atMs += FRAME_DURATION_MS) {
    chunk++;
    timestampMs += FRAME_DURATION_MS;
    const media = { track: 'inbound' as const, chunk: String(chunk), timestamp: String(timestampMs), payload: silencePayload };
    entries.push({ atMs, build: (envelope) => ({ event: 'media', ...envelope, media }) });
  }
  entries.sort((a, b) => a.atMs - b.atMs);
  return { entries: entries.filter((entry) => entry.atMs <= hangUpAtMs), hangUpAtMs };
}

/** Resamples a whole clip to 8 kHz, tail included. */
export function resampleTo8k(samples: Int16Array, sampleRateHz: number): Int16Array {
  return resampleClip(samples, sampleRateHz, MULAW_SAMPLE_RATE_HZ);
}

function rebuild(message: TwilioInboundMessage): ScriptEntry['build'] {
  return (envelope) => ({ ...message, ...envelope }) as TwilioInboundMessage;
}

function loadMulaw(audio: Exclude<CallerAudio, { kind: 'fixture' }>): Uint8Array {
  switch (audio.kind) {
    case 'mulaw':
      return audio.bytes;
    case 'silence':
      return silenceMulaw(audio.durationMs);
    case 'wav': {
      const source = 'path' in audio ? audio.path : 'WAV data';
      const wav = readAudioOrThrow(source, () => readWav('path' in audio ? readFileSync(audio.path) : audio.data));
      return encodeMulaw(resampleTo8k(wav.samples, wav.sampleRateHz));
    }
  }
}

/** Any failure to read the caller's audio is the caller's `invalid_audio`, naming what could not be read. */
function readAudioOrThrow<T>(source: string, read: () => T): T {
  try {
    return read();
  } catch (error) {
    throw new TwilioCallerError('invalid_audio', `cannot read ${source}: ${(error as Error).message}`);
  }
}
