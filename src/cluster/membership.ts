/**
 * This instance's membership of the cluster (docs/scale-out.md), over the shared PostgreSQL and nothing else:
 *   - a heartbeat row with its figures (live calls, capacity, draining), every CLUSTER_HEARTBEAT_S;
 *   - its live calls published (LISTEN/NOTIFY, batched every 100 ms) and mirrored into every other instance's
 *     LiveCalls, so the console and `/api/calls?live=1` on any instance show every instance's calls;
 *   - a console hang-up of a call served elsewhere sent to the instance that owns it;
 *   - instances silent for three heartbeats are dead: one survivor takes their live calls (atomically), records
 *     them as lost and tells the others, who drop them from their live view.
 * Nothing here is on a call's path: the call's events reach LiveCalls as before, and this owner reads them from there.
 * A database outage only delays the shared view (logged once); calls never notice.
 */
import type { Client, Notification, Pool } from 'pg';
import type { ClusterConfig } from '../config-cluster.js';
import type { LiveCalls, LiveUpdate } from '../console/live-calls.js';
import type { Logger } from '../logger.js';
import type { CallInfo } from '../observers/hub.js';
import { OncePerKeyLog } from '../net/socket-plumbing.js';
import { clusterChannel, encodeLiveBatches, parseClusterMessage, type ClusterMessage, type RemoteUpdate } from './messages.js';
import { ClusterStore, type InstanceRow, type LostCall } from './store.js';

const FLUSH_INTERVAL_MS = 100;
/** Updates waiting for the database at most; beyond it the oldest go (the live view of others lags, calls do not). */
const MAX_QUEUED_UPDATES = 10_000;
const DEAD_AFTER_HEARTBEATS = 3;
const RECONNECT_MAX_MS = 30_000;

export interface ClusterMembershipOptions {
  cluster: ClusterConfig;
  databaseUrl: string;
  logger: Logger;
  liveCalls: LiveCalls;
  /** This instance's figures for its heartbeat. */
  figures(): { activeCalls: number; maxCalls: number; draining: boolean };
  /** Hangs up a call this instance serves (a hang-up sent here by another instance's console). */
  hangUpLocal(callSid: string, reason: string): boolean;
  /** Calls of a dead instance this instance took over: record them as lost. */
  onLostCalls(lost: readonly LostCall[]): void;
}

export class ClusterMembership {
  private readonly options: ClusterMembershipOptions;
  private readonly self: string;
  private readonly logger: Logger;
  private readonly problems: OncePerKeyLog;
  private pool: Pool | null = null;
  private store: ClusterStore | null = null;
  private listener: Client | null = null;
  /** Calls served by other instances, as far as this instance has heard. */
  private readonly remote = new Map<string, { instanceId: string; info: CallInfo }>();
  private queued: RemoteUpdate[] = [];
  /** Database writes of this instance's live-call rows, in order, one at a time. */
  private writes: Promise<void> = Promise.resolve();
  private unsubscribe: (() => void) | null = null;
  private flushTimer: NodeJS.Timeout | null = null;
  private heartbeatTimer: NodeJS.Timeout | null = null;
  private reconnectDelayMs = 1_000;
  /** `callbridge_<schema>`: known once connected. */
  private channel = clusterChannel('public');
  private stopped = false;
  private readonly startedAtEpochMs = Date.now();
  readonly counters = { updatesDropped: 0, lostTaken: 0, remoteHangUps: 0 };

  constructor(options: ClusterMembershipOptions) {
    this.options = options;
    this.self = options.cluster.instanceId;
    this.logger = options.logger.child({ component: 'cluster', instanceId: this.self });
    this.problems = new OncePerKeyLog(() => this.logger);
  }

  get deadAfterMs(): number {
    return this.options.cluster.heartbeatMs * DEAD_AFTER_HEARTBEATS;
  }

  /** Joins, retrying every heartbeat while the database cannot be reached (the server serves calls meanwhile). */
  async join(): Promise<void> {
    while (!this.stopped) {
      try {
        await this.start();
        return;
      } catch (error) {
        this.problem('join', error);
        await this.closeConnections();
        await new Promise((resolve) => setTimeout(resolve, this.options.cluster.heartbeatMs).unref());
      }
    }
  }

  private async closeConnections(): Promise<void> {
    this.unsubscribe?.();
    this.unsubscribe = null;
    const { listener, pool } = this;
    this.listener = null;
    this.pool = null;
    this.store = null;
    await listener?.end().catch(() => undefined);
    await pool?.end().catch(() => undefined);
  }

  /** Joins: heartbeat, listen, mirror the others' live calls. Resolves once listening (throws if the database refuses). */
  private async start(): Promise<void> {
    const { default: pg } = await import('pg');
    this.pool = new pg.Pool({ connectionString: this.options.databaseUrl, max: 3 });
    this.pool.on('error', (error) => this.problem('pool', error));
    this.store = new ClusterStore(this.pool);
    this.channel = clusterChannel(await this.store.schema());
    // The row first (strict: a failure here fails the join): an instance with live-call rows and no row of its own
    // would look dead to the others' sweep.
    await this.beatOrThrow();
    await this.listen();
    // From now on this instance's calls are shared; those that started while it was joining are shared at once.
    this.unsubscribe = this.options.liveCalls.subscribe((message) => this.onLocalUpdate(message.update));
    for (const call of this.options.liveCalls.snapshot()) this.onLocalUpdate({ kind: 'call_started', call });
    this.flushTimer = setInterval(() => this.flush(), FLUSH_INTERVAL_MS);
    this.flushTimer.unref();
    this.heartbeatTimer = setInterval(() => void this.beat(), this.options.cluster.heartbeatMs);
    this.heartbeatTimer.unref();
    this.logger.info({ heartbeatMs: this.options.cluster.heartbeatMs, publicUrl: this.options.cluster.instancePublicUrl }, 'joined the cluster');
  }

  /** Hangs up a call another instance serves: sent there. False when no instance is known to serve it. */
  hangUpRemote(callSid: string, reason: string): boolean {
    const owner = this.remote.get(callSid);
    if (owner === undefined || this.store === null) return false;
    this.counters.remoteHangUps++;
    const message: ClusterMessage = { k: 'hangup', from: this.self, to: owner.instanceId, callSid, reason };
    this.store.notify(this.channel, JSON.stringify(message)).catch((error: unknown) => this.problem('notify', error));
    this.logger.info({ callSid, owner: owner.instanceId }, 'hang-up sent to the instance serving the call');
    return true;
  }

  /** Every instance with its figures (this one included once it has beaten). */
  async instances(): Promise<InstanceRow[]> {
    if (this.store === null) return [];
    return this.store.instances(this.deadAfterMs);
  }

  /** Leaves the cluster: the last updates go out, this instance's rows go. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.unsubscribe?.();
    if (this.flushTimer !== null) clearInterval(this.flushTimer);
    if (this.heartbeatTimer !== null) clearInterval(this.heartbeatTimer);
    this.flush();
    await this.writes;
    await this.store?.leave(this.self).catch((error: unknown) => this.problem('leave', error));
    await this.closeConnections();
  }

  // ---- this instance's calls → the others -------------------------------------------------------------------------

  /** An update of the live view: shared when it is about a call of this instance's (the others' are mirrored here). */
  private onLocalUpdate(update: LiveUpdate): void {
    const callSid = update.kind === 'call_started' ? update.call.callSid : update.callSid;
    if (this.remote.has(callSid)) return;
    let remote: RemoteUpdate;
    if (update.kind === 'call_started') {
      const { events: _events, ...rest } = update.call;
      const info: CallInfo = { ...rest, instanceId: this.self };
      remote = { kind: 'call_started', call: info };
      this.write((store) => store.addLiveCall(this.self, info));
    } else {
      remote = update;
      if (update.kind === 'call_ended') this.write((store) => store.removeLiveCall(callSid, this.self));
    }
    this.queued.push(remote);
    if (this.queued.length > MAX_QUEUED_UPDATES) {
      this.queued.shift();
      this.counters.updatesDropped++;
    }
  }

  private write(operation: (store: ClusterStore) => Promise<void>): void {
    const store = this.store;
    if (store === null) return;
    this.writes = this.writes.then(() => operation(store)).catch((error: unknown) => this.problem('write', error));
  }

  private flush(): void {
    if (this.queued.length === 0 || this.store === null) return;
    const { payloads, dropped } = encodeLiveBatches(this.self, this.queued);
    this.queued = [];
    this.counters.updatesDropped += dropped;
    // Behind the row writes: an instance that hears of a call can already find its row.
    for (const payload of payloads) this.write((store) => store.notify(this.channel, payload));
  }

  // ---- the others → this instance ---------------------------------------------------------------------------------

  private async listen(): Promise<void> {
    const { default: pg } = await import('pg');
    const client = new pg.Client({ connectionString: this.options.databaseUrl });
    client.on('notification', (notification: Notification) => this.onNotification(notification));
    client.on('error', (error) => this.problem('listener', error));
    // Only the current listener, lost unexpectedly, is replaced: a client this owner closed (a failed join, a stop)
    // or one that never became current must not start a second listener.
    client.on('end', () => {
      if (this.listener !== client) return;
      this.listener = null;
      if (!this.stopped) this.reconnectLater();
    });
    try {
      await client.connect();
      await client.query(`listen ${this.channel}`);
      await this.reseed();
    } catch (error) {
      await client.end().catch(() => undefined);
      throw error;
    }
    if (this.stopped) {
      await client.end().catch(() => undefined);
      return;
    }
    this.listener = client;
    this.reconnectDelayMs = 1_000;
  }

  private reconnectLater(): void {
    const delayMs = this.reconnectDelayMs;
    this.reconnectDelayMs = Math.min(RECONNECT_MAX_MS, delayMs * 2);
    setTimeout(() => {
      if (this.stopped) return;
      this.listen().catch((error: unknown) => {
        this.problem('listen', error);
        this.reconnectLater();
      });
    }, delayMs).unref();
  }

  /** The others' live calls from their rows: what was missed while not listening (or before this instance started). */
  private async reseed(): Promise<void> {
    if (this.store === null) return;
    const rows = await this.store.otherLiveCalls(this.self);
    const seen = new Set<string>();
    for (const row of rows) {
      seen.add(row.info.callSid);
      if (!this.remote.has(row.info.callSid)) this.startRemote(row.instanceId, row.info);
    }
    for (const [callSid, owner] of [...this.remote]) {
      if (!seen.has(callSid)) this.endRemote(callSid, 'ended', Math.max(0, Date.now() - owner.info.startedAtEpochMs));
    }
  }

  private onNotification(notification: Notification): void {
    if (notification.channel !== this.channel || notification.payload === undefined) return;
    const message = parseClusterMessage(notification.payload);
    if (message === null) {
      this.problems.log('bad-message', {}, 'cluster: a message this version does not understand was ignored');
      return;
    }
    if (message.from === this.self) return;
    switch (message.k) {
      case 'live':
        for (const update of message.u) this.applyRemote(message.from, update);
        return;
      case 'hangup':
        if (message.to !== this.self) return;
        this.logger.info({ callSid: message.callSid, from: message.from }, 'hang-up from another instance');
        if (!this.options.hangUpLocal(message.callSid, message.reason)) this.logger.info({ callSid: message.callSid }, 'hang-up for a call no longer here');
        return;
      case 'lost':
        for (const callSid of message.callSids) this.endRemote(callSid, 'instance_lost', 0);
        return;
    }
  }

  private applyRemote(instanceId: string, update: RemoteUpdate): void {
    switch (update.kind) {
      case 'call_started':
        return this.startRemote(instanceId, update.call);
      case 'call_event': {
        const owner = this.remote.get(update.callSid);
        if (owner !== undefined) this.options.liveCalls.callEvent(owner.info, update.event);
        return;
      }
      case 'call_ended':
        return this.endRemote(update.callSid, update.endReason, update.durationMs);
    }
  }

  private startRemote(instanceId: string, info: CallInfo): void {
    const remoteInfo = { ...info, instanceId };
    this.remote.set(info.callSid, { instanceId, info: remoteInfo });
    this.options.liveCalls.callStarted(remoteInfo);
  }

  private endRemote(callSid: string, endReason: string, durationMs: number): void {
    const owner = this.remote.get(callSid);
    if (owner === undefined) return;
    const lastedMs = durationMs > 0 ? durationMs : Math.max(0, Date.now() - owner.info.startedAtEpochMs);
    // Ended in the view first, forgotten after: the view's update must still read as a remote call's.
    this.options.liveCalls.endRemote(callSid, endReason, lastedMs);
    this.remote.delete(callSid);
  }

  // ---- heartbeat and the dead ---------------------------------------------------------------------------------------

  private async beat(): Promise<void> {
    try {
      await this.beatOrThrow();
    } catch (error) {
      this.problem('heartbeat', error);
    }
  }

  private async beatOrThrow(): Promise<void> {
    const store = this.store;
    if (store === null || this.stopped) return;
    const { activeCalls, maxCalls, draining } = this.options.figures();
    await store.heartbeat({ instanceId: this.self, publicUrl: this.options.cluster.instancePublicUrl, startedAtEpochMs: this.startedAtEpochMs, activeCalls, maxCalls, draining });
    const { deadInstances, lost } = await store.sweepDead(this.self, this.deadAfterMs);
    if (deadInstances.length > 0) this.logger.warn({ deadInstances }, 'instances stopped beating: taken out of the cluster');
    if (lost.length > 0) this.takeOverLost(lost);
  }

  private takeOverLost(lost: readonly LostCall[]): void {
    this.counters.lostTaken += lost.length;
    this.logger.warn({ calls: lost.map((call) => call.info.callSid), instances: [...new Set(lost.map((call) => call.instanceId))] }, 'calls lost with a dead instance: recorded as lost');
    const byInstance = new Map<string, string[]>();
    for (const call of lost) byInstance.set(call.instanceId, [...(byInstance.get(call.instanceId) ?? []), call.info.callSid]);
    for (const [instanceId, callSids] of byInstance) {
      // 150 call SIDs (~5.5 KB) per message keeps each under the NOTIFY limit.
      for (let start = 0; start < callSids.length; start += 150) {
        const message: ClusterMessage = { k: 'lost', from: this.self, instanceId, callSids: callSids.slice(start, start + 150) };
        this.write((store) => store.notify(this.channel, JSON.stringify(message)));
      }
      for (const callSid of callSids) this.endRemote(callSid, 'instance_lost', 0);
    }
    this.options.onLostCalls(lost);
  }

  private problem(what: string, error: unknown): void {
    if (this.stopped && what !== 'leave') return;
    this.problems.log(what, { err: error }, `cluster: ${what} failed (the shared view lags; calls go on)`);
  }
}
