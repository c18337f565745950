/**
 * Call admission: the one owner of which calls this process serves. It holds the registry of live calls, the
 * capacity count, the one-time stream tokens, the pre-dialled sessions and shutdown, and it publishes each call's
 * lifecycle and live events to the observers. The HTTP layer (app.ts) only routes requests here.
 *
 * A call's life here: the webhook asks `admitWebhook` (capacity) and announces the call (`callAccepted`: a stream
 * token, and a pre-dialled agent session); the Media Stream's `start` presents the token (`acceptStream`), which
 * builds the `Call` with that session; the call ends; observers hear of it; the slot frees.
 */
import type { CallSettings } from '../call/call.js';
import { Call } from '../call/call.js';
import type { ToolDefinition } from '../call/tools.js';
import type { Clock } from '../clock.js';
import type { Config } from '../config.js';
import type { Logger } from '../logger.js';
import { CallObservers, type CallInfo } from '../observers/hub.js';
import type { MediaStreamSession } from '../twilio/media-stream.js';
import { StreamTokenRegistry } from '../twilio/stream-tokens.js';
import type { VoiceAgentSession } from '../voice/port.js';
import { PredialPool } from './predial.js';

export interface CallAdmissionOptions {
  config: Readonly<Config>;
  logger: Logger;
  clock: Clock;
  /** Opens a new agent session for a call (dials at once). */
  dialAgent: (logger: Logger) => VoiceAgentSession;
  tools: readonly ToolDefinition[];
  /** Open the agent session while answering the webhook (default true). */
  predial: boolean;
  observers: CallObservers;
}

export interface AnnouncedCall {
  token: string;
  callSid: string;
  from: string;
  to: string;
}

export class CallAdmission {
  readonly tokens: StreamTokenRegistry;
  private readonly options: CallAdmissionOptions;
  private readonly logger: Logger;
  private readonly predialPool: PredialPool;
  private readonly calls = new Set<Call>();
  private readonly settings: Readonly<CallSettings>;
  private stopping = false;

  constructor(options: CallAdmissionOptions) {
    this.options = options;
    this.logger = options.logger;
    const { config, clock } = options;
    this.tokens = new StreamTokenRegistry({ clock, ttlMs: config.server.streamTokenTtlMs });
    this.predialPool = new PredialPool({ clock, ttlMs: config.openai.predialTimeoutMs, logger: options.logger });
    this.settings = Object.freeze({
      playbackLeadMs: config.call.playbackLeadMs,
      markIntervalMs: config.call.markIntervalMs,
      forwardDtmf: config.call.forwardDtmf,
      greeting: config.openai.greeting,
      redialAttempts: config.openai.redialAttempts,
    });
  }

  get activeCalls(): number {
    return this.calls.size;
  }

  /** False once shutdown began: no new webhook, upgrade or stream is taken. */
  get accepting(): boolean {
    return !this.stopping;
  }

  /** The webhook's question: is there room for one more call (live calls plus calls announced but not started)? */
  admitWebhook(callSid: string): boolean {
    const { maxConcurrentCalls } = this.options.config.server;
    const admitted = !this.stopping && this.calls.size + this.tokens.size < maxConcurrentCalls;
    if (!admitted) this.logger.warn({ callSid, activeCalls: this.calls.size, maxConcurrentCalls }, 'call refused: at capacity');
    return admitted;
  }

  /** The webhook answered with a stream token: dial the agent now, so the caller does not wait for it later. */
  callAccepted(call: AnnouncedCall): void {
    if (!this.options.predial) return;
    this.predialPool.put(call.token, this.options.dialAgent(this.logger.child({ callSid: call.callSid })));
  }

  /**
   * A Media Stream started. It must present a live token issued for its callSid by our webhook; otherwise it is
   * closed with 1008 and nothing is dialled.
   */
  acceptStream(stream: MediaStreamSession, onClosed: () => void): void {
    const { start } = stream;
    const callLogger = this.logger.child({ callSid: start.callSid, streamSid: start.streamSid });
    const token = start.customParameters['streamToken'];
    const announced = token === undefined ? null : this.tokens.consume(token);
    const predialled = token === undefined ? null : this.predialPool.claim(token);
    if (announced === null || announced.callSid !== start.callSid || this.stopping) {
      callLogger.warn(
        { reason: announced === null ? 'unknown, expired or reused stream token' : this.stopping ? 'shutting down' : 'callSid does not match the token' },
        'media stream refused: not announced by our webhook',
      );
      predialled?.close();
      stream.close(1008, 'stream not announced');
      onClosed();
      return;
    }
    const agent = predialled ?? this.options.dialAgent(callLogger);
    const info: CallInfo = {
      callSid: start.callSid,
      streamSid: start.streamSid,
      from: announced.from,
      to: announced.to,
      direction: 'inbound',
      provider: agent.provider,
      startedAtEpochMs: Date.now(),
    };
    const { observers } = this.options;
    const call = new Call({
      settings: this.settings,
      clock: this.options.clock,
      logger: callLogger,
      channel: stream,
      agent,
      tools: this.options.tools,
      predialled: predialled !== null,
      redial: () => this.options.dialAgent(callLogger),
      onEvent: (event) => observers.event(info, event),
    });
    this.calls.add(call);
    call.ended.then(
      (summary) => {
        this.calls.delete(call);
        onClosed();
        observers.ended(info, summary);
      },
      (error: unknown) => {
        this.calls.delete(call);
        onClosed();
        callLogger.error({ err: error }, 'call ended with an internal error');
      },
    );
    observers.started(info);
    call.start();
  }

  /**
   * Stops admitting, closes unclaimed pre-dialled sessions, hangs up every live call and waits for them to end (at
   * most `graceMs`), then for the observers' `callEnded` work (records) for what is left of the same deadline.
   */
  async shutdown(graceMs: number): Promise<void> {
    this.stopping = true;
    const deadlineMs = Date.now() + graceMs;
    this.predialPool.closeAll();
    const ending = [...this.calls].map((call) => {
      call.hangUp('server shutting down');
      return call.ended.catch(() => undefined);
    });
    await Promise.race([Promise.all(ending), new Promise((resolve) => setTimeout(resolve, graceMs).unref())]);
    const flushed = await this.options.observers.flush(Math.max(0, deadlineMs - Date.now()));
    if (!flushed) this.logger.warn('shutdown: some call observers had not finished (records may be incomplete)');
  }
}
