/**
 * Keep-alive: `ping {event_id, ping_ms}` every `pingIntervalMs` from the metadata on (each ping takes the next event
 * id; `ping_ms` is null until a pong has measured a round trip), and the pongs that answer them. With
 * `closeOnMissedPongs: N`, a ping tick that finds N pings still unanswered ends the conversation instead: an `error`
 * (1002, transport_receive_timeout), then close 1002. Ticks are scheduled from the previous due time, so timer
 * lateness does not accumulate.
 */
import type { TimerHandle } from '../../clock.js';
import type { ConversationContext } from './context.js';
import type { InboundMessage, PingRecord, PongRecord } from './types.js';

export class PingKeeper {
  readonly pings: PingRecord[] = [];
  readonly pongs: PongRecord[] = [];
  private timer: TimerHandle | null = null;
  private nextDueMs = 0;
  private lastRttMs: number | null = null;

  constructor(private readonly context: ConversationContext) {}

  /** Pings sent that no pong has answered. */
  get unanswered(): number {
    return this.pings.filter((ping) => ping.pongAtMs === null).length;
  }

  start(): void {
    const intervalMs = this.context.agent.pingIntervalMs;
    if (!(intervalMs > 0) || !Number.isFinite(intervalMs)) return;
    this.nextDueMs = this.context.clock.now() + intervalMs;
    this.arm();
  }

  /** A pong; false when it names no ping this conversation sent (or one already answered). */
  onPong(message: InboundMessage): boolean {
    const atMs = this.context.sinceConnectMs();
    const eventId = typeof message['event_id'] === 'number' ? message['event_id'] : null;
    const ping = this.pings.find((candidate) => candidate.eventId === eventId && candidate.pongAtMs === null);
    if (ping === undefined) {
      this.pongs.push({ eventId, atMs, rttMs: null });
      return false;
    }
    ping.pongAtMs = atMs;
    const rttMs = atMs - ping.atMs;
    this.lastRttMs = rttMs;
    this.pongs.push({ eventId, atMs, rttMs });
    return true;
  }

  stop(): void {
    if (this.timer !== null) this.context.clock.clearTimeout(this.timer);
    this.timer = null;
  }

  private arm(): void {
    const { clock } = this.context;
    this.timer = clock.setTimeout(() => this.tick(), this.nextDueMs - clock.now());
  }

  private tick(): void {
    this.timer = null;
    const { context } = this;
    if (context.isClosed()) return;
    const limit = context.agent.closeOnMissedPongs;
    const missed = this.unanswered;
    if (limit !== null && limit > 0 && missed >= limit) {
      context.logger.debug({ missed }, 'simulated agent: pongs missing, closing 1002');
      context.fail({ code: 1002, errorType: 'transport_receive_timeout', message: `No pong received for ${missed} pings.` });
      return;
    }
    const eventId = context.nextEventId();
    this.pings.push({ eventId, atMs: context.sinceConnectMs(), pongAtMs: null });
    context.emit('ping', { event_id: eventId, ping_ms: this.lastRttMs === null ? null : Math.round(this.lastRttMs) });
    this.nextDueMs += context.agent.pingIntervalMs;
    this.arm();
  }
}
