/**
 * The Media Stream side of a connected call, as Twilio runs it: the signed WebSocket upgrade, then `connected` and
 * `start`, the scripted media and dtmf on a schedule anchored to stream start, marks echoed as playback reaches them,
 * and `stop` before closing. Everything the bridge sends goes through a {@link TwilioPlaybackEmulator}.
 */
import { rawDataToText } from '../net/socket-plumbing.js';
import WebSocket from 'ws';
import { systemClock, type Clock, type TimerHandle } from '../clock.js';
import { FRAME_DURATION_MS, MULAW_BYTES_PER_FRAME, mulawSilence } from '../audio/frames.js';
import { bytesToBase64 } from '../audio/pcm.js';
import type { TwilioInboundMessage } from './fixtures.js';
import type { Script, StreamEnvelope } from './twilio-caller-script.js';
import {
  TwilioCallerError,
  type CallResult,
  type PlaceCallOptions,
  type ProtocolErrorCounts,
  type ReceivedMessage,
  type SentMessage,
  type SimulatedCall,
} from './twilio-caller-types.js';
import { TwilioPlaybackEmulator } from './twilio-playback.js';
import type { ParsedTwiml } from './twilio-twiml.js';

/** Opens the stream's WebSocket; a refused upgrade or a failed connection rejects with TwilioCallerError. */
export function openStreamSocket(url: string, headers: Record<string, string>): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url, { headers });
    const fail = (error: TwilioCallerError) => {
      socket.removeAllListeners();
      socket.on('error', () => undefined);
      socket.terminate();
      reject(error);
    };
    socket.once('unexpected-response', (_request, response) => {
      const status = response.statusCode ?? 0;
      response.resume();
      fail(new TwilioCallerError('upgrade_refused', `WebSocket upgrade to ${url} refused with HTTP ${status}`, status));
    });
    socket.once('error', (error: Error & { code?: string }) => {
      fail(new TwilioCallerError('connect_failed', `cannot open WebSocket ${url}: ${error.code ?? error.message}`));
    });
    socket.once('open', () => {
      socket.removeAllListeners();
      resolve(socket);
    });
  });
}

export interface LiveCallInit {
  clock: Clock;
  /** Already open. */
  socket: WebSocket;
  callSid: string;
  accountSid: string;
  streamSid: string;
  twiml: string;
  parsedTwiml: ParsedTwiml;
  streamUrl: string;
  script: Script;
  options: PlaceCallOptions;
}

interface Waiter {
  predicate: (message: unknown) => boolean;
  resolve: (received: ReceivedMessage) => void;
}

/** Owns one connected call: the socket, the send schedule and the playback emulator. Sends `start` on construction. */
export class LiveCall {
  private readonly clock: Clock;
  private readonly socket: WebSocket;
  private readonly init: LiveCallInit;
  private readonly streamSid: string;
  private readonly originMs: number;
  private readonly playback: TwilioPlaybackEmulator;
  private readonly received: ReceivedMessage[] = [];
  private readonly sent: SentMessage[] = [];
  private readonly protocolErrors = { invalidJson: 0, binaryMessages: 0, wrongStreamSid: 0 };
  private readonly waiters = new Set<Waiter>();
  private sequenceNumber = 0;
  private nextEntryIndex = 0;
  private timer: TimerHandle | null = null;
  /** keepLineOpen: where the held line's silence continues (script time and media numbering). */
  private lastScriptAtMs = 0;
  private lastMediaChunk = 0;
  private lastMediaTimestampMs = 0;
  private stopSent = false;
  private endedBy: 'caller' | 'server' | null = null;
  private closeCode: number | null = null;
  private closeReason = '';
  private closedAtMs = 0;
  private readonly closedPromise: Promise<CallResult>;

  constructor(init: LiveCallInit) {
    this.init = init;
    this.clock = init.clock;
    this.socket = init.socket;
    this.streamSid = init.streamSid;
    this.closedPromise = new Promise((resolve) => {
      this.socket.on('close', (code: number, reason: Buffer) => {
        this.onClose(code, reason.toString('utf8'));
        resolve(this.result());
      });
    });
    // An error is always followed by 'close'; listening keeps it from being thrown.
    this.socket.on('error', () => undefined);
    this.socket.on('message', (data: WebSocket.RawData, isBinary: boolean) => this.onMessage(data, isBinary));

    this.originMs = this.clock.now();
    this.send({ event: 'connected', protocol: 'Call', version: '1.0.0' });
    this.playback = new TwilioPlaybackEmulator({ clock: this.clock, originMs: this.originMs, onMarkEcho: (name) => this.echoMark(name) });
    this.send({
      event: 'start',
      ...this.nextEnvelope(),
      start: {
        accountSid: init.accountSid,
        streamSid: this.streamSid,
        callSid: init.callSid,
        tracks: ['inbound'],
        customParameters: { ...init.parsedTwiml.parameters },
        mediaFormat: { encoding: 'audio/x-mulaw', sampleRate: 8000, channels: 1 },
      },
    });
    this.scheduleNext();
  }

  publicView(): SimulatedCall {
    const self = this;
    const init = this.init;
    return {
      outcome: 'connected',
      callSid: init.callSid,
      accountSid: init.accountSid,
      streamSid: this.streamSid,
      streamUrl: init.streamUrl,
      parsedTwiml: init.parsedTwiml,
      playback: this.playback,
      received: this.received,
      sent: this.sent,
      get protocolErrors() {
        return self.counters();
      },
      elapsedMs: () => this.elapsedMs(),
      pressDigit: (digit) => {
        if (this.stopSent) return;
        this.send({ event: 'dtmf', ...this.nextEnvelope(), dtmf: { track: 'inbound_track', digit } });
      },
      waitForMessage: (predicate, timeoutMs = 5_000) => this.waitForMessage(predicate, timeoutMs),
      hangUp: () => {
        this.finish();
        return this.closedPromise;
      },
      closed: this.closedPromise,
    };
  }

  private elapsedMs(): number {
    return this.clock.now() - this.originMs;
  }

  /** The next sequence number with this stream's sid, as every message after `connected` carries them. */
  private nextEnvelope(): StreamEnvelope {
    return { sequenceNumber: String(++this.sequenceNumber), streamSid: this.streamSid };
  }

  private send(message: TwilioInboundMessage): void {
    if (this.socket.readyState !== WebSocket.OPEN) return;
    if (message.event === 'media') {
      this.lastMediaChunk = Number(message.media.chunk);
      this.lastMediaTimestampMs = Number(message.media.timestamp);
    }
    this.sent.push(this.forLog({ atMs: this.elapsedMs(), message }));
    this.socket.send(JSON.stringify(message));
  }

  /**
   * Sends everything due, then sleeps until the next entry. The target time is origin + the entry's scripted time,
   * never "now + 20 ms", so a late timer is caught up on instead of drifting.
   */
  private scheduleNext(): void {
    this.timer = null;
    if (this.stopSent) return;
    const { entries, hangUpAtMs } = this.init.script;
    const elapsedMs = this.elapsedMs();
    while (this.nextEntryIndex < entries.length && entries[this.nextEntryIndex]!.atMs <= elapsedMs) {
      const entry = entries[this.nextEntryIndex++]!;
      this.lastScriptAtMs = entry.atMs;
      this.send(entry.build(this.nextEnvelope()));
    }
    const nextAtMs = this.nextEntryIndex < entries.length ? entries[this.nextEntryIndex]!.atMs : hangUpAtMs;
    if (this.nextEntryIndex >= entries.length && hangUpAtMs <= elapsedMs) {
      if (this.init.options.keepLineOpen === true) {
        this.holdLine(Math.max(this.lastScriptAtMs, hangUpAtMs) + FRAME_DURATION_MS);
        return;
      }
      this.finish();
      return;
    }
    this.timer = this.clock.setTimeout(() => this.scheduleNext(), this.originMs + nextAtMs - this.clock.now());
  }

  /**
   * keepLineOpen: after the script, a silence frame every 20 ms from `nextAtMs` (script time, anchored to the origin
   * like the script so a late timer catches up), numbering continued from the last media frame, until hang-up.
   */
  private holdLine(nextAtMs: number): void {
    this.timer = null;
    if (this.stopSent) return;
    let dueAtMs = nextAtMs;
    while (dueAtMs <= this.elapsedMs()) {
      const media = {
        track: 'inbound' as const,
        chunk: String(this.lastMediaChunk + 1),
        timestamp: String(this.lastMediaTimestampMs + FRAME_DURATION_MS),
        payload: HELD_LINE_SILENCE_BASE64,
      };
      this.send({ event: 'media', ...this.nextEnvelope(), media });
      dueAtMs += FRAME_DURATION_MS;
    }
    this.timer = this.clock.setTimeout(() => this.holdLine(dueAtMs), this.originMs + dueAtMs - this.clock.now());
  }

  private echoMark(name: string): void {
    if (this.stopSent) return;
    this.send({ event: 'mark', ...this.nextEnvelope(), mark: { name } });
  }

  /** Hang up: Twilio sends `stop`, then closes the socket. */
  private finish(): void {
    if (this.stopSent) return;
    this.stopSending();
    this.send({ event: 'stop', ...this.nextEnvelope(), stop: { accountSid: this.init.accountSid, callSid: this.init.callSid } });
    if (this.endedBy === null) this.endedBy = 'caller';
    this.socket.close(1000);
  }

  /** Either side ending the call: playback plays out to now (echoing marks it reaches while we may still send). */
  private stopSending(): void {
    this.playback.stop();
    this.stopSent = true;
    if (this.timer !== null) this.clock.clearTimeout(this.timer);
    this.timer = null;
  }

  private onMessage(data: WebSocket.RawData, isBinary: boolean): void {
    const atMs = this.elapsedMs();
    const text = rawDataToText(data);
    if (isBinary) {
      this.protocolErrors.binaryMessages++;
      this.record({ atMs, message: text });
      return;
    }
    let message: unknown;
    try {
      message = JSON.parse(text);
    } catch {
      this.protocolErrors.invalidJson++;
      this.record({ atMs, message: text });
      return;
    }
    this.record({ atMs, message });
    if (typeof message !== 'object' || message === null) {
      this.protocolErrors.invalidJson++;
      return;
    }
    const { event, streamSid } = message as { event?: unknown; streamSid?: unknown };
    if ((event === 'media' || event === 'mark' || event === 'clear') && streamSid !== this.streamSid) {
      this.protocolErrors.wrongStreamSid++;
      return;
    }
    this.playback.receive(message);
  }

  private record(received: ReceivedMessage): void {
    this.received.push(this.forLog(received));
    for (const waiter of this.waiters) {
      if (waiter.predicate(received.message)) {
        this.waiters.delete(waiter);
        waiter.resolve(received);
      }
    }
  }

  /** What `sent`/`received` keep: the entry itself, or without its media payload when payloads are not kept. */
  private forLog<T extends { message: unknown }>(entry: T): T {
    return this.init.options.keepPayloads === false ? { ...entry, message: withoutPayload(entry.message) } : entry;
  }

  private waitForMessage(predicate: (message: unknown) => boolean, timeoutMs: number): Promise<ReceivedMessage> {
    const already = this.received.find((received) => predicate(received.message));
    if (already !== undefined) return Promise.resolve(already);
    return new Promise((resolve, reject) => {
      // Real time on purpose: this waits for socket I/O, which a ManualClock does not drive.
      const timeout = systemClock.setTimeout(() => {
        this.waiters.delete(waiter);
        reject(new Error(`no matching message from the server within ${timeoutMs} ms`));
      }, timeoutMs);
      const waiter: Waiter = {
        predicate,
        resolve: (received) => {
          systemClock.clearTimeout(timeout);
          resolve(received);
        },
      };
      this.waiters.add(waiter);
    });
  }

  private onClose(code: number, reason: string): void {
    this.closedAtMs = this.elapsedMs();
    if (this.endedBy === null) this.endedBy = 'server';
    this.stopSending();
    this.closeCode = code;
    this.closeReason = reason;
  }

  private counters(): ProtocolErrorCounts {
    return { ...this.protocolErrors, ...this.playback.counters };
  }

  private result(): CallResult {
    const playback = this.playback;
    return {
      outcome: 'completed',
      callSid: this.init.callSid,
      accountSid: this.init.accountSid,
      streamSid: this.streamSid,
      streamUrl: this.init.streamUrl,
      twiml: this.init.twiml,
      parsedTwiml: this.init.parsedTwiml,
      endedBy: this.endedBy,
      serverClosedFirst: this.endedBy === 'server',
      closeCode: this.closeCode,
      closeReason: this.closeReason,
      durationMs: this.closedAtMs,
      heardAudio: playback.heardAudio(),
      heardSegments: playback.heardSegments(),
      heardMsTotal: playback.heardMsTotal,
      unplayedBytesAtEnd: playback.bufferedBytes,
      marks: [...playback.marks],
      clears: [...playback.clears],
      underruns: playback.underruns.map((underrun) => ({ ...underrun })),
      underrunCount: playback.underrunCount,
      underrunMs: playback.underrunMs,
      received: [...this.received],
      sent: [...this.sent],
      protocolErrors: this.counters(),
    };
  }
}

const HELD_LINE_SILENCE_BASE64 = bytesToBase64(mulawSilence(MULAW_BYTES_PER_FRAME));

/** A media message with an empty payload (the rest kept), for logs that only need times and order. */
function withoutPayload<T>(message: T): T {
  const media = (message as { event?: unknown; media?: { payload?: unknown } }).media;
  if ((message as { event?: unknown }).event !== 'media' || media === undefined) return message;
  return { ...message, media: { ...media, payload: '' } };
}
