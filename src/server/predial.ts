/**
 * Upstream sessions opened while the Voice webhook is answered, keyed by the one-time stream token put in the TwiML.
 * Dialling and configuring the Realtime session takes a few hundred ms; doing it before Twilio opens the media stream
 * means the caller does not wait for a second handshake. A session whose stream never comes is closed after `ttlMs`
 * so an abandoned call does not hold an upstream session (and its billing) open.
 */
import type { Clock, TimerHandle } from '../clock.js';
import type { Logger } from '../logger.js';
import type { VoiceAgentSession } from '../voice/port.js';

/** The part of a connection the pool needs; lets tests pool stand-ins. */
export type PoolableConnection = { readonly state: string; close(): void };

export interface PredialPoolOptions {
  clock: Clock;
  /** How long an unclaimed connection is kept, in ms. */
  ttlMs: number;
  logger: Logger;
}

interface PoolEntry<C> {
  connection: C;
  timer: TimerHandle;
  putAtMs: number;
}

export class PredialPool<C extends PoolableConnection = VoiceAgentSession> {
  private readonly entries = new Map<string, PoolEntry<C>>();
  private readonly clock: Clock;
  private readonly ttlMs: number;
  private readonly logger: Logger;

  constructor(options: PredialPoolOptions) {
    this.clock = options.clock;
    this.ttlMs = options.ttlMs;
    this.logger = options.logger.child({ component: 'predial' });
  }

  /** Connections waiting to be claimed. */
  get size(): number {
    return this.entries.size;
  }

  /** Keeps `connection` for `token` for `ttlMs`. A connection already held under the same token is closed. */
  put(token: string, connection: C): void {
    const previous = this.entries.get(token);
    if (previous !== undefined) {
      this.clock.clearTimeout(previous.timer);
      this.entries.delete(token);
      if (previous.connection !== connection) {
        this.logger.warn('predial token reused: closing the earlier connection');
        previous.connection.close();
      }
    }
    const timer = this.clock.setTimeout(() => this.expire(token), this.ttlMs);
    this.entries.set(token, { connection, timer, putAtMs: this.clock.now() });
  }

  /**
   * Takes the connection for `token` (one use). Null when there is none, it expired, or it already closed (a failed
   * pre-dial: the caller dials afresh and gets that attempt's own fault).
   */
  claim(token: string): C | null {
    const entry = this.entries.get(token);
    if (entry === undefined) return null;
    this.entries.delete(token);
    this.clock.clearTimeout(entry.timer);
    if (entry.connection.state === 'closed') {
      this.logger.info('predialled connection had already closed; not used');
      return null;
    }
    this.logger.debug({ waitedMs: Math.round(this.clock.now() - entry.putAtMs), state: entry.connection.state }, 'predialled connection claimed');
    return entry.connection;
  }

  /** Closes every unclaimed connection (shutdown). */
  closeAll(): void {
    for (const entry of this.entries.values()) {
      this.clock.clearTimeout(entry.timer);
      entry.connection.close();
    }
    if (this.entries.size > 0) this.logger.info({ count: this.entries.size }, 'closed unclaimed predialled connections');
    this.entries.clear();
  }

  private expire(token: string): void {
    const entry = this.entries.get(token);
    if (entry === undefined) return;
    this.entries.delete(token);
    // The token itself is a credential for the media stream: it is not logged.
    this.logger.info({ ttlMs: this.ttlMs, state: entry.connection.state }, 'predialled connection unclaimed: closing');
    entry.connection.close();
  }
}
