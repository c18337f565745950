/**
 * Exactly one `response.create` in flight per conversation (openai-agents-js pattern): a small pure state machine
 * with an injected `send`, driven by server events.
 *
 * Why: OpenAI refuses a `response.create` while a response is active (`conversation_already_has_active_response`,
 * and no `response.done` follows for the refused request), and server VAD with `create_response` starts responses on
 * its own. Tracking the state from server events keeps us from racing either.
 *
 * States:
 * - `free`: no response known to be active; a create request is sent at once.
 * - `create_requested`: our `response.create` is in flight (we hold its event_id to match errors).
 * - `active`: a response exists (ours or the server VAD's) until its `response.done`.
 * - `cancel_requested`: we sent `response.cancel`; waiting for `response.done`.
 *
 * A create request while not free is remembered (one pending request at most; further ones are refused and counted,
 * the first keeps its place) and sent after the current response's `response.done`.
 */
import type { Logger } from '../../logger.js';

export type ResponseGateState = 'free' | 'create_requested' | 'active' | 'cancel_requested';

/** GA client events the gate sends (structurally the `openai` typings' ResponseCreateEvent / ResponseCancelEvent). */
export type ResponseCreateClientEvent = { type: 'response.create'; event_id?: string; response?: { instructions: string } };
export type ResponseCancelClientEvent = { type: 'response.cancel'; event_id?: string };
export type ResponseGateEvent = ResponseCreateClientEvent | ResponseCancelClientEvent;

export interface CreateRequest {
  /** Per-response instructions (e.g. the greeting); omitted = the session's instructions. */
  instructions?: string;
  /** Why the response is wanted, for logs (`greeting`, `turn`, `function_call_output`, …). */
  reason: string;
}

/** What `requestCreate` did: sent now, deferred until `response.done`, or refused (one is already pending). */
export type CreateOutcome = 'sent' | 'deferred' | 'refused';

export interface ResponseGateOptions {
  /** Sends a client event upstream and returns its event_id (assigned by the connection if absent). */
  send: (event: ResponseGateEvent) => string;
  logger: Logger;
}

export interface ResponseGateStats {
  createsSent: number;
  createsDeferred: number;
  /** Requests refused because one was already pending. */
  createsRefused: number;
  cancelsSent: number;
  /** API errors matched to our create/cancel by event_id. */
  errors: number;
}

/** Responses remembered as interrupted/cancelled, so their late deltas are recognised. */
const MAX_STALE_RESPONSES = 64;

export class ResponseGate {
  private readonly sendEvent: (event: ResponseGateEvent) => string;
  private readonly logger: Logger;
  private currentState: ResponseGateState = 'free';
  private activeId: string | null = null;
  private createEventId: string | null = null;
  private cancelEventId: string | null = null;
  private pending: CreateRequest | null = null;
  private readonly staleIds = new Set<string>();
  private readonly counters: ResponseGateStats = { createsSent: 0, createsDeferred: 0, createsRefused: 0, cancelsSent: 0, errors: 0 };

  constructor(options: ResponseGateOptions) {
    this.sendEvent = options.send;
    this.logger = options.logger;
  }

  get state(): ResponseGateState {
    return this.currentState;
  }

  /** The active response's id, or null (none, or active but not yet identified). */
  get activeResponseId(): string | null {
    return this.activeId;
  }

  /** True from our create (or the server's `response.created`) until `response.done`. */
  get isResponseActive(): boolean {
    return this.currentState !== 'free';
  }

  get hasPendingRequest(): boolean {
    return this.pending !== null;
  }

  stats(): ResponseGateStats {
    return { ...this.counters };
  }

  requestCreate(request: CreateRequest): CreateOutcome {
    if (this.currentState === 'free') {
      this.sendCreate(request);
      return 'sent';
    }
    if (this.pending !== null) {
      this.counters.createsRefused++;
      this.logger.warn({ reason: request.reason, pendingReason: this.pending.reason, state: this.currentState }, 'response.create refused: one is already pending');
      return 'refused';
    }
    this.pending = request;
    this.counters.createsDeferred++;
    this.logger.debug({ reason: request.reason, state: this.currentState }, 'response.create deferred until response.done');
    return 'deferred';
  }

  /** `response.created`: ours, or one the server VAD started itself. */
  onResponseCreated(responseId: string): void {
    if (this.currentState === 'cancel_requested' && this.activeId === responseId) return;
    // createEventId is kept: if this response is the server VAD's, our create's refusal is still to come.
    this.currentState = 'active';
    this.activeId = responseId;
  }

  /** `response.done` (any status). Frees the gate for the active response, then sends a pending request. */
  onResponseDone(responseId: string, status: string): void {
    if (this.currentState === 'free') return;
    // A late done of an older response must not free a newer one. An active response of unknown id (learnt from
    // `conversation_already_has_active_response`) is freed by whichever done comes.
    if (this.activeId !== null && this.activeId !== responseId) {
      this.logger.debug({ responseId, activeResponseId: this.activeId, status }, 'response.done for another response: ignored');
      return;
    }
    if (this.currentState === 'create_requested') {
      // Our create is still unanswered: this done belongs to something we never saw created.
      return;
    }
    if (status === 'cancelled') this.markInterrupted(responseId);
    this.toFree();
  }

  /** An API `error`, matched to our create/cancel by event_id; other errors do not move the gate. */
  onError(error: { code: string | null; eventId: string | null }): void {
    if (error.eventId === null) return;
    if (error.eventId === this.createEventId) {
      this.counters.errors++;
      this.createEventId = null;
      if (error.code === 'conversation_already_has_active_response') {
        // Someone else's response (server VAD) is active: wait for its done. Not re-sent: that response answers
        // the same conversation, and a second create after it would be a second answer to one turn.
        this.logger.warn({ code: error.code }, 'response.create refused: a response is already active; waiting for it');
        if (this.currentState === 'create_requested') this.currentState = 'active';
        return;
      }
      this.logger.error({ code: error.code }, 'response.create failed');
      if (this.currentState === 'create_requested') this.toFree();
      return;
    }
    if (error.eventId === this.cancelEventId) {
      this.counters.errors++;
      this.cancelEventId = null;
      if (error.code === 'response_cancel_not_active') {
        this.toFree();
      } else if (this.currentState === 'cancel_requested') {
        this.currentState = 'active';
      }
    }
  }

  /** Sends `response.cancel` if a response is active and not already being cancelled. Returns whether it sent. */
  cancelActive(): boolean {
    if (this.currentState !== 'active') return false;
    if (this.activeId !== null) this.markInterrupted(this.activeId);
    this.cancelEventId = this.sendEvent({ type: 'response.cancel' });
    this.counters.cancelsSent++;
    this.currentState = 'cancel_requested';
    return true;
  }

  /** Marks a response as interrupted/cancelled: its late deltas are stale. */
  markInterrupted(responseId: string): void {
    this.staleIds.delete(responseId);
    this.staleIds.add(responseId);
    if (this.staleIds.size > MAX_STALE_RESPONSES) {
      const oldest = this.staleIds.values().next().value;
      if (oldest !== undefined) this.staleIds.delete(oldest);
    }
  }

  /** True for a response that was interrupted or cancelled: drop its late deltas. */
  isStale(responseId: string): boolean {
    return this.staleIds.has(responseId);
  }

  /** New upstream session (re-dial): nothing is active there and the pending request belonged to the old one. */
  reset(): void {
    this.currentState = 'free';
    this.activeId = null;
    this.createEventId = null;
    this.cancelEventId = null;
    this.pending = null;
  }

  private toFree(): void {
    this.currentState = 'free';
    this.activeId = null;
    this.cancelEventId = null;
    const next = this.pending;
    this.pending = null;
    if (next !== null) this.sendCreate(next);
  }

  private sendCreate(request: CreateRequest): void {
    const event: ResponseCreateClientEvent =
      request.instructions === undefined ? { type: 'response.create' } : { type: 'response.create', response: { instructions: request.instructions } };
    this.currentState = 'create_requested';
    this.activeId = null;
    this.createEventId = this.sendEvent(event);
    this.counters.createsSent++;
    this.logger.debug({ reason: request.reason, eventId: this.createEventId }, 'response.create sent');
  }
}
