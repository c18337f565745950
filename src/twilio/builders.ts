/**
 * Outbound Twilio Media Streams messages, as exact JSON text.
 *
 * `mediaMessage` runs once per 20 ms frame per call, so the JSON is concatenated rather than built as an object and
 * stringified: base64 needs no escaping, and only the streamSid goes through JSON.stringify.
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
