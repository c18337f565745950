/**
 * deploy/compose/compose.yaml read as data: the services, their order of start (health conditions), each instance's
 * environment, the drain allowance, and that it agrees with nginx.conf (which prefix reaches which instance) and with
 * callbridge.env.example. `docker compose config` is not available where this project is built (no compose plugin, no
 * engine), so compose's own ${…} interpolation and YAML merge keys are reproduced here for the fields checked.
 */
import { accessSync, constants, existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import dotenv from 'dotenv';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const DIR = path.join(ROOT, 'deploy/compose');
/** The goodbye (30 s), closing (5 s), the record flush (8 s) and the trace flush (5 s) after DRAIN_TIMEOUT_S. */
const SHUTDOWN_TAIL_S = 30 + 5 + 8 + 5;

type Doc = Record<string, any>;
const compose = parse(readFileSync(path.join(DIR, 'compose.yaml'), 'utf8'), { merge: true }) as Doc;
const services = compose['services'] as Record<string, Doc>;
const instances = ['callbridge-a', 'callbridge-b'] as const;
const exampleEnv = dotenv.parse(readFileSync(path.join(DIR, 'callbridge.env.example'), 'utf8'));
const nginxConf = readFileSync(path.join(DIR, 'nginx.conf'), 'utf8');

/** Compose's interpolation: ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?error}, ${VAR?error}, $$. */
function interpolate(value: string, env: Record<string, string>): string {
  return value.replace(/\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?)([-?])([^}]*))?\}/g, (match, name: string | undefined, colon: string, op: string, arg: string) => {
    if (match === '$$') return '$';
    const set = name! in env && (colon !== ':' || env[name!] !== '');
    if (set) return env[name!]!;
    if (op === '?') throw new Error(`${name}: ${arg}`);
    return op === '-' ? arg : '';
  });
}

const envOf = (service: string, env: Record<string, string> = exampleEnv): Record<string, string> =>
  Object.fromEntries(Object.entries(services[service]!['environment'] as Record<string, string>).map(([key, value]) => [key, interpolate(String(value), env)]));

/** Compose durations: 1h, 16m, 90s, 1m30s, 500ms. */
function seconds(duration: string): number {
  const parts = [...duration.matchAll(/(\d+(?:\.\d+)?)(h|ms|m|s|us)/g)];
  expect(parts.map((part) => part[0]).join(''), `duration ${duration}`).toBe(duration);
  const unit: Record<string, number> = { h: 3600, m: 60, s: 1, ms: 0.001, us: 0.000001 };
  return parts.reduce((sum, part) => sum + Number(part[1]) * unit[part[2]!]!, 0);
}

/** nginx.conf's upstream blocks: name → the `host:port` of each server line. */
function nginxUpstreams(): Map<string, string[]> {
  const blocks = [...nginxConf.matchAll(/upstream\s+(\w+)\s*\{([^}]*)\}/g)];
  return new Map(blocks.map((block) => [block[1]!, [...block[2]!.matchAll(/^\s*server\s+(\S+)/gm)].map((server) => server[1]!)]));
}

describe('deploy/compose/compose.yaml', () => {
  it('has two callbridge instances, nginx, PostgreSQL 16 and the one-shot volume initialiser', () => {
    expect(Object.keys(services).sort()).toEqual(['callbridge-a', 'callbridge-b', 'nginx', 'postgres', 'volume-init']);
    expect(services['postgres']!['image']).toMatch(/^postgres:16(\.|-|$)/);
    expect(services['nginx']!['image']).toMatch(/^nginx:1\.(2[89]|[3-9]\d)/);
  });

  it('builds both instances from the repository Dockerfile as one image', () => {
    const [a, b] = instances.map((name) => services[name]!);
    expect(a!['build']).toEqual(b!['build']);
    expect(a!['image']).toBe(b!['image']);
    const context = path.resolve(DIR, a!['build']['context']);
    expect(context).toBe(path.resolve(ROOT));
    expect(existsSync(path.join(context, a!['build']['dockerfile'] ?? 'Dockerfile'))).toBe(true);
  });

  it('starts in order: PostgreSQL healthy → instances healthy → nginx', () => {
    for (const name of instances) {
      expect(services[name]!['depends_on']).toEqual({
        postgres: { condition: 'service_healthy' },
        'volume-init': { condition: 'service_completed_successfully' },
      });
    }
    expect(services['nginx']!['depends_on']).toEqual({ 'callbridge-a': { condition: 'service_healthy' }, 'callbridge-b': { condition: 'service_healthy' } });
    expect(services['postgres']!['healthcheck']['test'].join(' ')).toContain('pg_isready');
  });

  it('checks each instance on /healthz at the port it listens on', () => {
    for (const name of instances) {
      const test = (services[name]!['healthcheck']['test'] as string[]).join(' ');
      expect(test).toContain(`http://127.0.0.1:${envOf(name)['PORT']}/healthz`);
      expect(services[name]!['healthcheck']['start_period']).toBeDefined();
    }
  });

  it('gives the instances distinct INSTANCE_IDs and INSTANCE_PUBLIC_URLs and one DATABASE_URL, PUBLIC_BASE_URL and drain', () => {
    const [a, b] = instances.map((name) => envOf(name));
    expect(a!['INSTANCE_ID']).not.toBe(b!['INSTANCE_ID']);
    expect(a!['INSTANCE_PUBLIC_URL']).not.toBe(b!['INSTANCE_PUBLIC_URL']);
    for (const key of ['DATABASE_URL', 'PUBLIC_BASE_URL', 'DRAIN_TIMEOUT_S', 'PORT', 'RECORDINGS_DIR']) expect(a![key], key).toBe(b![key]);
    for (const env of [a!, b!]) {
      expect(env['INSTANCE_ID']).toMatch(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,62}$/);
      expect(env['INSTANCE_PUBLIC_URL']).toBe(`${env['PUBLIC_BASE_URL']}/i/${env['INSTANCE_ID']}`);
      expect(new URL(env['INSTANCE_PUBLIC_URL']!).protocol).toBe('https:');
    }
  });

  it('points DATABASE_URL at the postgres service with its user, password and database', () => {
    const url = new URL(envOf('callbridge-a')['DATABASE_URL']!);
    const pg = services['postgres']!['environment'] as Record<string, string>;
    expect(url.protocol).toBe('postgres:');
    expect(url.hostname).toBe('postgres');
    expect(url.username).toBe(pg['POSTGRES_USER']);
    expect(decodeURIComponent(url.password)).toBe(interpolate(pg['POSTGRES_PASSWORD']!, exampleEnv));
    expect(url.pathname).toBe(`/${pg['POSTGRES_DB']}`);
  });

  it('refuses to start without POSTGRES_PASSWORD, and falls back to https://localhost:8443 without PUBLIC_BASE_URL', () => {
    expect(() => envOf('callbridge-a', {})).toThrow(/POSTGRES_PASSWORD/);
    expect(envOf('callbridge-a', { POSTGRES_PASSWORD: 'x' })['INSTANCE_PUBLIC_URL']).toBe('https://localhost:8443/i/a');
  });

  it('allows a drain of DRAIN_TIMEOUT_S plus the goodbye and flushes before SIGKILL', () => {
    for (const name of instances) {
      const drainS = Number(envOf(name)['DRAIN_TIMEOUT_S']);
      expect(drainS).toBeGreaterThan(0);
      expect(services[name]!['stop_signal'] ?? 'SIGTERM').toBe('SIGTERM');
      expect(seconds(services[name]!['stop_grace_period'])).toBeGreaterThanOrEqual(drainS + SHUTDOWN_TAIL_S);
    }
  });

  it('runs the instances read-only with /tmp and a shared, initialised recordings volume', () => {
    const init = services['volume-init']!;
    for (const name of instances) {
      const service = services[name]!;
      expect(service['read_only']).toBe(true);
      expect(service['tmpfs']).toContain('/tmp');
      const mount = (service['volumes'] as string[]).find((volume) => volume.endsWith(`:${envOf(name)['RECORDINGS_DIR']}`));
      expect(mount).toBeDefined();
      const volume = mount!.split(':')[0]!;
      expect(Object.keys(compose['volumes'])).toContain(volume);
      expect((init['volumes'] as string[]).some((entry) => entry.startsWith(`${volume}:`))).toBe(true);
    }
    expect(init['command'].join(' ')).toMatch(/^chown -R 1000:1000 /);
  });

  it('takes secrets from deploy/compose/.env (never committed), documented by callbridge.env.example', () => {
    for (const name of instances) expect(services[name]!['env_file']).toBe('.env');
    const ignored = readFileSync(path.join(ROOT, '.gitignore'), 'utf8').split('\n');
    expect(ignored).toContain('deploy/compose/.env');
    expect(ignored).toContain('deploy/compose/certs/');
    for (const key of ['POSTGRES_PASSWORD', 'PUBLIC_BASE_URL', 'TWILIO_AUTH_TOKEN', 'OPENAI_API_KEY', 'CALLBRIDGE_API_KEY']) expect(Object.keys(exampleEnv), key).toContain(key);
    // Every variable compose.yaml interpolates is in the example.
    const used = new Set([...readFileSync(path.join(DIR, 'compose.yaml'), 'utf8').matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)/g)].map((m) => m[1]!));
    for (const name of used) expect(Object.keys(exampleEnv), name).toContain(name);
  });

  it('publishes only nginx, with nginx.conf and the certificates mounted where nginx.conf reads them', () => {
    for (const name of ['callbridge-a', 'callbridge-b', 'postgres', 'volume-init']) expect(services[name]!['ports'], name).toBeUndefined();
    expect(services['nginx']!['ports']).toEqual(['${HTTPS_PORT:-8443}:443']);
    const volumes = services['nginx']!['volumes'] as string[];
    expect(volumes).toContain('./nginx.conf:/etc/nginx/nginx.conf:ro');
    const certs = volumes.find((volume) => volume.startsWith('./certs:'))!.split(':')[1]!;
    for (const file of [...nginxConf.matchAll(/ssl_certificate(?:_key)?\s+(\S+);/g)].map((m) => m[1]!)) expect(file.startsWith(`${certs}/`), file).toBe(true);
    expect(nginxConf).toMatch(/listen 443 ssl;/);
    const script = path.join(DIR, 'make-dev-cert.sh');
    accessSync(script, constants.X_OK);
  });

  it("agrees with nginx.conf: /i/<INSTANCE_ID>/ reaches that instance's service and port only; / reaches both", () => {
    const upstreams = nginxUpstreams();
    for (const name of instances) {
      const env = envOf(name);
      const prefix = new URL(env['INSTANCE_PUBLIC_URL']!).pathname;
      const location = new RegExp(`location ${prefix}/ \\{\\s*proxy_pass http://(\\w+)/;\\s*proxy_next_upstream off;`).exec(nginxConf);
      expect(location, `location ${prefix}/`).not.toBeNull();
      expect(upstreams.get(location![1]!)).toEqual([`${name}:${env['PORT']}`]);
    }
    expect(upstreams.get('callbridge_pool')).toEqual(instances.map((name) => `${name}:${envOf(name)['PORT']}`));
  });
});
