/**
 * What every part of the calls benchmark shares: the credentials the bridge and the simulated Realtime server agree
 * on, the core count, and timing helpers. Times are `performance.timeOrigin + performance.now()` (epoch ms, µs
 * resolution, comparable across processes).
 */
import { availableParallelism } from 'node:os';
import { performance } from 'node:perf_hooks';

export const AUTH_TOKEN = 'bench-twilio-auth-token-0123456789';
export const OPENAI_KEY = 'sk-sim-bench-key-0123456789abcdef';
export const PUBLIC_BASE_URL = 'https://callbridge.bench';
export const FRAME_MS = 20;

/** Cores available at start (read before this process pins itself to one, which would make it 1). */
export const CORES = availableParallelism();

export function epochNowMs(): number {
  return performance.timeOrigin + performance.now();
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
}

export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error instanceof Error ? error : new Error(String(error)));
      },
    );
  });
}

/** A figure with `digits` decimals, or — when it does not exist for this mode. */
export function fmt(value: number | null, digits = 2): string {
  return value === null ? '—' : value.toFixed(digits);
}
