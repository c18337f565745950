/**
 * The browser phone's socket as a caller channel (docs/console.md): wideband PCM16 both ways in binary messages,
 * marks echoed by the page once it has played what came before them, `clear` on barge-in, typed lines and keys as
 * text messages. The call sees it exactly like a Twilio Media Stream (call/channel.ts), so browser calls share the
 * agents, tools, records and metrics of phone calls.
 *
 * Caller audio arrives in whatever whole-sample runs the page's AudioWorklet posts; it is cut into exact 20 ms frames
 * here, so the call's frame arithmetic holds. Nothing a page sends can throw into the socket's listener: malformed
 * messages are counted and logged once per kind, and the call goes on.
 */
import type { RawData, WebSocket } from 'ws';
import type { ChannelAudio } from '../audio/channel-audio.js';
import { Framer } from '../audio/frames.js';
import type { CallerChannel, CallerChannelHandlers } from '../call/channel.js';
import type { Logger } from '../logger.js';
import { closeReasonWithinLimit, GuardedHandlers, HeldDeliveries, OncePerKeyLog, rawDataToText } from '../net/socket-plumbing.js';
import { CLEAR_MESSAGE, endMessage, markMessage, parseClientMessage, startMessage, transcriptMessage } from './messages.js';

/** Caller frames held between the socket opening and the call attaching (10 s): more means the call never came. */
const MAX_HELD_DELIVERIES = 500;

type Delivery =
  | { kind: 'media'; frame: Uint8Array }
  | { kind: 'mark'; name: string }
  | { kind: 'dtmf'; digit: string }
  | { kind: 'text'; text: string }
  | { kind: 'stop' }
  | { kind: 'close'; code: number; reason: string };

export interface BrowserChannelOptions {
  callSid: string;
  agentName: string;
  audio: ChannelAudio;
  logger: Logger;
}

export class BrowserChannel implements CallerChannel {
  readonly start: CallerChannel['start'];
  readonly audio: ChannelAudio;
  private readonly socket: WebSocket;
  private readonly logger: Logger;
  private readonly framer: Framer;
  private readonly deliveries: HeldDeliveries<Delivery>;
  private readonly guarded: GuardedHandlers;
  private readonly mistakes: OncePerKeyLog;
  private closed = false;
  private stopped = false;
  private readonly counters = { framesIn: 0, framesOut: 0, malformed: 0, heldDropped: 0 };

  constructor(socket: WebSocket, options: BrowserChannelOptions) {
    this.socket = socket;
    this.audio = options.audio;
    this.logger = options.logger;
    this.start = { callSid: options.callSid, streamSid: options.callSid, customParameters: { channel: 'browser', agent: options.agentName } };
    this.framer = new Framer(options.audio.bytesPerFrame, options.audio.silenceByte);
    this.guarded = new GuardedHandlers(() => this.logger, 'browser channel handler threw');
    this.mistakes = new OncePerKeyLog(() => this.logger);
    this.deliveries = new HeldDeliveries<Delivery>({
      limit: MAX_HELD_DELIVERIES,
      drop: 'newest',
      droppable: (delivery) => delivery.kind === 'media',
      onDrop: () => this.counters.heldDropped++,
    });
    socket.on('message', (data: RawData, isBinary: boolean) => this.onMessage(data, isBinary));
    socket.on('close', (code: number, reason: Buffer) => this.onSocketClosed(code, reason.toString('utf8')));
    socket.on('error', (error: Error) => this.logger.warn({ err: error }, 'browser phone socket error'));
    this.sendText(startMessage(options.callSid, options.agentName, options.audio.format.sampleRateHz));
  }

  setHandlers(handlers: CallerChannelHandlers): void {
    this.deliveries.attach((delivery) => this.guarded.run(delivery.kind, () => dispatch(handlers, delivery)));
  }

  sendMedia(frame: Uint8Array): boolean {
    if (!this.isOpen()) return false;
    this.counters.framesOut++;
    this.socket.send(frame, { binary: true });
    return true;
  }

  sendMark(name: string): boolean {
    return this.sendText(markMessage(name));
  }

  sendClear(): boolean {
    return this.sendText(CLEAR_MESSAGE);
  }

  /** A transcript line for the page (the call's own event, passed on as it happens). */
  sendTranscript(line: { speaker: string; itemId: string; text: string; final: boolean }): void {
    this.sendText(transcriptMessage(line));
  }

  close(code = 1000, reason = 'call ended'): void {
    if (!this.isOpen()) return;
    this.sendText(endMessage(reason));
    this.socket.close(code, closeReasonWithinLimit(reason));
  }

  stats(): { gaps: number; gapMs: number } {
    // The page sends its microphone as it captures it: there is no timeline to fill.
    return { gaps: 0, gapMs: 0 };
  }

  get counts(): Readonly<typeof this.counters> {
    return this.counters;
  }

  private isOpen(): boolean {
    return !this.closed && this.socket.readyState === this.socket.OPEN;
  }

  private sendText(text: string): boolean {
    if (!this.isOpen()) return false;
    this.socket.send(text);
    return true;
  }

  private onMessage(data: RawData, isBinary: boolean): void {
    if (this.closed || this.stopped) return;
    if (isBinary) {
      const bytes = toBytes(data);
      if (bytes.length % this.audio.bytesPerSample !== 0) return this.malformed('ODD_AUDIO', `binary message of ${bytes.length} bytes is not whole PCM16 samples`);
      for (const frame of this.framer.push(bytes)) {
        this.counters.framesIn++;
        this.deliveries.deliver({ kind: 'media', frame });
      }
      return;
    }
    const parsed = parseClientMessage(rawDataToText(data));
    if (!parsed.ok) return this.malformed(parsed.code, parsed.detail);
    const message = parsed.message;
    switch (message.type) {
      case 'mark':
        return this.deliveries.deliver({ kind: 'mark', name: message.name });
      case 'dtmf':
        return this.deliveries.deliver({ kind: 'dtmf', digit: message.digit });
      case 'text':
        return this.deliveries.deliver({ kind: 'text', text: message.text });
      case 'hangup':
        this.stopped = true;
        this.logger.info('browser phone hung up');
        this.deliveries.deliver({ kind: 'stop' });
        this.socket.close(1000, 'caller hung up');
        return;
    }
  }

  private malformed(code: string, detail: string): void {
    this.counters.malformed++;
    this.mistakes.log(code, { code, detail }, 'browser phone sent a message it should not have (ignored)');
  }

  private onSocketClosed(code: number, reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.deliveries.deliver({ kind: 'close', code, reason });
  }
}

function dispatch(handlers: CallerChannelHandlers, delivery: Delivery): void {
  switch (delivery.kind) {
    case 'media':
      return handlers.onMedia(delivery.frame);
    case 'mark':
      return handlers.onMark(delivery.name);
    case 'dtmf':
      return handlers.onDtmf(delivery.digit);
    case 'text':
      return handlers.onText?.(delivery.text);
    case 'stop':
      return handlers.onStop();
    case 'close':
      return handlers.onClose({ code: delivery.code, reason: delivery.reason });
  }
}

function toBytes(data: RawData): Uint8Array {
  if (Array.isArray(data)) return Buffer.concat(data);
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  return data;
}
