/**
 * What the call owner needs of the caller's side: the channel that carries the caller's audio in and the agent's
 * audio out. The Twilio Media Stream (src/twilio/media-stream.ts) is one; the browser phone (src/browser/channel.ts)
 * is another. Audio on a channel is in 20 ms frames of its `audio` format (Twilio: 8 kHz mu-law; the browser phone:
 * PCM16 at 16 or 24 kHz); playback is acknowledged with named marks, and `clear` drops what the far end has buffered
 * (echoing its pending marks).
 */
import type { ChannelAudio } from '../audio/channel-audio.js';


export interface CallerChannelHandlers {
  /** Caller audio in the channel's format, whole 20 ms frames, in timeline order (gaps already filled). */
  onMedia(payload: Uint8Array): void;
  /** A mark we sent came back: played, or flushed by `clear`. */
  onMark(name: string): void;
  onDtmf(digit: string): void;
  /** A line the caller typed (the browser phone, the terminal client): the agent answers it like speech. */
  onText?(text: string): void;
  /** The far end ended the call; the close follows. */
  onStop(): void;
  /** The channel closed, for any reason. Exactly once, always last. */
  onClose(event: { code: number; reason: string }): void;
}

export interface CallerChannel {
  /** The channel's audio format; absent = Twilio's 8 kHz mu-law. */
  readonly audio?: ChannelAudio;
  readonly start: { readonly callSid: string; readonly streamSid: string; readonly customParameters: Readonly<Record<string, string>> };
  /** Delivers what arrived since the channel opened, then live events. */
  setHandlers(handlers: CallerChannelHandlers): void;
  sendMedia(frame: Uint8Array): boolean;
  sendMark(name: string): boolean;
  sendClear(): boolean;
  /** Ends the channel from our side (Twilio then runs the next TwiML verb). Idempotent. */
  close(code?: number, reason?: string): void;
  /** Inbound continuity: gaps filled with silence. */
  stats(): { gaps: number; gapMs: number };
}
