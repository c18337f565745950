/**
 * Recorded (or synthesised) Twilio Media Streams: what Twilio sent to the bridge during one call, one JSON object per
 * line: `{"atMs": <ms since the stream's first message>, "message": <inbound Twilio message>}`. The server's call
 * recorder writes the same shape, so a recorded call can be replayed by the simulated caller.
 *
 * Message shapes follow Twilio's documentation (see docs/PROTOCOLS.md): every numeric-looking field is a string.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { FRAME_DURATION_MS, MULAW_BYTES_PER_FRAME, msToMulawBytes, mulawSilence } from '../audio/frames.js';
import { bytesToBase64, concatBytes } from '../audio/pcm.js';

export interface TwilioConnectedMessage {
  event: 'connected';
  protocol: 'Call';
  version: '1.0.0';
}

export interface TwilioStartMessage {
  event: 'start';
  sequenceNumber: string;
  streamSid: string;
  start: {
    accountSid: string;
    streamSid: string;
    callSid: string;
    tracks: string[];
    customParameters: Record<string, string>;
    mediaFormat: { encoding: 'audio/x-mulaw'; sampleRate: 8000; channels: 1 };
  };
}

export interface TwilioMediaMessage {
  event: 'media';
  sequenceNumber: string;
  streamSid: string;
  media: { track: 'inbound'; chunk: string; timestamp: string; payload: string };
}

export interface TwilioDtmfMessage {
  event: 'dtmf';
  sequenceNumber: string;
  streamSid: string;
  dtmf: { track: 'inbound_track'; digit: string };
}

export interface TwilioMarkMessage {
  event: 'mark';
  sequenceNumber: string;
  streamSid: string;
  mark: { name: string };
}

export interface TwilioStopMessage {
  event: 'stop';
  sequenceNumber: string;
  streamSid: string;
  stop: { accountSid: string; callSid: string };
}

/** Anything Twilio sends on a bidirectional Media Stream. */
export type TwilioInboundMessage =
  | TwilioConnectedMessage
  | TwilioStartMessage
  | TwilioMediaMessage
  | TwilioDtmfMessage
  | TwilioMarkMessage
  | TwilioStopMessage;

export interface FixtureMessage {
  /** Milliseconds since the stream's first message (`connected` is at 0 in fixtures made here). */
  atMs: number;
  message: TwilioInboundMessage;
}

export class FixtureFormatError extends Error {
  override name = 'FixtureFormatError';
}

const INBOUND_EVENTS = new Set(['connected', 'start', 'media', 'dtmf', 'mark', 'stop']);

/** Parses JSON-lines fixture text. Blank lines are skipped; anything else malformed throws naming the line. */
export function parseFixture(text: string): FixtureMessage[] {
  const messages: FixtureMessage[] = [];
  const lines = text.split('\n');
  for (let index = 0; index < lines.length; index++) {
    const line = lines[index]!.trim();
    if (line === '') continue;
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch {
      throw new FixtureFormatError(`line ${index + 1}: not JSON`);
    }
    if (typeof parsed !== 'object' || parsed === null) throw new FixtureFormatError(`line ${index + 1}: not an object`);
    const { atMs, message } = parsed as { atMs?: unknown; message?: unknown };
    if (typeof atMs !== 'number' || !Number.isFinite(atMs)) throw new FixtureFormatError(`line ${index + 1}: atMs must be a number`);
    const event = typeof message === 'object' && message !== null ? (message as { event?: unknown }).event : undefined;
    if (typeof event !== 'string' || !INBOUND_EVENTS.has(event)) {
      throw new FixtureFormatError(`line ${index + 1}: message.event must be one of ${[...INBOUND_EVENTS].join(', ')}`);
    }
    messages.push({ atMs, message: message as TwilioInboundMessage });
  }
  return messages;
}

export function serializeFixture(messages: readonly FixtureMessage[]): string {
  return messages.map((entry) => JSON.stringify({ atMs: entry.atMs, message: entry.message })).join('\n') + '\n';
}

export function readFixture(path: string): FixtureMessage[] {
  return parseFixture(readFileSync(path, 'utf8'));
}

export function writeFixture(path: string, messages: readonly FixtureMessage[]): void {
  writeFileSync(path, serializeFixture(messages));
}

export interface FixtureDtmf {
  /** Ms since stream start at which the key press is reported. */
  atMs: number;
  digit: string;
}

export interface FixtureGap {
  /** Ms since stream start where the hole begins (rounded down to a frame boundary). */
  atMs: number;
  /** Length of the hole; the audio that falls in it is lost, as with dropped packets. */
  durationMs: number;
}

export interface BuildFixtureOptions {
  /** Caller audio, mu-law 8 kHz. A partial last frame is padded with mu-law silence. */
  mulaw: Uint8Array;
  dtmf?: readonly FixtureDtmf[];
  gaps?: readonly FixtureGap[];
  streamSid?: string;
  callSid?: string;
  accountSid?: string;
  customParameters?: Record<string, string>;
  /** Include `connected`, `start` and `stop` (default true). The caller builds its own and passes false. */
  envelope?: boolean;
}

export const FIXTURE_STREAM_SID = 'MZ00000000000000000000000000000000';
export const FIXTURE_CALL_SID = 'CA00000000000000000000000000000000';
export const FIXTURE_ACCOUNT_SID = 'AC00000000000000000000000000000000';

/**
 * Builds the messages Twilio would send for `mulaw` spoken by the caller: `connected` and `start` at 0 ms, then media
 * chunk k (1-based) at `atMs = timestamp = 20·k` — a frame can only be sent once its 20 ms have been captured, and
 * this matches the numbering in Twilio's documentation (chunk "2" at timestamp "40"). Frames inside a gap are not
 * sent and the next timestamp jumps; chunk keeps counting sent media. `stop` follows the last frame.
 * Sequence numbers are consecutive over every message in time order.
 */
export function buildFixture(options: BuildFixtureOptions): FixtureMessage[] {
  const streamSid = options.streamSid ?? FIXTURE_STREAM_SID;
  const callSid = options.callSid ?? FIXTURE_CALL_SID;
  const accountSid = options.accountSid ?? FIXTURE_ACCOUNT_SID;
  const envelope = options.envelope ?? true;
  const gaps = options.gaps ?? [];
  const frameCount = Math.ceil(options.mulaw.length / MULAW_BYTES_PER_FRAME);
  const timed: Array<{ atMs: number; order: number; build: (sequenceNumber: string) => TwilioInboundMessage }> = [];
  let order = 0;

  // Every frame slot at 20·k; a gap removes the slots whose audio starts inside it and shifts nothing else.
  let chunk = 0;
  for (let frame = 0; frame < frameCount; frame++) {
    const audioStartMs = frame * FRAME_DURATION_MS;
    if (gaps.some((gap) => audioStartMs >= gap.atMs - (gap.atMs % FRAME_DURATION_MS) && audioStartMs < gap.atMs + gap.durationMs)) continue;
    chunk++;
    const payloadBytes = mulawSilence(MULAW_BYTES_PER_FRAME);
    payloadBytes.set(options.mulaw.subarray(frame * MULAW_BYTES_PER_FRAME, (frame + 1) * MULAW_BYTES_PER_FRAME));
    const payload = bytesToBase64(payloadBytes);
    const timestampMs = (frame + 1) * FRAME_DURATION_MS;
    const chunkText = String(chunk);
    timed.push({
      atMs: timestampMs,
      order: order++,
      build: (sequenceNumber) => ({ event: 'media', sequenceNumber, streamSid, media: { track: 'inbound', chunk: chunkText, timestamp: String(timestampMs), payload } }),
    });
  }
  for (const press of options.dtmf ?? []) {
    timed.push({
      atMs: press.atMs,
      order: order++,
      build: (sequenceNumber) => ({ event: 'dtmf', sequenceNumber, streamSid, dtmf: { track: 'inbound_track', digit: press.digit } }),
    });
  }
  timed.sort((a, b) => a.atMs - b.atMs || a.order - b.order);

  const messages: FixtureMessage[] = [];
  let sequence = 0;
  if (envelope) {
    messages.push({ atMs: 0, message: { event: 'connected', protocol: 'Call', version: '1.0.0' } });
    messages.push({
      atMs: 0,
      message: {
        event: 'start',
        sequenceNumber: String(++sequence),
        streamSid,
        start: {
          accountSid,
          streamSid,
          callSid,
          tracks: ['inbound'],
          customParameters: { ...(options.customParameters ?? {}) },
          mediaFormat: { encoding: 'audio/x-mulaw', sampleRate: 8000, channels: 1 },
        },
      },
    });
  }
  for (const entry of timed) messages.push({ atMs: entry.atMs, message: entry.build(String(++sequence)) });
  if (envelope) {
    const endMs = Math.max(frameCount * FRAME_DURATION_MS, timed.at(-1)?.atMs ?? 0);
    messages.push({ atMs: endMs, message: { event: 'stop', sequenceNumber: String(++sequence), streamSid, stop: { accountSid, callSid } } });
  }
  return messages;
}

/** The caller's audio as sent, in send order (gaps simply absent). */
export function fixtureMulaw(messages: readonly FixtureMessage[]): Uint8Array {
  const chunks = messages.flatMap((entry) => (entry.message.event === 'media' ? [Buffer.from(entry.message.media.payload, 'base64')] : []));
  const joined = Buffer.concat(chunks);
  return new Uint8Array(joined.buffer, joined.byteOffset, joined.byteLength);
}

/** mu-law silence for `durationMs`, whole bytes (8 per ms). */
export function silenceMulaw(durationMs: number): Uint8Array {
  return mulawSilence(msToMulawBytes(durationMs));
}

export const concatMulaw: (parts: readonly Uint8Array[]) => Uint8Array = concatBytes;
