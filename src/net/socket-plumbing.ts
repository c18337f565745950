/**
 * Plumbing every socket owner here needs, written once: the Twilio Media Stream transport and the provider
 * connections both hold what arrives until the call attaches its handlers, log a peer's repeated mistake once, and
 * never let a throwing handler unwind into a socket's event loop (ws would emit it as an uncaught error and the
 * process would die for one bad call).
 */
import { Buffer } from 'node:buffer';
import { WebSocket, type RawData } from 'ws';
import type { Clock, TimerHandle } from '../clock.js';
import type { Logger } from '../logger.js';

/** A ws message as text (UTF-8), whatever shape ws delivered it in. */
export function rawDataToText(data: RawData | string): string {
  if (typeof data === 'string') return data;
  if (Buffer.isBuffer(data)) return data.toString('utf8');
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  return Buffer.from(data).toString('utf8');
}

/** Byte length of a ws message as received (for the bytes-in counter). */
export function rawDataByteLength(data: RawData | string): number {
  if (typeof data === 'string') return Buffer.byteLength(data);
  if (Array.isArray(data)) {
    let total = 0;
    for (const chunk of data) total += chunk.length;
    return total;
  }
  return data.byteLength;
}

/**
 * Logs the first occurrence of each key at `firstLevel` (repeats at debug or not at all): a broken peer sends the same mistake
 * 50 times a second, and one line per call is what an operator can read.
 */
export class OncePerKeyLog {
  private readonly seen = new Set<string>();

  /** `logger` is read at each line, so an owner that binds call ids to its logger later is followed. */
  /** `repeats`: where later occurrences go (`debug`, or nowhere when the counters already tell). */
  constructor(
    private readonly logger: () => Logger,
    private readonly firstLevel: 'warn' | 'error' = 'warn',
    private readonly repeats: 'debug' | 'silent' = 'debug',
  ) {}

  /** Returns true when this was the first occurrence of `key`. */
  log(key: string, fields: Record<string, unknown>, message: string): boolean {
    const first = !this.seen.has(key);
    if (first) this.seen.add(key);
    if (first || this.repeats === 'debug') this.logger()[first ? this.firstLevel : 'debug'](fields, message);
    return first;
  }
}

/**
 * Runs handler calls so that a throw is caught, counted and logged (the first per handler name at error, later ones
 * at debug) instead of unwinding into the socket's listener.
 */
export class GuardedHandlers {
  private thrown = 0;
  private readonly logOnce: OncePerKeyLog;

  /** `message`: the log line's text, e.g. `realtime handler threw`. */
  constructor(
    logger: () => Logger,
    private readonly message: string,
  ) {
    this.logOnce = new OncePerKeyLog(logger, 'error');
  }

  /** Handler throws caught so far. */
  get errors(): number {
    return this.thrown;
  }

  run(name: string, call: () => void): void {
    try {
      call();
    } catch (error) {
      this.thrown++;
      this.logOnce.log(name, { err: error, handler: name }, this.message);
    }
  }
}

export interface HeldDeliveriesOptions<D> {
  /** Most deliveries held before handlers are set (lifecycle ones count, but are never dropped). */
  limit: number;
  /**
   * What to give up when full: `newest` refuses the delivery that does not fit (Twilio media: keep the start of the
   * call), `oldest` drops the oldest droppable one (server events: keep the latest state).
   */
  drop: 'newest' | 'oldest';
  /** Lifecycle deliveries (ready, fault, close) are never dropped. Default: all are droppable. */
  droppable?: (delivery: D) => boolean;
  /** Called for every dropped delivery (to count it and log the first). */
  onDrop: () => void;
}

/**
 * Deliveries that arrive before their consumer exists (a pre-dialled session waiting for its call, Twilio media
 * between `start` and the call's handlers) are held in order, bounded, and handed over when the consumer attaches.
 */
export class HeldDeliveries<D> {
  private held: D[] = [];
  private consumer: ((delivery: D) => void) | null = null;

  constructor(private readonly options: HeldDeliveriesOptions<D>) {}

  get attached(): boolean {
    return this.consumer !== null;
  }

  /** Passes `delivery` on at once when a consumer is attached, otherwise holds it. */
  deliver(delivery: D): void {
    if (this.consumer !== null) {
      this.consumer(delivery);
      return;
    }
    const droppable = this.options.droppable?.(delivery) ?? true;
    if (this.options.drop === 'newest') {
      if (droppable && this.held.length >= this.options.limit) {
        this.options.onDrop();
        return;
      }
      this.held.push(delivery);
      return;
    }
    this.held.push(delivery);
    if (this.held.length <= this.options.limit) return;
    const isDroppable = this.options.droppable ?? (() => true);
    const index = this.held.findIndex((entry) => isDroppable(entry));
    if (index === -1) return;
    this.held.splice(index, 1);
    this.options.onDrop();
  }

  /** Attaches the consumer and hands it everything held, oldest first, until `discard()` is called. */
  attach(consumer: (delivery: D) => void): void {
    this.consumer = consumer;
    while (this.held.length > 0) consumer(this.held.shift()!);
  }

  /** Forgets everything held (the owner closed), including what `attach` has not handed over yet. */
  discard(): void {
    this.held = [];
  }
}

/** A close frame's reason is limited to 123 bytes (RFC 6455 §5.5); ws throws beyond that. */
const MAX_CLOSE_REASON_BYTES = 123;

/** `reason` cut to what a close frame can carry, never splitting a character. */
export function closeReasonWithinLimit(reason: string): string {
  if (Buffer.byteLength(reason) <= MAX_CLOSE_REASON_BYTES) return reason;
  let end = Math.min(reason.length, MAX_CLOSE_REASON_BYTES);
  while (Buffer.byteLength(reason.slice(0, end)) > MAX_CLOSE_REASON_BYTES) end--;
  // Never split a surrogate pair into an unpaired half.
  const last = reason.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end--;
  return reason.slice(0, end);
}

/**
 * Closes a client socket we dialled, whatever its state: a handshake in progress is aborted (its TCP socket
 * destroyed, nothing left half-open upstream); an open one gets a normal close, and is destroyed if the close
 * handshake has not finished within `timeoutMs`. Returns the timer to clear when the socket closes (or null).
 */
export function shutDownSocket(socket: WebSocket, clock: Clock, timeoutMs: number, pendingTimer: TimerHandle | null): TimerHandle | null {
  if (socket.readyState === WebSocket.CONNECTING) {
    socket.terminate();
    return pendingTimer;
  }
  if (socket.readyState === WebSocket.OPEN) socket.close(1000, 'client closing');
  if (socket.readyState === WebSocket.CLOSED || pendingTimer !== null) return pendingTimer;
  return clock.setTimeout(() => socket.terminate(), timeoutMs);
}

/** How much of a bad frame a parse error quotes (enough to recognise it, never a whole audio payload). */
export const DETAIL_EXCERPT_CHARS = 80;

/** `text` cut for a log line. */
export function excerpt(text: string): string {
  return text.length <= DETAIL_EXCERPT_CHARS ? text : `${text.slice(0, DETAIL_EXCERPT_CHARS)}…(${text.length} chars)`;
}

/** One `JSON.parse` of a text frame that must hold a JSON object. Never throws. */
export function parseJsonObject(
  text: string,
): { ok: true; value: Record<string, unknown> } | { ok: false; code: 'INVALID_JSON' | 'NOT_AN_OBJECT'; detail: string } {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    return { ok: false, code: 'INVALID_JSON', detail: `${reason}: ${excerpt(text)}` };
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return { ok: false, code: 'NOT_AN_OBJECT', detail: `got ${value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value}` };
  }
  return { ok: true, value: value as Record<string, unknown> };
}
