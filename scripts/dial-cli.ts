/**
 * The pure parts of `npm run dial` (scripts/dial.ts): the command line, the progress lines printed while a call runs,
 * and the readable form of a call record (also printed by `npm run demo`). No I/O here: test/dial-cli.test.ts checks
 * every message and line exactly.
 */
import type { OutboundProgress } from '../src/outbound/outbound-calls.js';
import { E164 } from '../src/outbound/policy.js';
import type { CallRecord } from '../src/records/types.js';

/** sysexits' EX_USAGE would be 64; like the server's configuration errors, bad usage exits 78 (EX_CONFIG). */
export const EXIT = { completed: 0, notCompleted: 1, refused: 2, usage: 78 } as const;

/** An error that ends the CLI: its one-line message (or lines, each starting `dial: `) and exit status. */
export class DialError extends Error {
  override name = 'DialError';
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

export const CALLEE_KINDS = ['human', 'voicemail', 'busy', 'no-answer', 'failed'] as const;
export type CalleeKind = (typeof CALLEE_KINDS)[number];

/** Final statuses of an outbound call (GET /api/outbound/:id); the CLI stops following at the first one. */
export const FINAL_STATUSES: ReadonlySet<string> = new Set(['completed', 'busy', 'no-answer', 'failed', 'canceled']);

/** The same rule as POST /api/calls (src/outbound/policy.ts), checked here so a typo never leaves the machine. */
const VARIABLE_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;

export const USAGE = `usage: npm run dial -- <number> [--agent NAME] [--var name=value]... [--url URL] [--callee KIND]

Places one outbound call through callbridge's POST /api/calls and prints its progress as it happens.

  <number>          who to call, E.164 (+15551234567)
  --agent NAME      the agent that talks (default: "default", the agent callbridge builds from its environment
                    when it has no AGENTS_FILE; simulated with AGENTS_FILE: the file's default agent)
  --var name=value  a per-call variable, {{custom.name}} in the agent's instructions and greeting; repeatable
  --url URL         a running callbridge (default: CALLBRIDGE_URL); needs CALLBRIDGE_API_KEY (environment or .env)
  --callee KIND     simulated only: who answers, human (default), voicemail, busy, no-answer or failed

Without --url or CALLBRIDGE_URL the call is simulated, with no accounts: an embedded callbridge, simulated Twilio
and OpenAI Realtime, records in a temporary PGlite database; the agent is AGENTS_FILE's or a built-in "default".

exit status: 0 the call completed; 1 busy, no-answer, failed or canceled (or the call was lost track of);
             2 the request was refused (or callbridge could not be reached); 78 bad usage`;

export interface DialOptions {
  readonly to: string;
  /** Null: not given (remote: "default"; simulated: the roster's default agent). */
  readonly agent: string | null;
  readonly variables: Readonly<Record<string, string>>;
  /** Null: simulated mode. */
  readonly url: string | null;
  /** Simulated mode only (null when not given: a person). */
  readonly callee: CalleeKind | null;
}

export type ParsedArgs = { readonly kind: 'dial'; readonly options: DialOptions } | { readonly kind: 'help' } | { readonly kind: 'usage-error'; readonly message: string };

const fail = (message: string): ParsedArgs => ({ kind: 'usage-error', message: `dial: ${message}` });

/**
 * `argv` (after the script name) and the environment's CALLBRIDGE_URL → what to do. Options take their value as the
 * next argument or after `=`; `--` ends the options. Every problem is one line starting `dial: `.
 */
export function parseDialArgs(argv: readonly string[], env: Readonly<Record<string, string | undefined>> = {}): ParsedArgs {
  const numbers: string[] = [];
  const variables: Record<string, string> = {};
  let agent: string | null = null;
  let url: string | null = null;
  let callee: CalleeKind | null = null;
  let optionsEnded = false;

  for (let index = 0; index < argv.length; index++) {
    const arg = argv[index]!;
    if (optionsEnded || !arg.startsWith('-') || arg === '-' || /^\+/.test(arg)) {
      numbers.push(arg);
      continue;
    }
    if (arg === '--') {
      optionsEnded = true;
      continue;
    }
    if (arg === '--help' || arg === '-h') return { kind: 'help' };
    const equals = arg.indexOf('=');
    const name = equals === -1 ? arg : arg.slice(0, equals);
    if (name !== '--agent' && name !== '--var' && name !== '--url' && name !== '--callee') {
      return fail(`unknown option ${name} (npm run dial -- --help lists them)`);
    }
    let value: string;
    if (equals !== -1) value = arg.slice(equals + 1);
    else {
      const next = argv[index + 1];
      if (next === undefined || (next.startsWith('--') && next.length > 2)) return fail(`${name} needs a value`);
      value = next;
      index++;
    }
    switch (name) {
      case '--agent':
        if (value.trim() === '') return fail('--agent needs a value');
        agent = value;
        break;
      case '--url': {
        const checked = checkUrl(value);
        if (checked === null) return fail(`--url must be an http(s) URL like http://127.0.0.1:8080 (got "${value.slice(0, 100)}")`);
        url = checked;
        break;
      }
      case '--callee':
        if (!(CALLEE_KINDS as readonly string[]).includes(value)) return fail(`--callee must be one of ${CALLEE_KINDS.join(', ')} (got "${value.slice(0, 40)}")`);
        callee = value as CalleeKind;
        break;
      default: {
        const split = value.indexOf('=');
        if (split === -1) return fail(`--var takes name=value, like --var name=Ada (got "${value.slice(0, 40)}")`);
        const variable = value.slice(0, split);
        if (!VARIABLE_NAME.test(variable)) return fail(`--var name "${variable.slice(0, 64)}" must be letters, digits and _ (not starting with a digit)`);
        variables[variable] = value.slice(split + 1);
      }
    }
  }

  if (numbers.length === 0) return fail('give the number to call, like npm run dial -- +15551234567');
  if (numbers.length > 1) return fail(`one number at a time (got ${numbers.map((number) => number.slice(0, 20)).join(' and ')})`);
  const to = numbers[0]!.replace(/[\s().-]/g, '');
  if (!E164.test(to)) return fail('the number must be E.164, like +15551234567');
  if (url === null) {
    const fromEnv = env['CALLBRIDGE_URL']?.trim();
    if (fromEnv !== undefined && fromEnv !== '') {
      url = checkUrl(fromEnv);
      if (url === null) return fail(`CALLBRIDGE_URL must be an http(s) URL like http://127.0.0.1:8080 (got "${fromEnv.slice(0, 100)}")`);
    }
  }
  if (url !== null && callee !== null) return fail('--callee only applies to a simulated call (without --url or CALLBRIDGE_URL)');
  return { kind: 'dial', options: { to, agent, variables, url, callee } };
}

function checkUrl(value: string): string | null {
  try {
    const url = new URL(value);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return null;
    if (url.username !== '' || url.password !== '') return null;
    return url.href.replace(/\/+$/, '');
  } catch {
    return null;
  }
}

/** The remote mode's key, or the one-line usage error when it is missing. The key itself is never printed. */
export function apiKeyFrom(env: Readonly<Record<string, string | undefined>>): { key: string } | { message: string } {
  const key = env['CALLBRIDGE_API_KEY']?.trim();
  if (key === undefined || key === '') return { message: 'dial: CALLBRIDGE_API_KEY is not set (the server\'s API key; put it in the environment or .env)' };
  return { key };
}

/** One line for an API error body `{ error: { code, message } }`, or for an answer that is not one. */
export function refusalLine(httpStatus: number, body: unknown): string {
  const error = (body as { error?: { code?: unknown; message?: unknown } } | null)?.error;
  if (typeof error?.code === 'string') {
    const message = typeof error.message === 'string' ? oneLine(error.message) : '';
    return `dial: refused (HTTP ${httpStatus}): ${error.code}${message === '' ? '' : `: ${message}`}`;
  }
  return `dial: refused (HTTP ${httpStatus}): not a callbridge API answer`;
}

function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').trim().slice(0, 300);
}

// ---------------------------------------------------------------------------------------------------------------
// Progress

/** What has been printed so far for one call. */
export interface ProgressState {
  /** Epoch ms (the server's clock) of the request's arrival: time 0 of every line. Null before the first snapshot. */
  readonly originEpochMs: number | null;
  /** History entries already looked at. */
  readonly seen: number;
  readonly answeredBy: string | null;
  /** Seconds of the last line printed (lines never go back in time). */
  readonly lastS: number;
  readonly ended: boolean;
}

export const INITIAL_PROGRESS: ProgressState = { originEpochMs: null, seen: 0, answeredBy: null, lastS: 0, ended: false };

/** `  1.20 s  ringing`: seconds right-aligned, then the event. */
export function progressLine(seconds: number, text: string): string {
  return `${seconds.toFixed(2).padStart(6)} s  ${text}`;
}

function answeredByText(answeredBy: string): string {
  if (answeredBy === 'human') return 'answered by human';
  if (answeredBy.startsWith('machine_')) return `answered by machine (${answeredBy})`;
  if (answeredBy === 'unknown') return 'answered by unknown (answering-machine detection could not tell)';
  return `answered by ${answeredBy}`;
}

function statusText(status: string, snapshot: OutboundProgress, answeredBy: string | null): string {
  switch (status) {
    case 'waiting':
      return 'waiting (behind the outbound rate limit)';
    case 'in-progress':
      return answeredBy === null ? 'answered' : answeredByText(answeredBy);
    case 'completed':
      return snapshot.durationS === null ? 'ended: completed' : `ended: completed after ${snapshot.durationS} s`;
    default:
      return FINAL_STATUSES.has(status) ? `ended: ${status}` : status;
  }
}

/**
 * The lines a new snapshot of `GET /api/outbound/:id` adds. Status changes carry the server's time (their history
 * entry, relative to the request's arrival); the answering-machine verdict has no time of its own and is stamped
 * `nowS`, the seconds since the request was sent as measured by the caller (same origin, up to the network delay).
 * The initial `waiting` entry is shown only when the call is still waiting when first seen (queued behind the rate
 * limit); an answer and its verdict seen together make one line; a verdict seen together with the end comes just
 * before it. A final status ends the progress.
 */
export function progressLines(state: ProgressState, snapshot: OutboundProgress, nowS: number): { state: ProgressState; lines: string[] } {
  if (state.ended) return { state, lines: [] };
  const origin = state.originEpochMs ?? snapshot.history[0]?.atEpochMs ?? null;
  const lines: string[] = [];
  let { lastS, answeredBy } = state;
  let ended = false;
  const history = snapshot.history;
  const verdict = snapshot.answeredBy;
  for (let index = state.seen; index < history.length && !ended; index++) {
    const entry = history[index]!;
    const isLast = index === history.length - 1;
    if (entry.status === 'waiting' && !isLast) continue;
    const atS = Math.max(lastS, origin === null ? nowS : (entry.atEpochMs - origin) / 1000);
    // The verdict joins the answer's line when both are new in this snapshot.
    if (entry.status === 'in-progress' && verdict !== null && answeredBy === null) answeredBy = verdict;
    // A verdict first seen with the end (a machine hung up on at once) still gets its line, before the end's.
    if (FINAL_STATUSES.has(entry.status) && verdict !== null && answeredBy === null) {
      const verdictS = Math.max(lastS, Math.min(nowS, atS));
      lines.push(progressLine(verdictS, answeredByText(verdict)));
      answeredBy = verdict;
    }
    lines.push(progressLine(atS, statusText(entry.status, snapshot, answeredBy)));
    lastS = atS;
    if (FINAL_STATUSES.has(entry.status)) ended = true;
  }
  if (!ended && verdict !== null && answeredBy === null) {
    const atS = Math.max(lastS, nowS);
    lines.push(progressLine(atS, answeredByText(verdict)));
    answeredBy = verdict;
    lastS = atS;
  }
  return { state: { originEpochMs: origin, seen: history.length, answeredBy: answeredBy ?? state.answeredBy, lastS, ended }, lines };
}

/** The exit status for a call's final status. */
export function exitCodeFor(status: string): number {
  return status === 'completed' ? EXIT.completed : EXIT.notCompleted;
}

// ---------------------------------------------------------------------------------------------------------------
// The call record, readable

const seconds = (ms: number): string => `${(ms / 1000).toFixed(2).padStart(6)} s`;
const quoted = (text: string): string => `"${text}"`;

/** A call record (GET /api/calls/:callSid, or the store) as lines for people: who, outcome, transcript, latencies, usage, cost. */
export function formatCallRecord(record: CallRecord, options: { recordingNote?: string } = {}): string[] {
  const lines: string[] = [];
  const model = record.model === null ? record.provider : `${record.provider} ${record.model}`;
  lines.push(`  call        ${record.callSid}, ${record.direction}, ${record.from} → ${record.to}, agent "${record.agent}" (${model})`);
  const outcome = [
    ...(record.finalStatus === null ? [] : [record.finalStatus]),
    ...(record.answeredBy === null ? [] : [`answered by ${record.answeredBy}`]),
    `${(record.durationMs / 1000).toFixed(1)} s`,
    `end reason: ${record.endReason}`,
  ];
  lines.push(`  outcome     ${outcome.join(', ')}`);

  if (record.answeredAtEpochMs === null) {
    lines.push('  transcript  none: the call was never answered');
    return lines;
  }
  if (record.transcript.length === 0) lines.push('  transcript  (nothing was said)');
  else {
    lines.push('  transcript  as heard (s since the stream started)');
    for (const line of record.transcript) {
      // Records call the far end `caller` either way; on an outbound call that is the person called.
      const speaker = line.speaker === 'agent' ? 'agent ' : record.direction === 'outbound' ? 'callee' : 'caller';
      const heard = line.heardMs === null ? '' : ` after ${(line.heardMs / 1000).toFixed(2)} s of audio`;
      const text = line.interrupted ? `${quoted(line.text)}… [interrupted${heard}; generated: ${quoted(line.fullText ?? '')}]` : quoted(line.text);
      lines.push(`    ${seconds(line.atMs)}  ${speaker}  ${text}`);
    }
  }

  if (record.turns.length === 0) lines.push('  latency     (no turns)');
  else {
    const turns = record.turns.map((turn) => `turn ${turn.turn} ${turn.latencyMs === null ? 'unanswered' : `${turn.latencyMs} ms`}`);
    lines.push(`  latency     ${turns.join(', ')} (end of speech → first agent audio, at the bridge)`);
  }

  const { usage, cost } = record;
  lines.push(
    `  usage       ${usage.inputTokens} input tokens (${usage.inputAudioTokens} audio, ${usage.cachedTokens} cached), ${usage.outputTokens} output tokens (${usage.outputAudioTokens} audio)`,
  );
  lines.push(`  cost        ${cost.priceModel === null ? `$${cost.totalUsd.toFixed(6)} (no price for this model)` : `$${cost.totalUsd.toFixed(6)} at ${cost.priceModel} prices`}`);
  // Statuses and the verdict are in the outcome line already.
  const shown = record.events.filter((event) => event.type !== 'call_status' && event.type !== 'answered_by');
  if (shown.length > 0) {
    const events = shown.map((event) => `${event.type} ${seconds(event.atMs).trim()}`);
    lines.push(`  events      ${events.join(', ')}`);
  }
  if (record.recording !== null) lines.push(`  recording   ${record.recording.file} (${(record.recording.durationMs / 1000).toFixed(1)} s)${options.recordingNote === undefined ? '' : `, ${options.recordingNote}`}`);
  return lines;
}
