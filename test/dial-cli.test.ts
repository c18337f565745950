/**
 * `npm run dial` (scripts/dial.ts, its pure parts in scripts/dial-cli.ts).
 *
 * Pure: every bad command line gives its exact one-line message; a run of progress snapshots (as
 * `GET /api/outbound/:id` answers them) gives exactly these lines; a call record reads as these lines.
 * As a child process: the zero-setup mode places a real `POST /api/calls` through an embedded callbridge and the
 * simulated Twilio REST server (busy callee), prints the statuses in order and the record from the database, and
 * exits 1; the remote mode against a callbridge in this process does the same with `--url`, never prints the API
 * key, and exits 2 on a refused request and 78 without CALLBRIDGE_API_KEY.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { silentLogger } from '../src/logger.js';
import type { OutboundProgress } from '../src/outbound/outbound-calls.js';
import type { CallRecord } from '../src/records/types.js';
import { startServer, type RunningServer } from '../src/server/app.js';
import { startSimulatedRealtimeServer, type SimulatedRealtimeServer } from '../src/simulator/realtime/server.js';
import { rebaseUrls, startSimulatedTwilioRest, type SimulatedTwilioRest } from '../src/simulator/twilio-rest/server.js';
import {
  apiKeyFrom,
  EXIT,
  exitCodeFor,
  formatCallRecord,
  INITIAL_PROGRESS,
  parseDialArgs,
  progressLines,
  refusalLine,
  type ParsedArgs,
  type ProgressState,
} from '../scripts/dial-cli.js';

const ROOT = join(import.meta.dirname, '..');

describe('dial: the command line', () => {
  const error = (argv: string[], env: Record<string, string> = {}): string => {
    const parsed = parseDialArgs(argv, env);
    if (parsed.kind !== 'usage-error') throw new Error(`expected a usage error, got ${JSON.stringify(parsed)}`);
    return parsed.message;
  };

  it('reads the number, agent, variables and URL (either form of option), the URL without its trailing slash', () => {
    const parsed = parseDialArgs(['+15551234567', '--agent', 'reminders', '--var', 'name=Ada', '--var=time=10:00 sharp', '--url=http://127.0.0.1:8080/']);
    expect(parsed).toStrictEqual<ParsedArgs>({
      kind: 'dial',
      options: { to: '+15551234567', agent: 'reminders', variables: { name: 'Ada', time: '10:00 sharp' }, url: 'http://127.0.0.1:8080', callee: null },
    });
  });

  it('simulated unless --url or CALLBRIDGE_URL; --url wins; a blank CALLBRIDGE_URL is unset', () => {
    const url = (argv: string[], env: Record<string, string>) => {
      const parsed = parseDialArgs(argv, env);
      return parsed.kind === 'dial' ? parsed.options.url : parsed.kind;
    };
    expect(url(['+15551234567'], {})).toBeNull();
    expect(url(['+15551234567'], { CALLBRIDGE_URL: '  ' })).toBeNull();
    expect(url(['+15551234567'], { CALLBRIDGE_URL: 'https://calls.example.com' })).toBe('https://calls.example.com');
    expect(url(['+15551234567', '--url', 'http://10.0.0.5:8080'], { CALLBRIDGE_URL: 'https://calls.example.com' })).toBe('http://10.0.0.5:8080');
    expect(parseDialArgs(['+15551234567', '--callee', 'voicemail'])).toMatchObject({ kind: 'dial', options: { callee: 'voicemail', url: null, agent: null } });
  });

  it('takes a number written with spaces, dashes or parentheses; --help anywhere', () => {
    expect(parseDialArgs(['+1 (555) 123-4567'])).toMatchObject({ kind: 'dial', options: { to: '+15551234567' } });
    expect(parseDialArgs(['+15551234567', '--help'])).toStrictEqual({ kind: 'help' });
    expect(parseDialArgs(['-h'])).toStrictEqual({ kind: 'help' });
  });

  it('says what is wrong, in one line each', () => {
    expect(error([])).toBe('dial: give the number to call, like npm run dial -- +15551234567');
    expect(error(['5551234567'])).toBe('dial: the number must be E.164, like +15551234567');
    expect(error(['+0551234567'])).toBe('dial: the number must be E.164, like +15551234567');
    expect(error(['+15551234567', '+15557654321'])).toBe('dial: one number at a time (got +15551234567 and +15557654321)');
    expect(error(['+15551234567', '--agnet', 'x'])).toBe('dial: unknown option --agnet (npm run dial -- --help lists them)');
    expect(error(['+15551234567', '--agent'])).toBe('dial: --agent needs a value');
    expect(error(['+15551234567', '--agent', '--var', 'a=b'])).toBe('dial: --agent needs a value');
    expect(error(['+15551234567', '--agent='])).toBe('dial: --agent needs a value');
    expect(error(['+15551234567', '--var', 'name'])).toBe('dial: --var takes name=value, like --var name=Ada (got "name")');
    expect(error(['+15551234567', '--var', 'first-name=Ada'])).toBe('dial: --var name "first-name" must be letters, digits and _ (not starting with a digit)');
    expect(error(['+15551234567', '--url', 'ftp://host'])).toBe('dial: --url must be an http(s) URL like http://127.0.0.1:8080 (got "ftp://host")');
    expect(error(['+15551234567', '--url', 'localhost:8080'])).toBe('dial: --url must be an http(s) URL like http://127.0.0.1:8080 (got "localhost:8080")');
    expect(error(['+15551234567', '--url', 'http://user:pw@host'])).toBe('dial: --url must be an http(s) URL like http://127.0.0.1:8080 (got "http://user:pw@host")');
    expect(error(['+15551234567'], { CALLBRIDGE_URL: 'nope' })).toBe('dial: CALLBRIDGE_URL must be an http(s) URL like http://127.0.0.1:8080 (got "nope")');
    expect(error(['+15551234567', '--callee', 'robot'])).toBe('dial: --callee must be one of human, voicemail, busy, no-answer, failed (got "robot")');
    expect(error(['+15551234567', '--callee', 'busy', '--url', 'http://127.0.0.1:8080'])).toBe(
      'dial: --callee only applies to a simulated call (without --url or CALLBRIDGE_URL)',
    );
    expect(error(['+15551234567', '--callee', 'busy'], { CALLBRIDGE_URL: 'http://127.0.0.1:8080' })).toBe(
      'dial: --callee only applies to a simulated call (without --url or CALLBRIDGE_URL)',
    );
  });

  it('the remote mode needs CALLBRIDGE_API_KEY; the key is never part of a message', () => {
    const missing = "dial: CALLBRIDGE_API_KEY is not set (the server's API key; put it in the environment or .env)";
    expect(apiKeyFrom({})).toStrictEqual({ message: missing });
    expect(apiKeyFrom({ CALLBRIDGE_API_KEY: ' ' })).toStrictEqual({ message: missing });
    expect(apiKeyFrom({ CALLBRIDGE_API_KEY: 'k-123' })).toStrictEqual({ key: 'k-123' });
  });

  it('a refusal is one line: HTTP status, the API error code and message', () => {
    expect(refusalLine(403, { error: { code: 'destination_not_allowed', message: 'agent "reminders" may not call +4420…:\nallowed prefixes: +1' } })).toBe(
      'dial: refused (HTTP 403): destination_not_allowed: agent "reminders" may not call +4420…: allowed prefixes: +1',
    );
    expect(refusalLine(502, '<html>Bad gateway</html>')).toBe('dial: refused (HTTP 502): not a callbridge API answer');
    expect(refusalLine(401, null)).toBe('dial: refused (HTTP 401): not a callbridge API answer');
  });
});

describe('dial: progress lines', () => {
  const T0 = 1_750_000_000_000;
  const snapshot = (history: Array<[number, string]>, extra: Partial<OutboundProgress> = {}): OutboundProgress => ({
    requestId: 'OR1',
    callSid: 'CA1',
    to: '+15551234567',
    agent: 'reminders',
    status: history.at(-1)![1],
    answeredBy: null,
    durationS: null,
    history: history.map(([atMs, status]) => ({ atEpochMs: T0 + atMs, status })),
    ...extra,
  });
  /** Feeds snapshots (with the poller's own seconds since sending) and collects every line. */
  const run = (steps: Array<[OutboundProgress, number]>): { lines: string[]; state: ProgressState } => {
    let state = INITIAL_PROGRESS;
    const lines: string[] = [];
    for (const [progress, nowS] of steps) {
      const next = progressLines(state, progress, nowS);
      state = next.state;
      lines.push(...next.lines);
    }
    return { lines, state };
  };

  it('a call that a person answers: each status once with its server time, the verdict when seen, then the end', () => {
    const h: Array<[number, string]> = [
      [0, 'waiting'],
      [30, 'queued'],
    ];
    const ringing: Array<[number, string]> = [...h, [60, 'initiated'], [1_200, 'ringing']];
    const answered: Array<[number, string]> = [...ringing, [3_100, 'in-progress']];
    const ended: Array<[number, string]> = [...answered, [45_020, 'completed']];
    const { lines, state } = run([
      [snapshot(h), 0.05],
      [snapshot(h), 0.55],
      [snapshot(ringing), 1.5],
      [snapshot(answered), 3.5],
      [snapshot(answered, { answeredBy: 'human' }), 5.9],
      [snapshot(ended, { answeredBy: 'human', durationS: 42 }), 45.2],
      [snapshot(ended, { answeredBy: 'human', durationS: 42 }), 45.7],
    ]);
    expect(lines).toStrictEqual([
      '  0.03 s  queued',
      '  0.06 s  initiated',
      '  1.20 s  ringing',
      '  3.10 s  answered',
      '  5.90 s  answered by human',
      ' 45.02 s  ended: completed after 42 s',
    ]);
    expect(state.ended).toBe(true);
    expect(exitCodeFor('completed')).toBe(EXIT.completed);
  });

  it('an answer and its verdict seen together are one line; a machine says which', () => {
    const answered: Array<[number, string]> = [
      [0, 'waiting'],
      [20, 'queued'],
      [900, 'ringing'],
      [2_000, 'in-progress'],
    ];
    expect(run([[snapshot(answered, { answeredBy: 'human' }), 6]]).lines).toStrictEqual(['  0.02 s  queued', '  0.90 s  ringing', '  2.00 s  answered by human']);
    expect(run([[snapshot(answered), 2.2], [snapshot(answered, { answeredBy: 'machine_end_beep' }), 7.45]]).lines.slice(-2)).toStrictEqual([
      '  2.00 s  answered',
      '  7.45 s  answered by machine (machine_end_beep)',
    ]);
    expect(run([[snapshot(answered, { answeredBy: 'unknown' }), 6]]).lines.at(-1)).toBe('  2.00 s  answered by unknown (answering-machine detection could not tell)');
  });

  it('a verdict first seen together with the end still gets its line, just before the end', () => {
    const answered: Array<[number, string]> = [
      [0, 'waiting'],
      [20, 'queued'],
      [1_000, 'in-progress'],
    ];
    const ended: Array<[number, string]> = [...answered, [3_800, 'completed']];
    expect(run([[snapshot(answered), 1.2], [snapshot(ended, { answeredBy: 'machine_start', durationS: 3 }), 4.1]]).lines).toStrictEqual([
      '  0.02 s  queued',
      '  1.00 s  answered',
      '  3.80 s  answered by machine (machine_start)',
      '  3.80 s  ended: completed after 3 s',
    ]);
    expect(run([[snapshot(answered), 1.2], [snapshot(ended, { answeredBy: 'machine_start', durationS: 3 }), 3.5]]).lines.slice(-2)).toStrictEqual([
      '  3.50 s  answered by machine (machine_start)',
      '  3.80 s  ended: completed after 3 s',
    ]);
  });

  it('a verdict is never stamped before the line above it (the poller clock is behind the server)', () => {
    const answered: Array<[number, string]> = [
      [0, 'waiting'],
      [3_000, 'in-progress'],
    ];
    expect(run([[snapshot(answered), 3.1], [snapshot(answered, { answeredBy: 'fax' }), 2.5]]).lines).toStrictEqual(['  3.00 s  answered', '  3.00 s  answered by fax']);
  });

  it('a request queued behind the rate limit shows waiting, then its statuses; busy, no-answer, failed, canceled end it with exit 1', () => {
    const waiting: Array<[number, string]> = [[0, 'waiting']];
    const busy: Array<[number, string]> = [...waiting, [4_500, 'queued'], [4_530, 'ringing'], [5_010, 'busy']];
    const { lines, state } = run([
      [snapshot(waiting, { callSid: null }), 0.02],
      [snapshot(waiting, { callSid: null }), 0.52],
      [snapshot(busy), 5.1],
    ]);
    expect(lines).toStrictEqual(['  0.00 s  waiting (behind the outbound rate limit)', '  4.50 s  queued', '  4.53 s  ringing', '  5.01 s  ended: busy']);
    expect(state.ended).toBe(true);
    for (const status of ['no-answer', 'failed', 'canceled']) {
      expect(run([[snapshot([[0, 'waiting'], [15, 'queued'], [2_000, status]]), 2.1]]).lines.at(-1)).toBe(`  2.00 s  ended: ${status}`);
    }
    for (const status of ['busy', 'no-answer', 'failed', 'canceled']) expect(exitCodeFor(status)).toBe(EXIT.notCompleted);
  });

  it('nothing after the end; a completed call without a duration says so', () => {
    const done: Array<[number, string]> = [
      [0, 'waiting'],
      [10, 'queued'],
      [8_000, 'completed'],
    ];
    const { lines, state } = run([[snapshot(done), 8.2]]);
    expect(lines).toStrictEqual(['  0.01 s  queued', '  8.00 s  ended: completed']);
    expect(progressLines(state, snapshot([...done, [9_000, 'failed']], { answeredBy: 'human' }), 9.5).lines).toStrictEqual([]);
  });
});

describe('dial: the call record, readable', () => {
  const base: CallRecord = {
    callSid: 'CA0123456789abcdef0123456789abcdef',
    streamSid: 'MZ1',
    direction: 'outbound',
    from: '+15005550006',
    to: '+15551234567',
    agent: 'default',
    provider: 'openai',
    model: 'gpt-realtime',
    startedAtEpochMs: 1_750_000_000_000,
    answeredAtEpochMs: 1_750_000_000_900,
    endedAtEpochMs: 1_750_000_014_000,
    durationMs: 13_040,
    endReason: 'caller hung up',
    finalStatus: 'completed',
    answeredBy: 'human',
    transcript: [
      { seq: 0, atMs: 6_030, speaker: 'agent', itemId: '0/a', text: 'Hello, thanks for', interrupted: true, heardMs: 1_070, fullText: 'Hello, thanks for calling. How' },
      { seq: 1, atMs: 10_110, speaker: 'caller', itemId: '0/b', text: 'Wait, stop, I have another question.', interrupted: false, heardMs: null, fullText: null },
      { seq: 2, atMs: 10_380, speaker: 'agent', itemId: '0/c', text: 'Sure, I can help with that.', interrupted: false, heardMs: 2_290, fullText: null },
    ],
    turns: [{ turn: 1, callerStoppedAtMs: 10_110, firstAudioAtMs: 10_383, latencyMs: 273 }],
    responses: [],
    events: [
      { seq: 0, atMs: 0, type: 'call_status', data: { status: 'queued' } },
      { seq: 1, atMs: 5_020, type: 'answered_by', data: { answeredBy: 'human' } },
      { seq: 2, atMs: 7_110, type: 'barge_in', data: {} },
    ],
    usage: { inputTokens: 102, outputTokens: 91, inputAudioTokens: 34, outputAudioTokens: 80, cachedTokens: 0 },
    cost: { totalUsd: 0.006656, priceModel: 'gpt-realtime' },
    recording: null,
    counters: {},
  };

  it('who, outcome, the transcript as heard (the interrupted answer cut and marked), latencies, usage, cost, events', () => {
    expect(formatCallRecord(base)).toStrictEqual([
      '  call        CA0123456789abcdef0123456789abcdef, outbound, +15005550006 → +15551234567, agent "default" (openai gpt-realtime)',
      '  outcome     completed, answered by human, 13.0 s, end reason: caller hung up',
      '  transcript  as heard (s since the stream started)',
      '      6.03 s  agent   "Hello, thanks for"… [interrupted after 1.07 s of audio; generated: "Hello, thanks for calling. How"]',
      '     10.11 s  callee  "Wait, stop, I have another question."',
      '     10.38 s  agent   "Sure, I can help with that."',
      '  latency     turn 1 273 ms (end of speech → first agent audio, at the bridge)',
      '  usage       102 input tokens (34 audio, 0 cached), 91 output tokens (80 audio)',
      '  cost        $0.006656 at gpt-realtime prices',
      '  events      barge_in 7.11 s',
    ]);
  });

  it('an inbound call names the caller; a call never answered has no conversation', () => {
    const inbound = formatCallRecord({ ...base, direction: 'inbound', finalStatus: null, answeredBy: null });
    expect(inbound[1]).toBe('  outcome     13.0 s, end reason: caller hung up');
    expect(inbound[4]).toBe('     10.11 s  caller  "Wait, stop, I have another question."');
    const busy = formatCallRecord({ ...base, finalStatus: 'busy', answeredBy: null, answeredAtEpochMs: null, durationMs: 420, endReason: 'busy', transcript: [], turns: [], events: [] });
    expect(busy.slice(1)).toStrictEqual(['  outcome     busy, 0.4 s, end reason: busy', '  transcript  none: the call was never answered']);
    const recorded = formatCallRecord({ ...base, recording: { file: `${base.callSid}.wav`, durationMs: 13_080, bytes: 418_604 } }, { recordingNote: 'somewhere' });
    expect(recorded.at(-1)).toBe(`  recording   ${base.callSid}.wav (13.1 s), somewhere`);
  });
});

// ---------------------------------------------------------------------------------------------------------------
// As a child process

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** `tsx scripts/dial.ts …` with only the environment given (plus PATH/HOME): no .env value can switch the mode. */
function dial(args: string[], env: Record<string, string>): Promise<Run> {
  const startedAt = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/dial.ts', ...args], {
      cwd: ROOT,
      // Set but empty: dotenv never overrides a variable that exists, so a developer's .env cannot leak in.
      env: { PATH: process.env['PATH'] ?? '', HOME: process.env['HOME'] ?? '', CALLBRIDGE_URL: '', CALLBRIDGE_API_KEY: '', AGENTS_FILE: '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 90_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, ms: Date.now() - startedAt });
    });
  });
}

/** The progress lines' events, in order. */
const events = (stdout: string): string[] => [...stdout.matchAll(/^ +\d+\.\d\d s {2}(.+)$/gm)].map((match) => match[1]!);

describe('dial: end to end', () => {
  it('zero-setup: a simulated busy line through the real POST /api/calls, statuses in order, the record from the database, exit 1', { timeout: 120_000 }, async () => {
    const run = await dial(['+15551234567', '--callee', 'busy'], {});
    expect(run.stderr).toBe('');
    expect(run.code).toBe(1);
    const lines = run.stdout.split('\n');
    expect(lines[0]).toBe('dial: simulated: no Twilio account needed (no --url or CALLBRIDGE_URL)');
    expect(run.stdout).toMatch(/^ {2}records: a temporary PGlite database, (copied from out\/cache and opened|created \(initdb; later runs copy it from out\/cache\)) in \d+ ms$/m);
    expect(run.stdout).toMatch(/^calling \+15551234567 \(POST \/api\/calls → request OR[0-9a-f]{32}\)$/m);
    expect(events(run.stdout)).toStrictEqual(['queued', 'initiated', 'ringing', 'ended: busy']);
    const callSid = /GET \/api\/calls\/(CA[0-9a-f]{32})/.exec(run.stdout)?.[1];
    expect(callSid).toBeDefined();
    expect(run.stdout).toContain(`  call        ${callSid}, outbound, +15005550006 → +15551234567, agent "default" (openai gpt-realtime)`);
    expect(run.stdout).toMatch(/^ {2}outcome {5}busy, 0\.\d s, end reason: busy$/m);
    expect(run.stdout).toContain('  transcript  none: the call was never answered');
    console.info(`dial zero-setup (busy): ${run.ms} ms wall clock`);
  });

  describe('remote (--url)', () => {
    const API_KEY = 'cb-test-key-5f3a9d71e2';
    let twilio: SimulatedTwilioRest | null = null;
    let realtime: SimulatedRealtimeServer | null = null;
    let server: RunningServer | null = null;
    afterEach(async () => {
      await server?.close();
      await twilio?.close();
      await realtime?.close();
      server = twilio = realtime = null;
    });

    it('places the call, prints its progress, exits 1 on busy; a refused request exits 2; no key exits 78; the key is never printed', { timeout: 120_000 }, async () => {
      const accountSid = `AC${'7'.repeat(32)}`;
      const authToken = 'dial-test-auth-token';
      let route: ((url: string) => string) | null = null;
      twilio = await startSimulatedTwilioRest({ accountSid, authToken, callees: () => ({ kind: 'busy', ringMs: 300 }), routeUrl: (url) => (route === null ? url : route(url)) });
      realtime = await startSimulatedRealtimeServer({ apiKey: 'sk-sim' });
      const config = loadConfig({
        PORT: '0',
        HOST: '127.0.0.1',
        PUBLIC_BASE_URL: 'https://callbridge.test',
        OPENAI_API_KEY: 'sk-sim',
        TWILIO_AUTH_TOKEN: authToken,
        TWILIO_ACCOUNT_SID: accountSid,
        TWILIO_FROM_NUMBER: '+15005550006',
        TWILIO_API_URL: twilio.url,
        CALLBRIDGE_API_KEY: API_KEY,
        OUTBOUND_ALLOWED_PREFIXES: '+1555',
        LOG_LEVEL: 'silent',
      });
      server = await startServer({ config, logger: silentLogger(), upstream: { url: realtime.url, model: 'gpt-realtime', apiKey: 'sk-sim', authMode: 'bearer' } });
      const url = `http://127.0.0.1:${server.port}`;
      route = rebaseUrls('https://callbridge.test', url);

      const [busy, notAllowed, wrongKey, noKey] = await Promise.all([
        dial(['+15551234567', '--url', url, '--var', 'topic=dentist'], { CALLBRIDGE_API_KEY: API_KEY }),
        dial(['+442079460000'], { CALLBRIDGE_API_KEY: API_KEY, CALLBRIDGE_URL: url }),
        dial(['+15551234567', '--url', url], { CALLBRIDGE_API_KEY: 'not-the-key' }),
        dial(['+15551234567', '--url', url], {}),
      ]);

      expect(busy.stderr).toBe('');
      expect(busy.code).toBe(1);
      expect(busy.stdout).toMatch(new RegExp(`^calling \\+15551234567 with agent "default" through ${url.replace(/\./g, '\\.')} \\(request OR[0-9a-f]{32}\\)$`, 'm'));
      expect(events(busy.stdout)).toStrictEqual(['queued', 'initiated', 'ringing', 'ended: busy']);
      expect(twilio.calls().map((call) => [call.to, call.status])).toStrictEqual([['+15551234567', 'busy']]);

      expect([notAllowed.code, notAllowed.stdout, notAllowed.stderr]).toStrictEqual([
        EXIT.refused,
        '',
        'dial: refused (HTTP 403): destination_not_allowed: agent "default" may not call +442079460000: allowed prefixes: +1555\n',
      ]);
      expect(wrongKey.code).toBe(EXIT.refused);
      expect(wrongKey.stderr).toMatch(/^dial: refused \(HTTP 401\): unauthorized: [^\n]+\n$/);
      expect([noKey.code, noKey.stderr]).toStrictEqual([EXIT.usage, "dial: CALLBRIDGE_API_KEY is not set (the server's API key; put it in the environment or .env)\n"]);
      for (const run of [busy, notAllowed, wrongKey, noKey]) expect(run.stdout + run.stderr).not.toContain(API_KEY);
    });
  });
});
