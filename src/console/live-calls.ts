/**
 * The console's live view: every call in progress with its events so far, and a fan-out of what happens next to the
 * console's server-sent-event streams. A call observer (name `console`), so the call never waits for it and never
 * sees it fail; it also guards itself: a subscriber that throws is dropped (logged once) and the others go on.
 *
 * Cost on the call's event path (not per audio frame): a Map update per event, and — only while someone watches —
 * one JSON encoding per event, shared by every subscriber.
 *
 * Transcripts are kept merged: one entry per spoken item (speaker + item id), in the place its first piece arrived.
 * A non-final transcript event is a piece to append; a final one replaces the text (a provider's correction too),
 * and pieces after the final are ignored — the records' rule (records/record-builder.ts). Live subscribers get every
 * event as it came and merge the same way.
 */
import type { CallEvent } from '../call/call-events.js';
import type { CallSummary } from '../call/call-summary.js';
import type { Logger } from '../logger.js';
import type { CallInfo, CallObserver } from '../observers/hub.js';

/** A live call: who called whom, and its events so far (transcripts merged). */
export interface LiveCall extends CallInfo {
  readonly events: readonly CallEvent[];
}

export type LiveUpdate =
  | { readonly kind: 'call_started'; readonly call: LiveCall }
  | { readonly kind: 'call_event'; readonly callSid: string; readonly event: CallEvent }
  | { readonly kind: 'call_ended'; readonly callSid: string; readonly endReason: string; readonly durationMs: number };

/** An update with its payload already encoded (`json`: the update without `kind`, as docs/console.md gives it). */
export interface LiveMessage {
  readonly update: LiveUpdate;
  readonly json: string;
}

export type LiveListener = (message: LiveMessage) => void;

export const DEFAULT_MAX_EVENTS_PER_CALL = 2_000;

export interface LiveCallsOptions {
  logger: Logger;
  /** Events kept per call; beyond it the oldest go (default 2000). */
  maxEventsPerCall?: number;
  /** Wall clock, ms since the epoch: the duration of a call that never connected (default Date.now). */
  epochNow?: () => number;
}

type TranscriptEvent = Extract<CallEvent, { type: 'transcript' }>;

interface Tracked {
  readonly info: CallInfo;
  /** Keyed `t:<speaker>:<itemId>` for transcripts (replaced in place), `e:<n>` otherwise; insertion order = display order. */
  readonly events: Map<string, CallEvent>;
  nextKey: number;
  /** Twilio's last call status (outbound): the end reason of a call that never connected. */
  lastStatus: string | null;
}

export class LiveCalls implements CallObserver {
  readonly name = 'console';
  private readonly logger: Logger;
  private readonly maxEvents: number;
  private readonly epochNow: () => number;
  private readonly calls = new Map<string, Tracked>();
  private readonly listeners = new Set<LiveListener>();

  constructor(options: LiveCallsOptions) {
    this.logger = options.logger;
    this.maxEvents = Math.max(1, options.maxEventsPerCall ?? DEFAULT_MAX_EVENTS_PER_CALL);
    this.epochNow = options.epochNow ?? Date.now;
  }

  /** Calls in progress. */
  get size(): number {
    return this.calls.size;
  }

  /** Subscribers (open console streams). */
  get subscribers(): number {
    return this.listeners.size;
  }

  has(callSid: string): boolean {
    return this.calls.has(callSid);
  }

  callStarted(info: CallInfo): void {
    // A second start for one sid (an outbound call's stream attaching) keeps the events already seen.
    const known = this.calls.get(info.callSid);
    const tracked: Tracked = known === undefined ? { info, events: new Map(), nextKey: 0, lastStatus: null } : { ...known, info };
    this.calls.set(info.callSid, tracked);
    if (this.listeners.size > 0) {
      const call = liveCallOf(tracked);
      this.publish({ kind: 'call_started', call }, { call });
    }
  }

  callEvent(info: CallInfo, event: CallEvent): void {
    const tracked = this.calls.get(info.callSid);
    // Events of a call we never saw start (observers registered mid-call) have nothing to attach to.
    if (tracked === undefined) return;
    if (event.type === 'transcript') this.mergeTranscript(tracked, event);
    else {
      if (event.type === 'call_status') tracked.lastStatus = event.status;
      tracked.events.set(`e:${tracked.nextKey++}`, event);
    }
    while (tracked.events.size > this.maxEvents) tracked.events.delete(tracked.events.keys().next().value as string);
    if (this.listeners.size > 0) this.publish({ kind: 'call_event', callSid: info.callSid, event }, { callSid: info.callSid, event });
  }

  callEnded(info: CallInfo, summary: CallSummary): void {
    this.end(info.callSid, summary.endReason, summary.durationMs);
  }

  callNotConnected(info: CallInfo): void {
    const tracked = this.calls.get(info.callSid);
    // The records' words for it: Twilio's final status (busy, no-answer, …), else "not answered".
    this.end(info.callSid, tracked?.lastStatus ?? 'not answered', Math.max(0, this.epochNow() - info.startedAtEpochMs));
  }

  /** A call another instance served ended there, or was lost with it (the cluster's view, src/cluster/). */
  endRemote(callSid: string, endReason: string, durationMs: number): void {
    this.end(callSid, endReason, durationMs);
  }

  /** Every live call with its events so far, oldest call first. Fresh arrays: the caller may keep them. */
  snapshot(): LiveCall[] {
    return [...this.calls.values()].map(liveCallOf);
  }

  /**
   * `listener` hears every update from now on. Take the snapshot in the same synchronous turn as subscribing, and
   * nothing is missed or seen twice. Returns the unsubscribe function (idempotent).
   */
  subscribe(listener: LiveListener): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  private end(callSid: string, endReason: string, durationMs: number): void {
    if (!this.calls.delete(callSid)) return;
    if (this.listeners.size > 0) this.publish({ kind: 'call_ended', callSid, endReason, durationMs }, { callSid, endReason, durationMs });
  }

  private mergeTranscript(tracked: Tracked, event: TranscriptEvent): void {
    const key = `t:${event.speaker}:${event.itemId}`;
    const known = tracked.events.get(key) as TranscriptEvent | undefined;
    if (known === undefined) {
      tracked.events.set(key, event);
      return;
    }
    if (event.final) {
      const asHeard = known.asHeard === true || event.asHeard === true;
      tracked.events.set(key, { ...known, text: event.text, final: true, ...(asHeard ? { asHeard } : {}) });
    } else if (!known.final) {
      tracked.events.set(key, { ...known, text: known.text + event.text });
    }
  }

  private publish(update: LiveUpdate, payload: object): void {
    let message: LiveMessage;
    try {
      message = { update, json: JSON.stringify(payload) };
    } catch (error) {
      // Only a bug (a cycle, a BigInt) gets here; the call must not notice.
      this.logger.error({ err: error, kind: update.kind }, 'console: live update could not be encoded (dropped)');
      return;
    }
    for (const listener of [...this.listeners]) {
      try {
        listener(message);
      } catch (error) {
        this.listeners.delete(listener);
        this.logger.error({ err: error, kind: update.kind }, 'console: a live subscriber threw; it is dropped (the call goes on)');
      }
    }
  }
}

function liveCallOf(tracked: Tracked): LiveCall {
  return { ...tracked.info, events: [...tracked.events.values()] };
}
