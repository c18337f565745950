/**
 * The cluster's rows in the shared PostgreSQL (tables made by records migration 0003): one row per instance with its
 * heartbeat and figures, one row per live call with the instance serving it. Times are the database's `now()`, so
 * instances whose clocks disagree still agree on who is late.
 */
import type { Pool } from 'pg';
import type { CallInfo } from '../observers/hub.js';

export interface InstanceRow {
  readonly instanceId: string;
  readonly publicUrl: string;
  readonly startedAtEpochMs: number;
  readonly heartbeatAtEpochMs: number;
  readonly activeCalls: number;
  readonly maxCalls: number;
  readonly draining: boolean;
  /** Heard from within the dead-instance window. */
  readonly alive: boolean;
}

export interface InstanceFigures {
  readonly instanceId: string;
  readonly publicUrl: string;
  readonly startedAtEpochMs: number;
  readonly activeCalls: number;
  readonly maxCalls: number;
  readonly draining: boolean;
}

export interface LostCall {
  readonly instanceId: string;
  readonly info: CallInfo;
}

export class ClusterStore {
  constructor(private readonly pool: Pool) {}

  async heartbeat(figures: InstanceFigures): Promise<void> {
    await this.pool.query(
      `insert into cluster_instances (instance_id, public_url, started_at, heartbeat_at, active_calls, max_calls, draining)
       values ($1, $2, to_timestamp($3 / 1000.0), now(), $4, $5, $6)
       on conflict (instance_id) do update set public_url = excluded.public_url, heartbeat_at = now(),
         active_calls = excluded.active_calls, max_calls = excluded.max_calls, draining = excluded.draining`,
      [figures.instanceId, figures.publicUrl, figures.startedAtEpochMs, figures.activeCalls, figures.maxCalls, figures.draining],
    );
  }

  /**
   * Takes over what instances silent for `deadAfterMs` left behind: their rows go, and their live calls are returned
   * once (the delete is atomic, so of several survivors exactly one gets each lost call).
   */
  async sweepDead(selfId: string, deadAfterMs: number): Promise<{ deadInstances: string[]; lost: LostCall[] }> {
    const dead = await this.pool.query<{ instance_id: string }>(
      `delete from cluster_instances where instance_id <> $1 and heartbeat_at < now() - make_interval(secs => $2 / 1000.0) returning instance_id`,
      [selfId, deadAfterMs],
    );
    const deadInstances = dead.rows.map((row) => row.instance_id);
    // Calls of instances that no longer have a row at all (died before this instance started, or swept just now).
    const lost = await this.pool.query<{ instance_id: string; info: CallInfo }>(
      `delete from cluster_live_calls l where l.instance_id <> $1
         and not exists (select 1 from cluster_instances i where i.instance_id = l.instance_id)
       returning l.instance_id, l.info`,
      [selfId],
    );
    return { deadInstances, lost: lost.rows.map((row) => ({ instanceId: row.instance_id, info: row.info })) };
  }

  async addLiveCall(instanceId: string, info: CallInfo): Promise<void> {
    await this.pool.query(
      `insert into cluster_live_calls (call_sid, instance_id, info) values ($1, $2, $3::jsonb)
       on conflict (call_sid) do update set instance_id = excluded.instance_id, info = excluded.info`,
      [info.callSid, instanceId, JSON.stringify(info)],
    );
  }

  async removeLiveCall(callSid: string, instanceId: string): Promise<void> {
    await this.pool.query(`delete from cluster_live_calls where call_sid = $1 and instance_id = $2`, [callSid, instanceId]);
  }

  /** Live calls of other instances (a new instance's view of calls that started before it listened). */
  async otherLiveCalls(selfId: string): Promise<Array<{ instanceId: string; info: CallInfo }>> {
    const result = await this.pool.query<{ instance_id: string; info: CallInfo }>(
      `select instance_id, info from cluster_live_calls where instance_id <> $1 order by started_at`,
      [selfId],
    );
    return result.rows.map((row) => ({ instanceId: row.instance_id, info: row.info }));
  }

  async instances(deadAfterMs: number): Promise<InstanceRow[]> {
    const result = await this.pool.query<{
      instance_id: string;
      public_url: string;
      started_ms: string;
      heartbeat_ms: string;
      active_calls: number;
      max_calls: number;
      draining: boolean;
      alive: boolean;
    }>(
      `select instance_id, public_url, (extract(epoch from started_at) * 1000)::bigint as started_ms,
         (extract(epoch from heartbeat_at) * 1000)::bigint as heartbeat_ms, active_calls, max_calls, draining,
         heartbeat_at >= now() - make_interval(secs => $1 / 1000.0) as alive
       from cluster_instances order by instance_id`,
      [deadAfterMs],
    );
    return result.rows.map((row) => ({
      instanceId: row.instance_id,
      publicUrl: row.public_url,
      startedAtEpochMs: Number(row.started_ms),
      heartbeatAtEpochMs: Number(row.heartbeat_ms),
      activeCalls: row.active_calls,
      maxCalls: row.max_calls,
      draining: row.draining,
      alive: row.alive,
    }));
  }

  /** This instance leaves (a clean shutdown): its row and any call rows left go. */
  async leave(instanceId: string): Promise<void> {
    await this.pool.query(`delete from cluster_live_calls where instance_id = $1`, [instanceId]);
    await this.pool.query(`delete from cluster_instances where instance_id = $1`, [instanceId]);
  }

  /** The schema the cluster's tables are in (the connection's search_path): it names the channel. */
  async schema(): Promise<string> {
    const result = await this.pool.query<{ schema: string }>(`select current_schema() as schema`);
    return result.rows[0]?.schema ?? 'public';
  }

  async notify(channel: string, payload: string): Promise<void> {
    await this.pool.query(`select pg_notify($1, $2)`, [channel, payload]);
  }
}
