/**
 * Reading one environment variable into a typed value, or a ConfigError naming it (one line; the entry point prints
 * it and exits 78). Empty strings count as unset.
 */
import { z } from 'zod';
import { ConfigError } from './config-error.js';

export type Env = Record<string, string | undefined>;

const BOOLEAN_WORDS: Record<string, boolean> = { true: true, '1': true, yes: true, on: true, false: false, '0': false, no: false, off: false };

/** Each reader returns the value or throws ConfigError naming the variable. Empty strings count as unset. */
export class EnvReader {
  constructor(private readonly env: Env) {}

  raw(name: string): string | undefined {
    const value = this.env[name]?.trim();
    return value === undefined || value === '' ? undefined : value;
  }

  string(name: string, fallback: string): string {
    return this.raw(name) ?? fallback;
  }

  optional(name: string): string | null {
    return this.raw(name) ?? null;
  }

  /** A credential: printable, no spaces or line breaks (they would break the header it goes in). Never echoed. */
  secret(name: string): string | null {
    const value = this.raw(name);
    if (value === undefined) return null;
    if (!/^[\x21-\x7e]+$/.test(value)) throw new ConfigError(`${name} must be printable text without spaces or line breaks`);
    return value;
  }

  oneOf<T extends readonly string[]>(name: string, allowed: T, fallback: T[number]): T[number] {
    const value = this.raw(name);
    if (value === undefined) return fallback;
    if (!(allowed as readonly string[]).includes(value)) {
      throw new ConfigError(`${name} must be one of ${allowed.join(', ')} (got "${value}")`);
    }
    return value;
  }

  integer(name: string, fallback: number, min: number, max: number): number {
    const value = this.raw(name);
    if (value === undefined) return fallback;
    const parsed = z.coerce.number().int().min(min).max(max).safeParse(value);
    if (!/^-?\d+$/.test(value) || !parsed.success) {
      throw new ConfigError(`${name} must be an integer from ${min} to ${max} (got "${value}")`);
    }
    return parsed.data;
  }

  number(name: string, fallback: number, min: number, max: number): number {
    const value = this.raw(name);
    if (value === undefined) return fallback;
    const parsed = z.coerce.number().min(min).max(max).safeParse(value);
    if (!parsed.success || !Number.isFinite(parsed.data)) {
      throw new ConfigError(`${name} must be a number from ${min} to ${max} (got "${value}")`);
    }
    return parsed.data;
  }

  boolean(name: string, fallback: boolean): boolean {
    const value = this.raw(name);
    if (value === undefined) return fallback;
    const parsed = BOOLEAN_WORDS[value.toLowerCase()];
    if (parsed === undefined) throw new ConfigError(`${name} must be true or false (got "${value}")`);
    return parsed;
  }

  url(name: string, fallback: string | undefined, protocols: readonly string[]): string | undefined {
    const value = this.raw(name) ?? fallback;
    if (value === undefined) return undefined;
    let parsed: URL;
    try {
      parsed = new URL(value);
    } catch {
      throw new ConfigError(`${name} must be a URL like ${protocols[0]}//host (got "${value}")`);
    }
    if (!protocols.includes(parsed.protocol)) {
      throw new ConfigError(`${name} must use ${protocols.join(' or ')} (got "${value}")`);
    }
    return value;
  }

  /** A value matching `pattern` (`what` describes it in the error). */
  pattern(name: string, pattern: RegExp, what: string): string | null {
    const value = this.raw(name);
    if (value === undefined) return null;
    if (!pattern.test(value)) throw new ConfigError(`${name} must be ${what} (got "${value}")`);
    return value;
  }

  /** A comma-separated list of values each matching `pattern`. */
  list(name: string, pattern: RegExp, what: string): string[] {
    const value = this.raw(name);
    if (value === undefined) return [];
    const entries = value.split(',').map((entry) => entry.trim()).filter((entry) => entry !== '');
    const bad = entries.find((entry) => !pattern.test(entry));
    if (bad !== undefined) throw new ConfigError(`${name} must list values like ${what} (got "${bad}")`);
    return entries;
  }

  /** A value `parse` accepts; its error message (one line) follows the variable's name. Never echoes the value. */
  parsed<T>(name: string, parse: (raw: string) => T, fallback: () => T): T {
    const value = this.raw(name);
    if (value === undefined) return fallback();
    try {
      return parse(value);
    } catch (error) {
      throw new ConfigError(`${name} ${error instanceof Error ? error.message : 'is invalid'}`);
    }
  }
}
