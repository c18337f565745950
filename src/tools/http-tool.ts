/**
 * An HTTP tool from the agent file as a ToolDefinition: the model's arguments are checked against the declared JSON
 * Schema, then sent to the tool's URL (signed when the agent has a signing secret), and the answer (JSON or text,
 * size-capped, time-limited) becomes the tool output. Every failure is an Error with a short message the model may
 * read (runTool turns it into `{"error": ...}`); secret header values never appear in messages or logs.
 * What a receiver gets is documented in docs/http-tools.md.
 */
import type { HttpToolDefinition } from '../agents/types.js';
import type { ToolContext, ToolDefinition } from '../call/tools.js';
import type { Logger } from '../logger.js';
import { compileArgumentsValidator } from './json-schema.js';
import { signToolRequest } from './signature.js';

export type HttpToolFailure =
  | 'invalid_arguments'
  | 'timeout'
  | 'http_status'
  | 'too_large'
  | 'bad_content_type'
  | 'invalid_json'
  | 'unreachable';

export const HTTP_TOOL_FAILURES: readonly HttpToolFailure[] = [
  'invalid_arguments',
  'timeout',
  'http_status',
  'too_large',
  'bad_content_type',
  'invalid_json',
  'unreachable',
];

export interface HttpToolStats {
  ok: number;
  failed: Record<HttpToolFailure, number>;
}

/** A ToolDefinition that also exposes its own live counters. */
export interface HttpTool extends ToolDefinition {
  readonly stats: Readonly<HttpToolStats>;
}

export interface HttpToolOptions {
  /** The agent's `toolSigningSecret`; null = requests are not signed. */
  signingSecret: string | null;
  logger: Logger;
  agentName: string;
  /** Defaults to the global fetch. */
  fetch?: typeof fetch;
  /** Clock for the signature timestamp; defaults to Date.now. */
  nowEpochMs?: () => number;
}

const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH']);

function emptyStats(): HttpToolStats {
  return { ok: 0, failed: Object.fromEntries(HTTP_TOOL_FAILURES.map((reason) => [reason, 0])) as Record<HttpToolFailure, number> };
}

/** Process-wide totals by `<agent>/<tool>`, across every tool instance built (tools may be built per call). */
const totals = new Map<string, HttpToolStats>();

/** A snapshot of the process-wide counters, keyed `<agent>/<tool>`. */
export function httpToolStats(): Record<string, HttpToolStats> {
  return Object.fromEntries([...totals].map(([key, stats]) => [key, { ok: stats.ok, failed: { ...stats.failed } }]));
}

/** Clears the process-wide counters (tests). */
export function resetHttpToolStats(): void {
  totals.clear();
}

class HttpToolError extends Error {
  constructor(
    message: string,
    readonly reason: HttpToolFailure,
    readonly status: number | null = null,
    readonly causeCode: string | null = null,
  ) {
    super(message);
  }
}

type MediaKind = 'json' | 'text' | 'none' | 'other';

function mediaKind(contentType: string | null): { kind: MediaKind; type: string; charset: string | null } {
  if (contentType === null || contentType.trim() === '') return { kind: 'none', type: '', charset: null };
  const [rawType = '', ...params] = contentType.split(';');
  const type = rawType.trim().toLowerCase();
  const charsetParam = params.map((param) => param.trim()).find((param) => param.toLowerCase().startsWith('charset='));
  const charset = charsetParam === undefined ? null : charsetParam.slice('charset='.length).replace(/^"|"$/g, '');
  const kind: MediaKind = type === 'application/json' || (type.startsWith('application/') && type.endsWith('+json')) ? 'json' : type.startsWith('text/') ? 'text' : 'other';
  return { kind, type, charset };
}

function decodeText(bytes: Uint8Array, charset: string | null): string {
  try {
    return new TextDecoder(charset ?? 'utf-8').decode(bytes);
  } catch {
    return new TextDecoder('utf-8').decode(bytes);
  }
}

function queryValue(value: unknown): string | null {
  if (value === undefined) return null;
  if (value === null) return '';
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return JSON.stringify(value);
}

function errorCode(error: unknown): string | null {
  const cause = error instanceof Error ? (error.cause as { code?: unknown } | undefined) : undefined;
  if (cause !== undefined && typeof cause === 'object' && cause !== null && typeof cause.code === 'string') return cause.code;
  return error instanceof Error ? error.name : null;
}

export function createHttpTool(definition: HttpToolDefinition, options: HttpToolOptions): HttpTool {
  const { name, method, timeoutMs, maxResponseBytes } = definition;
  const { logger, agentName, signingSecret } = options;
  if (signingSecret === '') throw new Error(`tool ${name}: the signing secret is empty`);
  const fetchImpl = options.fetch ?? globalThis.fetch;
  const now = options.nowEpochMs ?? Date.now;
  const validate = compileArgumentsValidator(definition.parameters);
  const hasBody = BODY_METHODS.has(method);

  // Fixed headers, built once. Credentials in the URL become a Basic authorization header (fetch refuses them).
  const target = new URL(definition.url);
  const secrets: string[] = [];
  const fixedHeaders: Record<string, string> = { accept: 'application/json, text/*', 'user-agent': 'callbridge-http-tool' };
  if (hasBody) fixedHeaders['content-type'] = 'application/json';
  if (target.username !== '' || target.password !== '') {
    const basic = Buffer.from(`${decodeURIComponent(target.username)}:${decodeURIComponent(target.password)}`).toString('base64');
    fixedHeaders['authorization'] = `Basic ${basic}`;
    secrets.push(basic, target.password, decodeURIComponent(target.password));
    target.username = '';
    target.password = '';
  }
  for (const [headerName, header] of Object.entries(definition.headers)) {
    fixedHeaders[headerName.toLowerCase()] = header.value;
    if (header.secret) secrets.push(header.value);
  }
  if (signingSecret !== null) secrets.push(signingSecret);
  delete fixedHeaders['x-callbridge-timestamp'];
  delete fixedHeaders['x-callbridge-signature'];
  const redactable = [...new Set(secrets.filter((secret) => secret.length >= 4))].sort((a, b) => b.length - a.length);
  const redact = (text: string): string => redactable.reduce((clean, secret) => clean.split(secret).join('[REDACTED]'), text);

  const stats = emptyStats();
  const totalsKey = `${agentName}/${name}`;

  function count(reason: HttpToolFailure | null): void {
    const total = totals.get(totalsKey) ?? emptyStats();
    totals.set(totalsKey, total);
    if (reason === null) {
      stats.ok += 1;
      total.ok += 1;
    } else {
      stats.failed[reason] += 1;
      total.failed[reason] += 1;
    }
  }

  function callInfo(context: ToolContext): Record<string, string> {
    // Caller and called numbers go along when the call context carries them.
    return {
      callSid: context.callSid,
      streamSid: context.streamSid,
      agent: agentName,
      ...(context.callerNumber === undefined ? {} : { callerNumber: context.callerNumber }),
      ...(context.calledNumber === undefined ? {} : { calledNumber: context.calledNumber }),
    };
  }

  async function readCapped(response: Response): Promise<Uint8Array> {
    const tooLarge = () => new HttpToolError(`tool ${name} answered more than ${maxResponseBytes} bytes`, 'too_large', response.status);
    const declared = Number(response.headers.get('content-length') ?? Number.NaN);
    if (Number.isFinite(declared) && declared > maxResponseBytes) throw tooLarge();
    if (response.body === null) return new Uint8Array(0);
    const reader = response.body.getReader();
    const chunks: Uint8Array[] = [];
    let total = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.byteLength;
      if (total > maxResponseBytes) throw tooLarge();
      chunks.push(value);
    }
    return Buffer.concat(chunks, total);
  }

  async function send(args: unknown, context: ToolContext): Promise<{ value: unknown; status: number; bytes: number }> {
    const url = new URL(target);
    let body: string | undefined;
    if (hasBody) {
      body = JSON.stringify({ arguments: args, call: callInfo(context) });
    } else {
      for (const [key, value] of Object.entries(args as Record<string, unknown>)) {
        const text = queryValue(value);
        if (text !== null) url.searchParams.append(key, text);
      }
      url.searchParams.set('callSid', context.callSid);
    }
    const headers: Record<string, string> = { ...fixedHeaders };
    if (signingSecret !== null) {
      const signature = signToolRequest(signingSecret, body ?? '', now());
      headers['x-callbridge-timestamp'] = signature['X-Callbridge-Timestamp'];
      headers['x-callbridge-signature'] = signature['X-Callbridge-Signature'];
    }
    const timeout = AbortSignal.timeout(timeoutMs);
    const controller = new AbortController();
    let status: number | null = null;
    try {
      const response = await fetchImpl(url, {
        method,
        headers,
        body,
        signal: AbortSignal.any([timeout, controller.signal]),
        redirect: 'manual',
      });
      status = response.status;
      if (status < 200 || status > 299) throw new HttpToolError(`tool ${name} answered HTTP ${status}`, 'http_status', status);
      const media = mediaKind(response.headers.get('content-type'));
      if (media.kind === 'other') {
        throw new HttpToolError(`tool ${name} answered ${media.type.slice(0, 80)}, not JSON or text`, 'bad_content_type', status);
      }
      const bytes = await readCapped(response);
      if (media.kind === 'none') {
        if (bytes.byteLength === 0) return { value: { ok: true }, status, bytes: 0 };
        throw new HttpToolError(`tool ${name} answered a body without a content type`, 'bad_content_type', status);
      }
      const text = decodeText(bytes, media.charset);
      if (media.kind === 'text') return { value: text, status, bytes: bytes.byteLength };
      try {
        return { value: JSON.parse(text) as unknown, status, bytes: bytes.byteLength };
      } catch {
        throw new HttpToolError(`tool ${name} answered invalid JSON`, 'invalid_json', status);
      }
    } catch (error) {
      controller.abort(); // drop the connection: nothing more is read from it
      if (error instanceof HttpToolError) throw error;
      if (timeout.aborted) throw new HttpToolError(`tool ${name} timed out after ${timeoutMs} ms`, 'timeout', status);
      throw new HttpToolError(`tool ${name} could not be reached`, 'unreachable', status, errorCode(error));
    }
  }

  return {
    name,
    description: definition.description,
    parameters: definition.parameters,
    stats,
    async handler(args: unknown, context: ToolContext): Promise<unknown> {
      const started = performance.now();
      const fields = { tool: name, agent: agentName, callSid: context.callSid, method };
      try {
        const problems = validate(args);
        if (problems.length === 0 && !hasBody && (typeof args !== 'object' || args === null || Array.isArray(args))) {
          problems.push('arguments must be an object');
        }
        if (problems.length > 0) throw new HttpToolError(`invalid arguments for tool ${name}: ${problems.join('; ')}`, 'invalid_arguments');
        const result = await send(args, context);
        count(null);
        const durationMs = Math.round(performance.now() - started);
        logger.info({ ...fields, status: result.status, durationMs, ok: true, bytes: result.bytes }, 'http tool call');
        return result.value;
      } catch (error) {
        const failure = error instanceof HttpToolError ? error : new HttpToolError(`tool ${name} failed`, 'unreachable', null, errorCode(error));
        count(failure.reason);
        const message = redact(failure.message);
        const durationMs = Math.round(performance.now() - started);
        logger.warn(
          { ...fields, status: failure.status, durationMs, ok: false, reason: failure.reason, error: message, ...(failure.causeCode === null ? {} : { cause: redact(failure.causeCode) }) },
          'http tool call failed',
        );
        throw new Error(message);
      }
    },
  };
}
