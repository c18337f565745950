/**
 * Call observers: records, metrics, traces and the console's live feed subscribe to calls here. The call never
 * waits for them and never sees them fail: an observer that throws (or whose promise rejects) is logged, once per
 * observer and hook at error, and the call goes on. `callEnded` may be async (a record written to a database);
 * `flush()` waits for those still running, up to a deadline, before the process exits.
 */
import type { CallEvent } from '../call/call-events.js';
import type { CallSummary } from '../call/call-summary.js';
import type { Logger } from '../logger.js';
import { OncePerKeyLog } from '../net/socket-plumbing.js';

/** Who called whom, known when the call starts. Phone numbers are personal data: observers decide what to keep. */
export interface CallInfo {
  readonly callSid: string;
  readonly streamSid: string;
  readonly from: string;
  readonly to: string;
  /** `browser`: the console's browser phone or the terminal client (no phone number on either side). */
  readonly direction: 'inbound' | 'outbound' | 'browser';
  /** The agent (agent file) serving the call. */
  readonly agent: string;
  /** The voice provider serving the call (`openai`, …). */
  readonly provider: string;
  /** The model that serves the call (prices it), when the provider has one to name. */
  readonly model: string | null;
  /** Wall-clock start, ms since the epoch (records and the console show it). */
  readonly startedAtEpochMs: number;
  /** The call clock's reading at `startedAtEpochMs`: events' `atMs` minus this is ms into the call. */
  readonly clockStartMs: number;
  /** The instance serving the call (INSTANCE_ID): the console shows it, a remote hang-up is sent there. */
  readonly instanceId?: string;
}

export interface CallObserver {
  /** For log lines about this observer. */
  readonly name: string;
  callStarted?(call: CallInfo): void | Promise<void>;
  callEvent?(call: CallInfo, event: CallEvent): void | Promise<void>;
  callEnded?(call: CallInfo, summary: CallSummary): void | Promise<void>;
  /** An outbound call that never connected a stream (busy, no answer, failed): no summary. */
  callNotConnected?(call: CallInfo): void | Promise<void>;
}

export class CallObservers {
  private readonly observers: readonly CallObserver[];
  private readonly failures: OncePerKeyLog;
  private readonly pending = new Set<Promise<void>>();

  constructor(observers: readonly CallObserver[], logger: Logger) {
    this.observers = observers;
    this.failures = new OncePerKeyLog(() => logger, 'error');
  }

  get size(): number {
    return this.observers.length;
  }

  started(call: CallInfo): void {
    for (const observer of this.observers) this.run(observer, 'callStarted', call.callSid, () => observer.callStarted?.(call));
  }

  event(call: CallInfo, event: CallEvent): void {
    for (const observer of this.observers) this.run(observer, 'callEvent', call.callSid, () => observer.callEvent?.(call, event));
  }

  /** Starts every observer's `callEnded`; their promises are kept until settled so `flush()` can wait for them. */
  ended(call: CallInfo, summary: CallSummary): void {
    for (const observer of this.observers) this.run(observer, 'callEnded', call.callSid, () => observer.callEnded?.(call, summary), true);
  }

  notConnected(call: CallInfo): void {
    for (const observer of this.observers) this.run(observer, 'callNotConnected', call.callSid, () => observer.callNotConnected?.(call), true);
  }

  /** Waits for running `callEnded` observers, at most `deadlineMs`. Resolves true when all settled in time. */
  async flush(deadlineMs: number): Promise<boolean> {
    if (this.pending.size === 0) return true;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), deadlineMs);
      timer.unref();
    });
    const settled = Promise.all([...this.pending]).then(() => true as const);
    const result = await Promise.race([settled, timedOut]);
    clearTimeout(timer);
    return result;
  }

  private run(observer: CallObserver, hook: string, callSid: string, call: () => void | Promise<void> | undefined, keep = false): void {
    const fail = (error: unknown): void => {
      this.failures.log(`${observer.name}.${hook}`, { err: error, observer: observer.name, hook, callSid }, 'call observer failed (the call goes on)');
    };
    let result: void | Promise<void> | undefined;
    try {
      result = call();
    } catch (error) {
      fail(error);
      return;
    }
    if (!(result instanceof Promise)) return;
    const settled = result.then(() => undefined, fail);
    if (!keep) return;
    this.pending.add(settled);
    void settled.finally(() => this.pending.delete(settled));
  }
}
