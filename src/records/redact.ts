/**
 * Secrets never reach a record: tool arguments and outputs are JSON the model and remote services wrote, so values
 * under secret-looking keys are replaced, and any known secret (API keys, tool secrets, header values marked secret)
 * is replaced wherever it appears in a string.
 */

/** Words of a key (`apiKey`, `api_key`, `X-Api-Key` → api, key) that mark its value secret. */
const SECRET_WORDS = new Set(['password', 'passwd', 'passphrase', 'secret', 'token', 'auth', 'authorization', 'authorisation', 'credential', 'credentials', 'signature', 'cookie', 'apikey', 'pin', 'otp']);
const SECRET_PAIRS = new Set(['api key', 'private key', 'access key', 'session id']);

/** True for keys like `password`, `apiKey`, `X-Auth-Token`, `client_secret`; false for `max_tokens`, `passengers`. */
export function isSecretKey(key: string): boolean {
  const words = key
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter((word) => word !== '');
  return words.some((word, index) => SECRET_WORDS.has(word) || SECRET_PAIRS.has(`${word} ${words[index + 1] ?? ''}`));
}
export const REDACTED = '[redacted]';

export class Redactor {
  private readonly secrets: readonly string[];

  /** Secrets shorter than 6 characters are ignored: replacing them would mangle ordinary text. */
  constructor(secrets: ReadonlyArray<string | null | undefined>) {
    this.secrets = [...new Set(secrets.filter((secret): secret is string => typeof secret === 'string' && secret.length >= 6))].sort((a, b) => b.length - a.length);
  }

  text(value: string): string {
    let out = value;
    for (const secret of this.secrets) if (out.includes(secret)) out = out.split(secret).join(REDACTED);
    return out;
  }

  /** A JSON value with secret-looking keys and known secrets replaced. */
  value(value: unknown, depth = 0): unknown {
    if (typeof value === 'string') return this.text(value);
    if (value === null || typeof value !== 'object') return value;
    // Deeper than any real payload: not walked further, and not kept either (it could hide a secret).
    if (depth > 32) return REDACTED;
    if (Array.isArray(value)) return value.map((entry) => this.value(entry, depth + 1));
    const out: Record<string, unknown> = {};
    // A known secret used as a key is replaced there too.
    for (const [key, entry] of Object.entries(value)) out[this.text(key)] = isSecretKey(key) ? REDACTED : this.value(entry, depth + 1);
    return out;
  }

  /**
   * JSON text in, a JSON value out, secrets replaced. Text that is not JSON stays text, clipped to `maxChars` after
   * redaction; JSON is kept whole (an HTTP tool's answer is already capped by its `maxResponseBytes`).
   */
  json(text: string | undefined, maxChars = 4_000): unknown {
    if (text === undefined) return null;
    try {
      return this.value(JSON.parse(text));
    } catch {
      // Secrets out first: a clip through a secret would otherwise keep its beginning.
      const clean = this.text(text);
      return clean.length > maxChars ? `${clean.slice(0, maxChars)}…` : clean;
    }
  }
}
