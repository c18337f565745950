/**
 * Outbound Twilio Media Streams messages, as exact JSON text.
 *
 * `media` runs once per batch of agent audio per call, so the JSON is concatenated rather than built as an object and
 * stringified: base64 needs no escaping, and only the streamSid goes through JSON.stringify — once per stream with
 * `StreamMessages` (the transport's path), once per message with the functions below.
 */
import { bytesToBase64 } from '../audio/pcm.js';

/** `{"event":"media","streamSid":…,"media":{"payload":"<base64 mu-law>"}}`. Any payload size; Twilio plays in order. */
export function mediaMessage(streamSid: string, mulaw: Uint8Array): string {
  return `{"event":"media","streamSid":${JSON.stringify(streamSid)},"media":{"payload":"${bytesToBase64(mulaw)}"}}`;
}

/** `{"event":"mark","streamSid":…,"mark":{"name":…}}`: echoed back when playback reaches it, or on `clear`. */
export function markMessage(streamSid: string, name: string): string {
  return `{"event":"mark","streamSid":${JSON.stringify(streamSid)},"mark":{"name":${JSON.stringify(name)}}}`;
}

/** `{"event":"clear","streamSid":…}`: drops Twilio's buffered audio and echoes every pending mark at once. */
export function clearMessage(streamSid: string): string {
  return `{"event":"clear","streamSid":${JSON.stringify(streamSid)}}`;
}

/** The same three messages for one stream, its streamSid encoded once: byte for byte what the functions above build. */
export class StreamMessages {
  private readonly mediaHead: string;
  private readonly markHead: string;
  /** The stream's `clear`. */
  readonly clear: string;

  constructor(streamSid: string) {
    const sid = JSON.stringify(streamSid);
    this.mediaHead = `{"event":"media","streamSid":${sid},"media":{"payload":"`;
    this.markHead = `{"event":"mark","streamSid":${sid},"mark":{"name":`;
    this.clear = `{"event":"clear","streamSid":${sid}}`;
  }

  /** A `media` message around an already encoded payload (standard base64 of the mu-law bytes). */
  media(payloadBase64: string): string {
    return this.mediaHead + payloadBase64 + '"}}';
  }

  mark(name: string): string {
    return this.markHead + JSON.stringify(name) + '}}';
  }
}
