/**
 * Call admission: the one owner of which calls this process serves. It holds the registry of live calls, the
 * capacity count, the one-time stream tokens, the pre-dialled sessions and shutdown, and it publishes each call's
 * lifecycle and live events to the observers. The HTTP layer (app.ts) only routes requests here.
 *
 * A call's life here: the webhook picks the agent for the called number (`agentFor`), asks `admitWebhook`
 * (capacity) and announces the call (`callAccepted`: a stream token naming the agent, and a pre-dialled session
 * configured for it); the Media Stream's `start` presents the token (`acceptStream`), which builds the `Call` with
 * that session; the call ends, leaving what it asked for (hang up, transfer) for Twilio's `<Connect action>` request
 * (`afterStream`); observers hear of it; the slot frees.
 */
import { callControlFor, callLimitsFor } from '../agents/call-settings.js';
import { agentByName, agentForNumber } from '../agents/routing.js';
import { fillTemplate, type CallVariables } from '../agents/template.js';
import type { AgentDefinition } from '../agents/types.js';
import { decideAfterStream, type DialStatus, type StreamOutcome } from '../call/after-stream.js';
import { DeliveryPaces } from '../call/delivery-pace.js';
import { Call } from '../call/call.js';
import type { CallerChannel } from '../call/channel.js';
import type { Logger } from '../logger.js';
import type { CallInfo } from '../observers/hub.js';
import type { OutboundCalls } from '../outbound/outbound-calls.js';
import type { MediaStreamSession } from '../twilio/media-stream.js';
import { StreamTokenRegistry, type StreamTokenInfo } from '../twilio/stream-tokens.js';
import { dialTwiml, hangUpTwiml, sayAndHangUpTwiml } from '../twilio/twiml.js';
import { dialActionUrl, type AcceptedCall } from '../twilio/webhook.js';
import type { VoiceAgentSession } from '../voice/port.js';
import type { CallAdmissionOptions } from './admission-options.js';
import { OutcomeStore } from './outcomes.js';
import { PredialPool } from './predial.js';


export class CallAdmission {
  readonly tokens: StreamTokenRegistry;
  private readonly options: CallAdmissionOptions;
  private readonly logger: Logger;
  private readonly predialPool: PredialPool;
  /** Live calls by call SID (the console hangs one up by its SID). */
  private readonly calls = new Map<string, Call>();
  /** Each agent's provider's recent delivery speed, shared by its calls (the jitter cushion's memory). */
  private readonly paces = new DeliveryPaces();
  private readonly outcomes: OutcomeStore;
  private stopping = false;
  /** Draining: no new call is admitted; calls already announced or live go on. */
  private draining = false;
  private readonly idleWaiters = new Set<() => void>();

  constructor(options: CallAdmissionOptions) {
    this.options = options;
    this.logger = options.logger;
    const { config, clock } = options;
    this.tokens = new StreamTokenRegistry({ clock, ttlMs: config.server.streamTokenTtlMs });
    this.predialPool = new PredialPool({ clock, ttlMs: config.openai.predialTimeoutMs, logger: options.logger });
    this.outcomes = new OutcomeStore(clock);
  }

  get activeCalls(): number {
    return this.calls.size;
  }

  /** False once shutdown began: no new webhook, upgrade or stream is taken. */
  get accepting(): boolean {
    return !this.stopping;
  }

  /** Ready for new calls (the load balancer's readiness): not draining, not stopping. */
  get ready(): boolean {
    return !this.stopping && !this.draining;
  }

  get isDraining(): boolean {
    return this.draining;
  }

  /**
   * Stops admitting new calls (the webhook answers busy) while calls already live, or announced by our webhook and
   * about to start their stream, go on. Resolves once none is left (or at once when idle).
   */
  drain(): Promise<void> {
    this.draining = true;
    this.predialPool.closeAll();
    return this.whenIdle();
  }

  /** Resolves when no call is live and no announced stream is still to come. */
  whenIdle(): Promise<void> {
    if (this.calls.size === 0 && this.tokens.size === 0) return Promise.resolve();
    return new Promise((resolve) => {
      // Calls end with an event (checkIdle runs then); an announced stream that never comes only expires: a poll sees it.
      const poll = setInterval(() => this.checkIdle(), 500);
      poll.unref();
      this.idleWaiters.add(() => {
        clearInterval(poll);
        resolve();
      });
      this.checkIdle();
    });
  }

  /** The drain timed out: every live call's agent says `instructions` (a goodbye) and the call ends after it. */
  endAllPolitely(reason: string, instructions: string): void {
    for (const call of this.calls.values()) call.endPolitely(reason, instructions);
  }

  private checkIdle(): void {
    // Announced streams that never come expire with their token; the registry prunes on size.
    if (this.calls.size > 0 || this.tokens.size > 0) return;
    for (const resolve of [...this.idleWaiters]) resolve();
    this.idleWaiters.clear();
  }

  /** The webhook's question: is there room for one more call (live calls plus calls announced but not started)? */
  admitWebhook(callSid: string): boolean {
    const { maxConcurrentCalls } = this.options.config.server;
    if (this.draining || this.stopping) {
      this.logger.warn({ callSid, activeCalls: this.calls.size }, 'call refused: draining for shutdown');
      this.options.onRefusal?.('draining');
      return false;
    }
    const admitted = this.calls.size + this.tokens.size < maxConcurrentCalls;
    if (!admitted) {
      this.logger.warn({ callSid, activeCalls: this.calls.size, maxConcurrentCalls }, 'call refused: at capacity');
      this.options.onRefusal?.('capacity');
    }
    return admitted;
  }

  /** Guard rails at the door: true = refuse (logged and counted once here). */
  refuseCaller(from: string, callSid: string): boolean {
    const reason = this.options.guard?.screenCaller(from) ?? null;
    if (reason === null) return false;
    // The number is personal data: the log says why, the record of refusals is the metric.
    this.logger.warn({ callSid, reason }, 'call refused by a guard rail');
    this.options.onRefusal?.(reason);
    return true;
  }

  /** The agent answering `calledNumber`, or null: nobody answers it (the caller hears a polite refusal). */
  agentFor(calledNumber: string): string | null {
    const agent = agentForNumber(this.options.roster, calledNumber)?.name ?? null;
    if (agent === null) this.options.onRefusal?.('no_agent');
    return agent;
  }

  /** The webhook answered with a stream token: dial the agent now, so the caller does not wait for it later. */
  callAccepted(call: AcceptedCall): void {
    if (!this.options.predial) return;
    const agent = this.agentOf(call);
    const logger = this.logger.child({ callSid: call.callSid });
    this.predialPool.put(call.token, this.options.dialAgent({ agent, variables: variablesOf(call), logger, continuing: call.resumeNote !== undefined }));
  }

  /**
   * Twilio asks what to do now that a stream (or a transfer's dial) ended: the outcome the call left decides it.
   * `resume` connects a new stream (a failed transfer goes back to the agent).
   */
  afterStream(request: { callSid: string; dialStatus: string | null }, resume: (info: Omit<StreamTokenInfo, 'callSid' | 'from' | 'to'>) => string): string {
    const outcome = this.outcomes.get(request.callSid);
    const step = decideAfterStream(outcome, request.dialStatus as DialStatus | null);
    if (step.kind !== 'dial') this.outcomes.delete(request.callSid);
    switch (step.kind) {
      case 'hang_up':
        return hangUpTwiml();
      case 'say_and_hang_up':
        return sayAndHangUpTwiml(step.text);
      case 'dial':
        this.logger.info({ callSid: request.callSid, target: step.target }, 'transferring the call');
        return dialTwiml({ target: step.target, timeoutS: step.timeoutS, callerId: step.callerId, actionUrl: dialActionUrl(this.options.config) });
      case 'back_to_agent':
        this.logger.info({ callSid: request.callSid, agent: step.agentName, dialStatus: request.dialStatus }, 'transfer failed: back to the agent');
        return resume({ agentName: step.agentName, resumeNote: step.note });
    }
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
    const agentDefinition = this.agentOf(announced);
    const outbound = announced.direction === 'outbound' ? (this.options.outbound?.attach(start.callSid, start.streamSid) ?? null) : null;
    this.launch({ channel: stream, agentDefinition, announced, predialled, outbound, callLogger, onClosed });
  }

  /**
   * A browser-phone call (its one-time token already used by the upgrade): admitted like a phone call (capacity,
   * drain), served by the same Call with the same agent, tools, records and metrics. False = refused (the channel
   * is closed with a reason the page shows).
   */
  acceptBrowserCall(channel: CallerChannel & { sendTranscript(line: { speaker: string; itemId: string; text: string; final: boolean }): void }, agentName: string, onClosed: () => void): boolean {
    const { callSid } = channel.start;
    const callLogger = this.logger.child({ callSid, channel: 'browser' });
    const refusal = this.stopping || this.draining ? 'draining' : this.calls.size + this.tokens.size >= this.options.config.server.maxConcurrentCalls ? 'capacity' : null;
    if (refusal !== null) {
      callLogger.warn({ reason: refusal }, 'browser call refused');
      this.options.onRefusal?.(refusal);
      channel.close(1013, refusal === 'draining' ? 'the server is draining: try again shortly' : 'at capacity: try again shortly');
      onClosed();
      return false;
    }
    const agentDefinition = this.agentOf({ agentName });
    const announced = { callSid, from: 'browser', to: agentDefinition.name, agentName: agentDefinition.name, direction: 'browser' as const };
    this.launch({ channel, agentDefinition, announced, predialled: null, outbound: null, callLogger, onClosed, wideband: true, onTranscript: (line) => channel.sendTranscript(line) });
    return true;
  }

  /** Hangs up one live call (the console's button). False when this process serves no such call. */
  hangUpCall(callSid: string, reason: string): boolean {
    const call = this.calls.get(callSid);
    call?.hangUp(reason);
    return call !== undefined;
  }

  private launch(request: {
    channel: CallerChannel;
    agentDefinition: AgentDefinition;
    announced: StreamTokenInfo | { callSid: string; from: string; to: string; agentName: string; direction: 'browser' };
    predialled: VoiceAgentSession | null;
    outbound: ReturnType<OutboundCalls['attach']> | null;
    callLogger: Logger;
    onClosed: () => void;
    wideband?: boolean;
    onTranscript?: (line: { speaker: string; itemId: string; text: string; final: boolean }) => void;
  }): void {
    const { channel, agentDefinition, announced, predialled, outbound, callLogger, onClosed } = request;
    const { start } = channel;
    const resumeNote = 'resumeNote' in announced ? announced.resumeNote : undefined;
    const variables = variablesOf(announced);
    // A re-dial opens the provider the call is on now (the fallback's, once it fell back).
    let provider = agentDefinition.provider;
    // A resumed call (after a failed transfer) continues: no provider greets it again on its own.
    const resumed = resumeNote !== undefined;
    const wideband = request.wideband === true;
    const dial = (continuing = resumed) => this.options.dialAgent({ agent: agentDefinition, variables, logger: callLogger, provider, continuing, ...(wideband ? { wideband } : {}) });
    const fallbackProvider = agentDefinition.fallbackProvider;
    const agent = predialled ?? dial();
    const { config } = this.options;
    const info: CallInfo = outbound?.info ?? {
      callSid: start.callSid,
      streamSid: start.streamSid,
      from: announced.from,
      to: announced.to,
      direction: announced.direction === 'browser' ? 'browser' : 'inbound',
      agent: agentDefinition.name,
      provider: agent.provider,
      model: agent.provider === 'openai' ? agentDefinition.model : agent.provider,
      startedAtEpochMs: Date.now(),
      clockStartMs: this.options.clock.now(),
      instanceId: config.cluster.instanceId,
    };
    const audioTap = this.options.recordingFor?.(info, agentDefinition, channel.audio);
    const { observers } = this.options;
    const onTranscript = request.onTranscript;
    const call = new Call({
      settings: {
        playbackLeadMs: config.call.playbackLeadMs,
        pacerQuantumMs: config.call.pacerQuantumMs,
        markIntervalMs: config.call.markIntervalMs,
        forwardDtmf: config.call.forwardDtmf,
        jitterCushionMs: config.call.jitterCushionMs,
        // The greeting is a template like the instructions ({{custom.name}} of an outbound call, {{callerNumber}}, …).
        greeting: resumeNote ?? (agentDefinition.greeting === null ? null : fillTemplate(agentDefinition.greeting, variables)),
        greetingIsNote: resumed,
        redialAttempts: config.openai.redialAttempts,
        rotateSessionAfterMs: config.openai.sessionRotateAfterS === 0 ? null : config.openai.sessionRotateAfterS * 1000,
      },
      clock: this.options.clock,
      logger: callLogger.child({ agent: agentDefinition.name }),
      channel,
      agent,
      tools: this.options.toolsFor(agentDefinition),
      numbers: { callerNumber: announced.from, calledNumber: announced.to },
      control: callControlFor(agentDefinition),
      limits: callLimitsFor(agentDefinition),
      holdSoundAfterMs: agentDefinition.holdSoundAfterMs,
      predialled: predialled !== null,
      redial: (continuing) => dial(continuing || resumed),
      ...(fallbackProvider === null
        ? {}
        : {
            fallback: () => {
              provider = fallbackProvider;
              return dial();
            },
          }),
      onEvent:
        onTranscript === undefined
          ? (event) => observers.event(info, event)
          : (event) => {
              observers.event(info, event);
              if (event.type === 'transcript') onTranscript(event);
            },
      ...(audioTap === undefined ? {} : { audioTap }),
      ...(outbound?.answeringMachine === undefined ? {} : { answeringMachine: outbound.answeringMachine }),
      onStreamOutcome: (outcome: StreamOutcome) => this.outcomes.set(start.callSid, outcome),
      deliveryPace: this.paces.for(`${agentDefinition.name}/${agent.provider}`),
    });
    this.calls.set(start.callSid, call);
    call.ended.then(
      (summary) => {
        this.forget(start.callSid, call);
        onClosed();
        this.checkIdle();
        if (outbound === null) observers.ended(info, summary);
        else outbound.streamEnded(summary);
      },
      (error: unknown) => {
        this.forget(start.callSid, call);
        onClosed();
        this.checkIdle();
        outbound?.streamEnded(null);
        callLogger.error({ err: error }, 'call ended with an internal error');
      },
    );
    // An outbound call's observers heard of it when it was placed.
    if (outbound === null) observers.started(info);
    call.start();
    outbound?.bindVerdict((answeredBy) => call.answeredBy(answeredBy));
  }

  /** A resumed stream of the same call (after a failed transfer) may already stand under its SID: keep that one. */
  private forget(callSid: string, call: Call): void {
    if (this.calls.get(callSid) === call) this.calls.delete(callSid);
  }

  private agentOf(info: { agentName?: string }): AgentDefinition {
    const { roster } = this.options;
    const named = info.agentName === undefined ? null : agentByName(roster, info.agentName);
    // The token always names an agent of this roster; the first agent is a guard, not a route.
    return named ?? roster.defaultAgent ?? roster.agents[0]!;
  }

  /**
   * Stops admitting, closes unclaimed pre-dialled sessions, hangs up every live call and waits for them to end (at
   * most `graceMs`), then for the observers' `callEnded` work (records) for what is left of the same deadline.
   */
  async shutdown(graceMs: number): Promise<void> {
    this.stopping = true;
    const deadlineMs = Date.now() + graceMs;
    this.predialPool.closeAll();
    const ending = [...this.calls.values()].map((call) => {
      call.hangUp('server shutting down');
      return call.ended.catch(() => undefined);
    });
    await Promise.race([Promise.all(ending), new Promise((resolve) => setTimeout(resolve, graceMs).unref())]);
    const flushed = await this.options.observers.flush(Math.max(0, deadlineMs - Date.now()));
    if (!flushed) this.logger.warn('shutdown: some call observers had not finished (records may be incomplete)');
  }
}

function variablesOf(call: { callSid: string; from: string; to: string; custom?: Readonly<Record<string, string>> }): CallVariables {
  return { callerNumber: call.from, calledNumber: call.to, callSid: call.callSid, startedAtEpochMs: Date.now(), custom: call.custom ?? {} };
}
