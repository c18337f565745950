/**
 * Settings of instances behind a proxy or a load balancer (docs/scale-out.md): which proxies to believe, who this
 * instance is, where Twilio reaches it directly, and whether it joins the cluster (live view, remote hang-up,
 * heartbeats over PostgreSQL LISTEN/NOTIFY). A single instance reached directly needs none of them.
 */
import { hostname } from 'node:os';
import { ConfigError } from './config-error.js';
import type { EnvReader } from './config-reader.js';

export const CLUSTER_MODES = ['auto', 'on', 'off'] as const;

export interface ClusterConfig {
  /** Joined: live calls, hang-ups and heartbeats are shared through the PostgreSQL of DATABASE_URL. */
  enabled: boolean;
  /** This instance's name in the cluster (log lines, the console, heartbeats). */
  instanceId: string;
  /**
   * Where Twilio reaches this very instance (no trailing slash; may carry a path prefix): the Media Stream URL and
   * every callback of a call this instance answered point here, so per-call state never leaves it.
   */
  instancePublicUrl: string;
  /** How often an instance says it is alive; one silent for three of these is dead and its calls are lost. */
  heartbeatMs: number;
}

const INSTANCE_ID = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,62}$/;

export function readClusterConfig(reader: EnvReader, context: { publicBaseUrl: string; databaseUrl: string | null; production: boolean }): ClusterConfig {
  const mode = reader.oneOf('CLUSTER', CLUSTER_MODES, 'auto');
  if (mode === 'on' && context.databaseUrl === null) throw new ConfigError('CLUSTER=on needs DATABASE_URL (a PostgreSQL every instance shares)');
  const instanceId = reader.raw('INSTANCE_ID') ?? `${hostname()}-${process.pid}`;
  if (!INSTANCE_ID.test(instanceId)) throw new ConfigError(`INSTANCE_ID must be 1–63 letters, digits, . _ : - (got "${instanceId.slice(0, 80)}")`);
  return {
    enabled: mode === 'on' || (mode === 'auto' && context.databaseUrl !== null),
    instanceId,
    instancePublicUrl: readInstancePublicUrl(reader, context),
    heartbeatMs: reader.integer('CLUSTER_HEARTBEAT_S', 5, 1, 60) * 1000,
  };
}

function readInstancePublicUrl(reader: EnvReader, context: { publicBaseUrl: string; production: boolean }): string {
  const value = reader.url('INSTANCE_PUBLIC_URL', undefined, ['https:', 'http:']);
  if (value === undefined) return context.publicBaseUrl;
  const parsed = new URL(value);
  if (parsed.search !== '' || parsed.hash !== '' || parsed.username !== '' || parsed.password !== '') {
    throw new ConfigError(`INSTANCE_PUBLIC_URL must be an origin with an optional path prefix, like https://a.voice.example.com or https://voice.example.com/i/a (got "${value}")`);
  }
  if (context.production && parsed.protocol !== 'https:') throw new ConfigError(`INSTANCE_PUBLIC_URL must use https: when NODE_ENV=production (got "${value}")`);
  return `${parsed.origin}${parsed.pathname.replace(/\/+$/, '')}`;
}

const TRUST_PROXY_ENTRY = /^(loopback|linklocal|uniquelocal|[0-9a-fA-F:.]+(\/\d{1,3})?)$/;

export function readTrustProxy(reader: EnvReader): number | string | null {
  const value = reader.optional('TRUST_PROXY');
  if (value === null) return null;
  if (/^\d{1,2}$/.test(value)) return Number(value);
  const entries = value.split(',').map((entry) => entry.trim());
  if (entries.some((entry) => !TRUST_PROXY_ENTRY.test(entry))) {
    throw new ConfigError(`TRUST_PROXY must be a hop count or a comma-separated list of addresses, subnets, loopback, linklocal or uniquelocal (got "${value}")`);
  }
  return entries.join(', ');
}
