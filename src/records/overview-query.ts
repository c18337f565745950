/**
 * Read-only SQL for the operator console's overview that the call list cannot answer: the turn latencies of a time
 * range live in `call_turns`, one row per turn, which no list row carries. One indexed range on `calls.started_at`
 * joined to the turns by primary key; the figures themselves are computed in TypeScript (console/overview.ts).
 */
import type { Kysely } from 'kysely';
import type { Database } from './schema.js';

/**
 * Latencies (ms) of the answered turns of calls started in [fromEpochMs, toEpochMs), newest calls first, at most
 * `limit` values.
 */
export async function turnLatenciesBetween(db: Kysely<Database>, fromEpochMs: number, toEpochMs: number, limit: number): Promise<number[]> {
  const rows = await db
    .selectFrom('call_turns')
    .innerJoin('calls', 'calls.call_sid', 'call_turns.call_sid')
    .select('call_turns.latency_ms')
    .where('calls.started_at', '>=', new Date(fromEpochMs))
    .where('calls.started_at', '<', new Date(toEpochMs))
    .where('call_turns.latency_ms', 'is not', null)
    .orderBy('calls.started_at', 'desc')
    .limit(Math.max(0, Math.floor(limit)))
    .execute();
  const latencies: number[] = [];
  for (const row of rows) if (row.latency_ms !== null) latencies.push(Number(row.latency_ms));
  return latencies;
}
