/**
 * One simulated outbound call's life, as Twilio runs it:
 *
 *   queued → (initiated) → ringing → in-progress → completed
 *                                  ↘ busy | no-answer | failed | canceled
 *
 * On answer it starts the callee's timeline (hang-up timer, AMD), requests the call's Url (signed; with `AnsweredBy`
 * after a synchronous AMD wait) or takes its inline Twiml, and runs the TwiML. Status callbacks go out one at a time
 * for the events asked for; the async AMD verdict goes to its own callback. The call ends when the TwiML runs out,
 * on `<Hangup/>`, when the callee hangs up, at TimeLimit, or by the API; a live stream then gets `stop`.
 */
import type { Clock } from '../../clock.js';
import type { Logger } from '../../logger.js';
import { amdVerdict, openCalleeStream, type AmdVerdict, type CalleeTimeline } from './callees.js';
import { OutboundCallRecord } from './call-record.js';
import type { CreateCallRequest, HttpMethod, StatusCallbackEvent, UpdateCallRequest } from './create-params.js';
import { TwilioApiError, type CallResourceState } from './resource.js';
import { CallTimers } from './timers.js';
import { runTwiml, type TwimlDocument, type TwimlHost } from './twiml-executor.js';
import type { CalleeBehaviour, CalleeStream, EndReason, RequestLogEntry } from './types.js';
import { amdCallbackParams, callParams, SerialQueue, sendSignedRequest, statusCallbackParams, type CallDurations, type OutgoingRequest } from './webhooks.js';

/** Ring time of a callee who answers, when not given (scaled). */
const DEFAULT_ANSWER_AFTER_MS = 2_000;
const DEFAULT_BUSY_RING_MS = 1_000;
const DEFAULT_FAIL_AFTER_MS = 200;

export interface CallEngineDeps {
  sid: string;
  accountSid: string;
  authToken: string;
  request: CreateCallRequest;
  behaviour: CalleeBehaviour;
  /** For callees who answer. */
  timeline: CalleeTimeline | null;
  clock: Clock;
  timeScale: number;
  dialDurationMs: number;
  keepPayloads: boolean;
  routeUrl: (url: string) => string;
  /** Aborted when the server closes: cuts every request in flight. */
  abort: AbortSignal;
  logger: Logger;
  onChange: () => void;
}

/** Where a run's first document comes from. */
type DocumentSource =
  | { kind: 'inline'; xml: string }
  | { kind: 'fetch'; requestKind: RequestLogEntry['kind']; url: string; method: HttpMethod; extra: Record<string, string> };

type UnansweredEnd = 'busy' | 'no-answer' | 'failed' | 'canceled';

export class OutboundCallEngine {
  readonly call: OutboundCallRecord;
  private readonly deps: CallEngineDeps;
  private readonly createdAtClockMs: number;
  private answeredAtClockMs: number | null = null;
  private readonly dateCreated = new Date();
  private dateUpdated = this.dateCreated;
  private startTime: Date | null = null;
  private endTime: Date | null = null;
  private readonly timers: CallTimers;
  private readonly statusCallbacks = new SerialQueue();
  /** Requests and streams still open: the call is `finished` once none is left after it ended. */
  private readonly pending = new Set<Promise<unknown>>();
  private sequenceNumber = 0;
  private run: AbortController | null = null;
  private shutDown = false;

  constructor(deps: CallEngineDeps) {
    this.deps = deps;
    this.timers = new CallTimers(deps.clock);
    this.createdAtClockMs = deps.clock.now();
    const { request } = deps;
    this.call = new OutboundCallRecord(deps.sid, deps.accountSid, request.to, request.from, deps.behaviour, request.raw);
    this.call.greetingEndMs = deps.timeline?.greetingEndMs ?? null;
    this.call.beepEndMs = deps.timeline?.beepEndMs ?? null;
  }

  /** Dials. Call once, after the create response is on its way. */
  start(): void {
    this.emitStatusEvent('initiated', 'initiated');
    const behaviour = this.deps.behaviour;
    const timeoutMs = this.scaled(this.deps.request.timeoutSec * 1_000);
    switch (behaviour.kind) {
      case 'fail':
        this.timers.after(this.scaled(behaviour.afterMs ?? DEFAULT_FAIL_AFTER_MS), () => this.endUnanswered('failed'));
        return;
      case 'busy': {
        const ringMs = this.scaled(behaviour.ringMs ?? DEFAULT_BUSY_RING_MS);
        if (ringMs > 0) this.ring();
        this.timers.after(ringMs, () => this.endUnanswered('busy'));
        return;
      }
      case 'no-answer':
        this.ring();
        this.timers.after(timeoutMs, () => this.endUnanswered('no-answer'));
        return;
      default: {
        this.ring();
        const answerMs = this.scaled(behaviour.answerAfterMs ?? DEFAULT_ANSWER_AFTER_MS);
        if (answerMs >= timeoutMs) this.timers.after(timeoutMs, () => this.endUnanswered('no-answer'));
        else this.timers.after(answerMs, () => this.answer());
      }
    }
  }

  resource(): CallResourceState {
    const { call } = this;
    return {
      sid: call.sid,
      accountSid: call.accountSid,
      to: call.to,
      from: call.from,
      status: call.status,
      answeredBy: call.answeredBy,
      dateCreated: this.dateCreated,
      dateUpdated: this.dateUpdated,
      startTime: this.startTime,
      endTime: this.endTime,
      durationSec: call.durationSec,
    };
  }

  /**
   * `Status=completed` hangs up (a call not yet answered ends `canceled`); `Status=canceled` only stops a queued or
   * ringing call. `Url`/`Twiml` replace the running TwiML at once (a live stream gets `stop`, its action is not
   * requested); only an in-progress call can be redirected (21220).
   */
  update(update: UpdateCallRequest): void {
    if (update.status !== null) {
      if (this.isEnded()) return;
      if (this.call.status === 'queued' || this.call.status === 'ringing') this.endUnanswered('canceled');
      else if (update.status === 'completed') this.endAnswered('api-completed');
      return;
    }
    if (update.url === null && update.twiml === null) return;
    if (this.call.status !== 'in-progress') throw new TwilioApiError(400, 21220, 'Call is not in-progress. Cannot redirect.');
    this.startRun(
      update.url !== null
        ? { kind: 'fetch', requestKind: 'redirect', url: update.url, method: update.method, extra: {} }
        : { kind: 'inline', xml: update.twiml ?? '' },
    );
  }

  /** The server is closing: stop everything, send nothing more. */
  shutdown(): void {
    this.shutDown = true;
    this.run?.abort();
    this.timers.clearAll();
  }

  private ring(): void {
    this.setStatus('ringing');
    this.emitStatusEvent('ringing', 'ringing');
  }

  private answer(): void {
    if (this.isEnded()) return;
    const { request, clock } = this.deps;
    const timeline = this.deps.timeline;
    const behaviour = this.deps.behaviour;
    if (timeline === null || (behaviour.kind !== 'human' && behaviour.kind !== 'voicemail')) throw new Error('answer() for a callee who does not answer');
    this.answeredAtClockMs = clock.now();
    this.call.answeredAtMs = this.sinceCreatedMs();
    this.startTime = new Date();
    this.setStatus('in-progress');
    this.emitStatusEvent('answered', 'in-progress');
    if (timeline.hangUpAfterMs !== null) this.timers.after(timeline.hangUpAfterMs, () => this.endAnswered('callee-hung-up'));
    this.timers.after(this.scaled(request.timeLimitSec * 1_000), () => this.endAnswered('time-limit'));

    const first: DocumentSource =
      request.url !== null
        ? { kind: 'fetch', requestKind: 'voice-url', url: request.url, method: request.method, extra: {} }
        : { kind: 'inline', xml: request.twiml ?? '' };
    if (request.machineDetection === null) {
      this.startRun(first);
      return;
    }
    const verdict = amdVerdict(behaviour, timeline, request);
    if (request.asyncAmd) {
      this.timers.after(verdict.afterMs, () => this.deliverVerdict(verdict));
      this.startRun(first);
      return;
    }
    // Synchronous AMD: Twilio holds the call until the verdict, then requests the Url with AnsweredBy.
    this.timers.after(verdict.afterMs, () => {
      this.call.answeredBy = verdict.answeredBy;
      this.startRun(first.kind === 'fetch' ? { ...first, extra: { AnsweredBy: verdict.answeredBy } } : first);
    });
  }

  private deliverVerdict(verdict: AmdVerdict): void {
    this.call.answeredBy = verdict.answeredBy;
    this.deps.onChange();
    const url = this.deps.request.asyncAmdStatusCallback;
    if (url === null) return;
    const params = amdCallbackParams(this.call, verdict.answeredBy, verdict.afterMs);
    void this.send({ kind: 'amd-callback', method: this.deps.request.asyncAmdStatusCallbackMethod, url, params });
  }

  /** Replaces whatever TwiML is running (its waits end, its stream gets `stop`) with a new run. */
  private startRun(source: DocumentSource): void {
    this.run?.abort();
    const controller = new AbortController();
    this.run = controller;
    const host = this.host(controller.signal);
    const task = (async () => {
      let document: TwimlDocument;
      if (source.kind === 'inline') {
        document = { xml: source.xml, url: null };
      } else {
        const xml = await host.fetchTwiml(source.requestKind, source.url, source.method, source.extra);
        if (controller.signal.aborted) return;
        if (xml === null) return this.endAnswered('application-error');
        document = { xml, url: source.url };
      }
      const outcome = await runTwiml(host, document);
      if (controller.signal.aborted || outcome === 'aborted') return;
      this.endAnswered(outcome === 'hangup' ? 'hangup-verb' : outcome === 'error' ? 'application-error' : 'twiml-ended');
    })().catch((error: unknown) => {
      this.deps.logger.error({ err: error, callSid: this.call.sid }, 'simulated call: TwiML run failed');
      this.endAnswered('application-error');
    });
    this.track(task);
  }

  private host(signal: AbortSignal): TwimlHost {
    return {
      signal,
      atMs: () => this.deps.clock.now() - (this.answeredAtClockMs ?? this.createdAtClockMs),
      record: (verb) => {
        this.call.verbs.push(verb);
        this.deps.onChange();
      },
      notify: (code, message) => this.notify(code, message),
      sleep: (ms) => this.timers.sleep(this.scaled(ms), signal),
      connectStream: (url, parameters, twiml) => this.connectStream(url, parameters, twiml, signal),
      fetchTwiml: (kind, url, method, extra) => this.fetchTwiml(kind, url, method, extra),
      dialDurationMs: this.deps.dialDurationMs,
    };
  }

  private async fetchTwiml(kind: RequestLogEntry['kind'], url: string, method: HttpMethod, extra: Record<string, string>): Promise<string | null> {
    const entry = await this.send({ kind, method, url, params: { ...callParams(this.call, 'in-progress'), ...extra } });
    if (entry.status === null) {
      this.notify(/timeout/i.test(entry.error ?? '') ? 11205 : 11200, `HTTP retrieval failure: ${method} ${url}: ${entry.error}`);
      return null;
    }
    if (entry.status < 200 || entry.status >= 300) {
      this.notify(11200, `HTTP retrieval failure: ${method} ${url} answered HTTP ${entry.status}`);
      return null;
    }
    if (!/xml|html/i.test(entry.contentType)) {
      this.notify(12300, `Invalid Content-Type: ${entry.contentType || '(none)'} from ${url}`);
      return null;
    }
    return entry.body;
  }

  private async connectStream(url: string, parameters: Record<string, string>, twiml: string, signal: AbortSignal): Promise<void> {
    const answeredAtClockMs = this.answeredAtClockMs;
    if (this.deps.timeline === null || answeredAtClockMs === null) return;
    let opened: Awaited<ReturnType<typeof openCalleeStream>>;
    try {
      opened = await openCalleeStream({
        url,
        dialUrl: this.deps.routeUrl(url),
        parameters,
        twiml,
        timeline: this.deps.timeline,
        answeredAtClockMs,
        clock: this.deps.clock,
        callSid: this.call.sid,
        accountSid: this.call.accountSid,
        authToken: this.deps.authToken,
        keepPayloads: this.deps.keepPayloads,
      });
    } catch (error) {
      this.notify(31920, `Stream - WebSocket - Handshake Error: ${(error as Error).message}`);
      return;
    }
    const stream: CalleeStream = { url, parameters, startedAtMs: opened.startedAtMs, call: opened.call, result: null };
    this.call.streams.push(stream);
    this.deps.onChange();
    // The call ending or being redirected closes the stream as Twilio does: `stop`, then close.
    const hangUp = (): void => void opened.call.hangUp();
    if (signal.aborted) hangUp();
    else signal.addEventListener('abort', hangUp, { once: true });
    const closing = opened.call.closed.then((result) => {
      signal.removeEventListener('abort', hangUp);
      stream.result = result;
      // Expected when the application ends <Connect>; Twilio logs it all the same.
      if (result.endedBy === 'server') this.notify(31921, 'Stream - WebSocket - Close Error: the application closed the stream');
      this.deps.onChange();
    });
    this.track(closing);
    await closing;
  }

  private emitStatusEvent(event: StatusCallbackEvent, callStatus: string, durations?: CallDurations): void {
    const { request } = this.deps;
    const url = request.statusCallback;
    if (url === null || !request.statusCallbackEvents.has(event) || this.shutDown) return;
    const params = statusCallbackParams(this.call, {
      callStatus,
      sequenceNumber: this.sequenceNumber++,
      timestamp: new Date(),
      ...(durations === undefined ? {} : { durations }),
    });
    this.track(this.statusCallbacks.push(() => this.send({ kind: 'status-callback', method: request.statusCallbackMethod, url, params })));
  }

  private send(request: OutgoingRequest): Promise<RequestLogEntry> {
    const log = (entry: RequestLogEntry): void => {
      this.call.requests.push(entry);
      this.deps.onChange();
    };
    const task = sendSignedRequest(this.deps.authToken, request, this.sinceCreatedMs(), log, { abort: this.deps.abort, route: this.deps.routeUrl }).then((entry) => {
      this.deps.logger.debug({ callSid: this.call.sid, kind: entry.kind, url: entry.url, status: entry.status, error: entry.error }, 'simulated twilio request');
      this.deps.onChange();
      return entry;
    });
    this.track(task);
    return task;
  }

  private endUnanswered(status: UnansweredEnd): void {
    if (this.isEnded()) return;
    this.timers.clearAll();
    this.call.durationSec = 0;
    this.call.endReason = status === 'canceled' ? 'api-canceled' : status;
    this.markEnded();
    this.setStatus(status);
    this.emitStatusEvent('completed', status, { callSec: 0, billedMinutes: 0 });
    void this.settle();
  }

  private endAnswered(reason: EndReason): void {
    if (this.isEnded() || this.answeredAtClockMs === null) return;
    this.run?.abort();
    this.run = null;
    this.timers.clearAll();
    // Whole seconds, rounded (timers fire a hair late: a 2 s call must not read 3); any answered call bills a minute.
    const durationSec = Math.round((this.deps.clock.now() - this.answeredAtClockMs) / 1_000);
    this.call.durationSec = durationSec;
    this.call.endReason = reason;
    this.markEnded();
    this.setStatus('completed');
    this.emitStatusEvent('completed', 'completed', { callSec: durationSec, billedMinutes: Math.max(1, Math.ceil(durationSec / 60)) });
    void this.settle();
  }

  private markEnded(): void {
    this.call.endedAtMs = this.sinceCreatedMs();
    this.endTime = new Date();
  }

  /** `finished` once every stream has closed and every request has been answered. */
  private async settle(): Promise<void> {
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
    this.call.finished = true;
    this.deps.onChange();
  }

  private isEnded(): boolean {
    return this.call.endReason !== null || this.shutDown;
  }

  private setStatus(status: OutboundCallRecord['status']): void {
    this.call.status = status;
    this.call.statusHistory.push({ status, atMs: this.sinceCreatedMs() });
    this.dateUpdated = new Date();
    this.deps.onChange();
  }

  private notify(code: number, message: string): void {
    this.call.notifications.push({ atMs: this.sinceCreatedMs(), code, message });
    this.deps.onChange();
  }

  private track(task: Promise<unknown>): void {
    this.pending.add(task);
    void task.finally(() => this.pending.delete(task)).catch(() => undefined);
  }

  private scaled(ms: number): number {
    return ms * this.deps.timeScale;
  }

  private sinceCreatedMs(): number {
    return this.deps.clock.now() - this.createdAtClockMs;
  }
}
