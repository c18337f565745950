/**
 * Places one simulated Twilio call against a running bridge and saves what the caller heard.
 *
 *   npx tsx src/simulator/call-cli.ts --audio speech.wav --out heard.wav [--base-url http://localhost:8080]
 *       [--public-base-url https://voice.example.com] [--auth-token T] [--trailing-silence-ms 8000]
 *       [--hang-up-after-ms N] [--dtmf 1@3000,5@3600] [--from +1555…] [--to +1555…]
 *
 * `--audio` takes a WAV (any rate, PCM16 or mu-law) or a fixture (`.jsonl`, see fixtures/README.md). The auth token
 * defaults to TWILIO_AUTH_TOKEN so the CLI signs like Twilio whenever the server checks signatures. The saved WAV is
 * the caller's earpiece on the call's timeline (silence where nothing played), PCM16 8 kHz.
 * Exit codes: 0 completed, 1 error (one line, no stack), 2 busy, 64 bad usage.
 */
import { writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { decodeMulaw } from '../audio/mulaw.js';
import { writeWav } from '../audio/wav.js';
import { placeCall, TwilioCallerError, type CallResult, type CallerAudio, type PlaceCallOptions } from './twilio-caller.js';
import { renderHeardTimeline } from './twilio-playback.js';

export interface CliIo {
  out: (line: string) => void;
  err: (line: string) => void;
  env: Record<string, string | undefined>;
  /** Resolves when the user asks to stop (Ctrl-C); the call is then hung up politely. */
  interrupted?: Promise<void>;
}

const USAGE = 'usage: call --audio <speech.wav|fixture.jsonl> --out <heard.wav> [--base-url URL] [--public-base-url URL] [--auth-token T] [--trailing-silence-ms N] [--hang-up-after-ms N] [--dtmf D@MS,...] [--from N] [--to N]';
const MAX_MARK_LINES = 12;

class UsageError extends Error {}

/** Runs the CLI; returns the process exit code. Never throws. */
export async function runCallCli(argv: readonly string[], io: CliIo): Promise<number> {
  let options: PlaceCallOptions;
  let outPath: string;
  try {
    ({ options, outPath } = parseCliArgs(argv, io.env));
  } catch (error) {
    io.err(`error: ${(error as Error).message}`);
    io.err(USAGE);
    return 64;
  }

  io.out(`calling ${options.baseUrl} …`);
  let result: CallResult;
  try {
    const call = await placeCall(options);
    if (call.outcome === 'busy') {
      const says = call.parsedTwiml.says;
      io.err(`busy: the server answered without a media stream${says.length > 0 ? ` and said "${says.join(' ')}"` : ''}`);
      return 2;
    }
    io.out(`${seconds(0)}  stream started (callSid ${call.callSid}, streamSid ${call.streamSid})`);
    void io.interrupted?.then(() => call.hangUp());
    result = await call.closed;
  } catch (error) {
    if (error instanceof TwilioCallerError) {
      io.err(`error: ${error.message}${hint(error)}`);
      return 1;
    }
    io.err(`error: ${(error as Error).message}`);
    return 1;
  }

  for (const line of timeline(result)) io.out(line);
  const heard = renderHeardTimeline(result.heardSegments, result.durationMs);
  try {
    writeFileSync(outPath, writeWav(decodeMulaw(heard), 8_000));
  } catch (error) {
    io.err(`error: cannot write ${outPath}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
    return 1;
  }
  io.out(`saved ${seconds(result.durationMs)} of what the caller heard to ${outPath}`);
  return 0;
}

function parseCliArgs(argv: readonly string[], env: Record<string, string | undefined>): { options: PlaceCallOptions; outPath: string } {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        audio: { type: 'string' },
        out: { type: 'string' },
        'base-url': { type: 'string', default: 'http://localhost:8080' },
        'public-base-url': { type: 'string' },
        'auth-token': { type: 'string' },
        'trailing-silence-ms': { type: 'string', default: '8000' },
        'hang-up-after-ms': { type: 'string' },
        dtmf: { type: 'string' },
        from: { type: 'string' },
        to: { type: 'string' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  if (values.audio === undefined) throw new UsageError('--audio is required');
  if (values.out === undefined) throw new UsageError('--out is required');
  const audio: CallerAudio = values.audio.endsWith('.jsonl') ? { kind: 'fixture', path: values.audio } : { kind: 'wav', path: values.audio };
  const authToken = values['auth-token'] ?? env['TWILIO_AUTH_TOKEN'] ?? null;
  const options: PlaceCallOptions = {
    baseUrl: values['base-url'],
    authToken: authToken === '' ? null : authToken,
    audio,
    trailingSilenceMs: nonNegativeInteger('--trailing-silence-ms', values['trailing-silence-ms']),
  };
  if (values['public-base-url'] !== undefined) options.publicBaseUrl = values['public-base-url'];
  if (values['hang-up-after-ms'] !== undefined) options.hangUpAfterMs = nonNegativeInteger('--hang-up-after-ms', values['hang-up-after-ms']);
  if (values.dtmf !== undefined) options.dtmf = parseDtmf(values.dtmf);
  if (values.from !== undefined) options.from = values.from;
  if (values.to !== undefined) options.to = values.to;
  return { options, outPath: values.out };
}

function nonNegativeInteger(flag: string, text: string): number {
  if (!/^\d+$/.test(text)) throw new UsageError(`${flag} must be a whole number of milliseconds (got "${text}")`);
  return Number(text);
}

function parseDtmf(text: string): Array<{ atMs: number; digit: string }> {
  return text.split(',').map((part) => {
    const match = /^([0-9*#A-D])@(\d+)$/.exec(part.trim());
    if (match === null) throw new UsageError(`--dtmf entries look like 5@3000 (digit@ms), got "${part}"`);
    return { digit: match[1]!, atMs: Number(match[2]) };
  });
}

function hint(error: TwilioCallerError): string {
  switch (error.code) {
    case 'unreachable':
      return ' (is the server running? check --base-url)';
    case 'upgrade_refused':
      return error.httpStatus === 401 || error.httpStatus === 403 ? ' (signature rejected? check --auth-token and --public-base-url)' : '';
    case 'webhook_http_error':
      return error.httpStatus === 403 ? ' (signature rejected? check --auth-token and --public-base-url)' : '';
    default:
      return '';
  }
}

/** The human-readable story of the call, in time order. */
export function timeline(result: CallResult): string[] {
  const events: Array<{ atMs: number; text: string }> = [];
  const firstHeard = result.heardSegments[0];
  if (firstHeard !== undefined) events.push({ atMs: firstHeard.startMs, text: 'first audio heard' });
  // Bridges mark every ~100 ms: show the first played marks, summarise the rest, and show every cleared one.
  const played = result.marks.filter((mark) => mark.cause === 'played');
  const shownPlayed = new Set(played.length > MAX_MARK_LINES ? played.slice(0, MAX_MARK_LINES - 1) : played);
  for (const mark of result.marks) {
    if (mark.cause === 'played' && !shownPlayed.has(mark)) continue;
    events.push({ atMs: mark.echoedAtMs, text: `mark ${mark.name} echoed (${mark.cause}, ${mark.playedBytesBefore / 8} ms heard so far)` });
  }
  if (played.length > shownPlayed.size) {
    const last = played.at(-1)!;
    events.push({ atMs: last.echoedAtMs, text: `… ${played.length - shownPlayed.size} more played marks, the last ${last.name}` });
  }
  for (const clear of result.clears) {
    events.push({ atMs: clear.atMs, text: `clear: ${clear.droppedBytes / 8} ms of buffered audio dropped, marks echoed: ${clear.marksEchoed.join(', ') || 'none'}` });
  }
  for (const underrun of result.underruns) {
    events.push({ atMs: underrun.atMs, text: `underrun: playback ran dry mid-answer${underrun.durationMs === null ? '' : ` for ${underrun.durationMs.toFixed(1)} ms`}` });
  }
  const dtmf = result.sent.filter((sent) => sent.message.event === 'dtmf');
  for (const press of dtmf) if (press.message.event === 'dtmf') events.push({ atMs: press.atMs, text: `pressed ${press.message.dtmf.digit}` });
  events.push({
    atMs: result.durationMs,
    text:
      result.endedBy === 'server'
        ? `server closed the stream (code ${result.closeCode}${result.closeReason === '' ? '' : `, "${result.closeReason}"`})`
        : `hung up (code ${result.closeCode})`,
  });
  events.sort((a, b) => a.atMs - b.atMs);
  const lines = events.map((event) => `${seconds(event.atMs)}  ${event.text}`);
  const errors = Object.entries(result.protocolErrors).filter(([, count]) => count > 0);
  lines.push(
    `heard ${(result.heardMsTotal / 1000).toFixed(2)} s of agent audio; ${result.underrunCount} underrun(s), ${result.underrunMs.toFixed(0)} ms of mid-answer silence; ${result.clears.length} clear(s)`,
  );
  if (result.unplayedBytesAtEnd > 0) lines.push(`${result.unplayedBytesAtEnd / 8} ms of agent audio was still buffered at hang-up`);
  if (errors.length > 0) lines.push(`protocol problems: ${errors.map(([name, count]) => `${name} ${count}`).join(', ')}`);
  return lines;
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(3).padStart(8)} s`;
}

const invokedDirectly = process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href;
if (invokedDirectly) {
  const interrupted = new Promise<void>((resolve) => process.once('SIGINT', () => resolve()));
  const code = await runCallCli(process.argv.slice(2), {
    out: (line) => process.stdout.write(`${line}\n`),
    err: (line) => process.stderr.write(`${line}\n`),
    env: process.env,
    interrupted,
  });
  process.exit(code);
}
