/**
 * What the call owner needs of the caller's side: the channel that carries the caller's audio in and the agent's
 * audio out. The Twilio Media Stream (src/twilio/media-stream.ts) is one; a browser phone is another. Audio on a
 * channel is 8 kHz mu-law in 20 ms frames; playback is acknowledged with named marks, and `clear` drops what the
 * far end has buffered (echoing its pending marks).
 */

export interface CallerChannelHandlers {
  /** Caller audio, mu-law 8 kHz, in timeline order (gaps already filled). */
  onMedia(payload: Uint8Array): void;
  /** A mark we sent came back: played, or flushed by `clear`. */
  onMark(name: string): void;
  onDtmf(digit: string): void;
  /** The far end ended the call; the close follows. */
  onStop(): void;
  /** The channel closed, for any reason. Exactly once, always last. */
  onClose(event: { code: number; reason: string }): void;
}

export interface CallerChannel {
  readonly start: { readonly callSid: string; readonly streamSid: string; readonly customParameters: Readonly<Record<string, string>> };
  /** Delivers what arrived since the channel opened, then live events. */
  setHandlers(handlers: CallerChannelHandlers): void;
  sendMedia(mulaw: Uint8Array): boolean;
  sendMark(name: string): boolean;
  sendClear(): boolean;
  /** Ends the channel from our side (Twilio then runs the next TwiML verb). Idempotent. */
  close(code?: number, reason?: string): void;
  /** Inbound continuity: gaps filled with silence. */
  stats(): { gaps: number; gapMs: number };
}
