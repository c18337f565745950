/**
 * Outbound calls: the one owner of every call callbridge places. A request is checked (policy.ts), passes the rate
 * gate (concurrency, calls per second, a bounded queue), and is placed through Twilio's REST API with a voice URL
 * that leads into the same signed webhook → `<Connect><Stream>` path as inbound calls, status callbacks, and (per
 * agent) async answering-machine detection. This class then follows the call: its statuses reach the observers as
 * `call_status` events, the AMD verdict reaches the live Call, and the call's observers hear `started` when it is
 * placed and `ended` once Twilio's final status and the stream's end (if it connected) are both in.
 */
import { randomBytes } from 'node:crypto';
import type { AgentRoster } from '../agents/types.js';
import type { AnsweringMachineSettings } from '../call/answering-machine.js';
import type { CallSummary } from '../call/call-summary.js';
import type { Clock } from '../clock.js';
import type { Config } from '../config.js';
import type { Logger } from '../logger.js';
import type { CallInfo, CallObservers } from '../observers/hub.js';
import { fillTemplate } from '../agents/template.js';
import { checkOutboundRequest, type ApiRefusal, type OutboundRequest } from './policy.js';
import { OutboundRateGate } from './rate-gate.js';
import { TwilioRestError, type TwilioCalls } from './twilio-rest.js';

import { OUTBOUND_VOICE_PATH } from '../twilio/webhook.js';
export const OUTBOUND_STATUS_PATH = '/outbound/status';
export const OUTBOUND_AMD_PATH = '/outbound/amd';

const FINAL_STATUSES = new Set(['completed', 'busy', 'no-answer', 'failed', 'canceled']);
/** A stream that ended but whose final status never came: the call is closed anyway after this. */
const FINAL_STATUS_GRACE_MS = 60_000;

export interface OutboundProgress {
  readonly requestId: string;
  readonly callSid: string | null;
  readonly to: string;
  readonly agent: string;
  /** `waiting` (in our queue), then Twilio's statuses. */
  readonly status: string;
  readonly answeredBy: string | null;
  readonly durationS: number | null;
  readonly history: ReadonlyArray<{ readonly atEpochMs: number; readonly status: string }>;
}

interface Job {
  requestId: string;
  request: OutboundRequest;
  callSid: string | null;
  status: string;
  answeredBy: string | null;
  durationS: number | null;
  history: Array<{ atEpochMs: number; status: string }>;
  info: CallInfo | null;
  /** The live call's AMD handler once its stream started; the verdict waits here until then. */
  verdictSink: ((answeredBy: string) => void) | null;
  pendingVerdict: string | null;
  stream: 'none' | 'live' | 'ended';
  summary: CallSummary | null;
  finalStatus: boolean;
  finished: boolean;
  graceTimer: ReturnType<Clock['setTimeout']> | null;
  /** Status callbacks that beat Twilio's answer to the create request. */
  early: Array<{ callSid: string; status: string; durationS: number | null }>;
}

export interface OutboundCallsOptions {
  config: Readonly<Config>;
  roster: AgentRoster;
  logger: Logger;
  clock: Clock;
  observers: CallObservers;
  /** Null: outbound calling is not configured (requests get 503). */
  twilio: TwilioCalls | null;
  /** The daily spend cap is reached: no new call is placed. */
  spendCapReached?: () => boolean;
}

export type OutboundAnswer = { status: 202; body: { requestId: string; callSid: string | null; status: string } } | ApiRefusal;

/** What the stream of an outbound call needs from its job. */
export interface OutboundAttachment {
  readonly info: CallInfo;
  readonly answeringMachine: AnsweringMachineSettings | undefined;
  bindVerdict(sink: (answeredBy: string) => void): void;
  /** Null: the call failed inside (an internal error): observers hear it as not connected, the slot frees. */
  streamEnded(summary: CallSummary | null): void;
}

export class OutboundCalls {
  private readonly options: OutboundCallsOptions;
  private readonly logger: Logger;
  private readonly gate: OutboundRateGate<Job>;
  private readonly byRequest = new Map<string, Job>();
  private readonly bySid = new Map<string, Job>();
  private stopped = false;

  constructor(options: OutboundCallsOptions) {
    this.options = options;
    this.logger = options.logger.child({ component: 'outbound' });
    const { outbound } = options.config;
    this.gate = new OutboundRateGate({ clock: options.clock, maxConcurrent: outbound.maxConcurrent, callsPerSecond: outbound.callsPerSecond, maxQueued: outbound.maxQueued });
  }

  get enabled(): boolean {
    return this.options.twilio !== null;
  }

  /** `POST /api/calls`: 202 once placed (or queued behind the rate), or a refusal; nothing is dialled on a refusal. */
  async request(body: unknown): Promise<OutboundAnswer> {
    if (this.options.twilio === null) {
      return { status: 503, code: 'outbound_unavailable', message: 'outbound calls need TWILIO_ACCOUNT_SID, TWILIO_FROM_NUMBER and TWILIO_AUTH_TOKEN (or TWILIO_API_KEY_SID/SECRET)' };
    }
    if (this.stopped) return { status: 503, code: 'draining', message: 'this instance is shutting down: place the call on another one' };
    const checked = checkOutboundRequest(body, this.options.roster);
    if ('status' in checked) return checked;
    if (this.options.spendCapReached?.() === true) return { status: 429, code: 'spend_cap', message: 'the daily spend cap (DAILY_SPEND_CAP_USD) is reached: no calls until midnight UTC' };
    const job = this.newJob(checked);
    let placed: Promise<void> | null = null;
    const admission = this.gate.submit(job, (started) => (placed = this.place(started)));
    if (admission === 'rejected') {
      this.logger.warn({ to: job.request.to, agent: job.request.agent.name, waiting: this.gate.waiting }, 'outbound call refused: the queue is full');
      return { status: 429, code: 'rate_limited', message: `too many outbound calls waiting (OUTBOUND_MAX_QUEUED=${this.options.config.outbound.maxQueued})` };
    }
    this.byRequest.set(job.requestId, job);
    if (admission === 'queued') {
      this.logger.info({ requestId: job.requestId, waiting: this.gate.waiting }, 'outbound call waiting for the rate limit');
      return { status: 202, body: { requestId: job.requestId, callSid: null, status: 'waiting' } };
    }
    await placed;
    if (job.callSid === null) {
      this.byRequest.delete(job.requestId);
      const failure = job.history.at(-1)?.status ?? 'failed';
      return { status: 400, code: 'twilio_rejected', message: failure };
    }
    return { status: 202, body: { requestId: job.requestId, callSid: job.callSid, status: job.status } };
  }

  /** The progress of one request (by request id or callSid), for `GET /api/outbound/:id` and `npm run dial`. */
  progress(id: string): OutboundProgress | null {
    const job = this.byRequest.get(id) ?? this.bySid.get(id);
    if (job === undefined) return null;
    const { requestId, callSid, status, answeredBy, durationS, history } = job;
    return { requestId, callSid, to: job.request.to, agent: job.request.agent.name, status, answeredBy, durationS, history: [...history] };
  }

  /** The voice URL's question: which agent, with which variables, answers this outbound call. Null: not ours. */
  voiceRequest(requestId: string, callSid: string): { agentName: string; custom: Record<string, string> } | null {
    const job = this.byRequest.get(requestId);
    if (job === undefined || job.callSid !== callSid) return null;
    return { agentName: job.request.agent.name, custom: { ...job.request.variables } };
  }

  /** The stream of an outbound call started: the call's identity and answering-machine settings. */
  attach(callSid: string, streamSid: string): OutboundAttachment | null {
    const job = this.bySid.get(callSid);
    if (job === undefined || job.info === null || job.stream !== 'none') return null;
    job.stream = 'live';
    const info: CallInfo = { ...job.info, streamSid };
    job.info = info;
    const { outbound } = job.request.agent;
    const answeringMachine =
      outbound.answeringMachine === 'off'
        ? undefined
        : { mode: outbound.answeringMachine, voicemailMessage: outbound.voicemailMessage === null ? null : fillTemplate(outbound.voicemailMessage, this.variablesOf(job)) };
    return {
      info,
      answeringMachine,
      bindVerdict: (sink) => {
        job.verdictSink = sink;
        const pending = job.pendingVerdict;
        job.pendingVerdict = null;
        if (pending !== null) sink(pending);
      },
      streamEnded: (summary) => {
        job.stream = 'ended';
        job.verdictSink = null;
        job.summary = summary;
        this.maybeFinish(job);
        if (!job.finished) job.graceTimer = this.options.clock.setTimeout(() => this.finish(job), FINAL_STATUS_GRACE_MS);
      },
    };
  }

  /** Twilio's async AMD callback. */
  machineVerdict(requestId: string, callSid: string, answeredBy: string): void {
    const job = this.byRequest.get(requestId);
    if (job === undefined || job.callSid !== callSid || answeredBy === '') return;
    job.answeredBy = answeredBy;
    this.logger.info({ callSid, answeredBy }, 'answering-machine detection');
    if (job.verdictSink !== null) job.verdictSink(answeredBy);
    else job.pendingVerdict = answeredBy;
  }

  /** Twilio's status callback (initiated, ringing, in-progress, completed, busy, no-answer, failed, canceled). */
  statusChanged(requestId: string, callSid: string, status: string, durationS: number | null): void {
    const job = this.byRequest.get(requestId);
    if (job === undefined || job.finished || callSid === '') return;
    // Twilio's `initiated` may arrive before its REST answer did: kept until the call is known as placed.
    if (job.callSid === null) {
      job.early.push({ callSid, status, durationS });
      return;
    }
    if (job.callSid !== callSid) return;
    this.setStatus(job, status, durationS);
    if (FINAL_STATUSES.has(status)) {
      job.finalStatus = true;
      this.maybeFinish(job);
    }
  }

  /** Shutdown: waiting requests are dropped (logged); placed calls run on and end as they end. */
  stop(): void {
    this.stopped = true;
    for (const job of this.gate.clear()) this.logger.warn({ requestId: job.requestId, to: job.request.to }, 'outbound call never placed: shutting down');
  }

  private newJob(request: OutboundRequest): Job {
    return {
      requestId: `OR${randomBytes(16).toString('hex')}`,
      request,
      callSid: null,
      status: 'waiting',
      answeredBy: null,
      durationS: null,
      history: [{ atEpochMs: Date.now(), status: 'waiting' }],
      info: null,
      verdictSink: null,
      pendingVerdict: null,
      stream: 'none',
      summary: null,
      finalStatus: false,
      finished: false,
      graceTimer: null,
      early: [],
    };
  }

  private async place(job: Job): Promise<void> {
    const { config, clock } = this.options;
    // The call's voice, status and AMD requests come back to this instance: the job lives here.
    const base = config.cluster.instancePublicUrl;
    const query = `?request=${job.requestId}`;
    const { agent, to } = job.request;
    const mode = agent.outbound.answeringMachine;
    try {
      const created = await this.options.twilio!.create({
        to,
        from: config.twilio.fromNumber!,
        url: base + OUTBOUND_VOICE_PATH + query,
        statusCallback: base + OUTBOUND_STATUS_PATH + query,
        asyncAmdStatusCallback: mode === 'off' ? null : base + OUTBOUND_AMD_PATH + query,
        // Hanging up on a machine needs only its start; a voicemail needs the end of its greeting (the beep).
        machineDetection: mode === 'off' ? null : mode === 'voicemail' ? 'DetectMessageEnd' : 'Enable',
        timeoutS: config.outbound.ringTimeoutS,
      });
      job.callSid = created.sid;
      this.bySid.set(created.sid, job);
      job.info = {
        callSid: created.sid,
        streamSid: '',
        from: config.twilio.fromNumber!,
        to,
        direction: 'outbound',
        agent: agent.name,
        provider: agent.provider,
        model: agent.provider === 'openai' ? agent.model : agent.provider,
        startedAtEpochMs: Date.now(),
        clockStartMs: clock.now(),
        instanceId: config.cluster.instanceId,
      };
      this.logger.info({ callSid: created.sid, requestId: job.requestId, to, agent: agent.name, answeringMachine: mode }, 'outbound call placed');
      this.options.observers.started(job.info);
      this.setStatus(job, created.status, null);
      for (const early of job.early.splice(0)) this.statusChanged(job.requestId, early.callSid, early.status, early.durationS);
    } catch (error) {
      const detail = error instanceof TwilioRestError ? { status: error.status, code: error.code, message: error.message } : { message: String(error) };
      this.logger.warn({ requestId: job.requestId, to, ...detail }, 'outbound call not placed: Twilio refused it');
      job.history.push({ atEpochMs: Date.now(), status: `failed: ${detail.message}${'code' in detail && detail.code !== null ? ` (Twilio ${detail.code})` : ''}` });
      job.status = 'failed';
      job.finished = true;
      this.gate.release();
      // A request that waited in the queue stays readable (its failure) like a finished call, then is forgotten.
      this.forgetLater(job);
    }
  }

  private setStatus(job: Job, status: string, durationS: number | null): void {
    if (job.status === status) return;
    job.status = status;
    if (durationS !== null) job.durationS = durationS;
    job.history.push({ atEpochMs: Date.now(), status });
    this.logger.info({ callSid: job.callSid, status, ...(durationS === null ? {} : { durationS }) }, 'outbound call status');
    if (job.info !== null) this.options.observers.event(job.info, { type: 'call_status', atMs: this.options.clock.now(), status, ...(durationS === null ? {} : { durationS }) });
  }

  /** Both halves in (Twilio's final status; the stream's end if it ever started): the call is over for observers. */
  private maybeFinish(job: Job): void {
    if (job.finalStatus && job.stream !== 'live') this.finish(job);
  }

  private finish(job: Job): void {
    if (job.finished) return;
    job.finished = true;
    if (job.graceTimer !== null) this.options.clock.clearTimeout(job.graceTimer);
    this.gate.release();
    if (job.info !== null) {
      if (job.summary !== null) this.options.observers.ended(job.info, job.summary);
      else this.options.observers.notConnected(job.info);
    }
    this.forgetLater(job);
  }

  /** Progress stays readable for a while (the CLI's last poll), then the job is forgotten. */
  private forgetLater(job: Job): void {
    const timer = this.options.clock.setTimeout(() => {
      this.byRequest.delete(job.requestId);
      if (job.callSid !== null) this.bySid.delete(job.callSid);
    }, 10 * 60_000);
    (timer as { unref?: () => void }).unref?.();
  }

  private variablesOf(job: Job) {
    return { callerNumber: this.options.config.twilio.fromNumber ?? '', calledNumber: job.request.to, callSid: job.callSid ?? '', startedAtEpochMs: Date.now(), custom: job.request.variables };
  }
}
