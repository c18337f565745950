/**
 * `npm run chat` from the command line to the exit status (scripts/chat.ts is the thin entry): parse the arguments,
 * sign in to the console, pick the agent, get a phone token, pick the audio sink, run the call.
 */
import { mkdirSync, mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { systemClock } from '../clock.js';
import { ChatError, EXIT, parseChatArgs, USAGE, USAGE_LINE } from './args.js';
import { findOnPath, PlayOrFallbackSink, WavSink, type AudioSink } from './audio-io.js';
import { listAgents, phoneSocketUrl, phoneToken, signIn } from './console-client.js';
import { ChatSession } from './session.js';

export const RATE_HZ = 24_000;

export interface ChatIo {
  readonly argv: readonly string[];
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly stdin: NodeJS.ReadableStream;
  readonly stdout: NodeJS.WritableStream & { isTTY?: boolean };
  readonly stderr: NodeJS.WritableStream;
  /** Called with the running session, so Ctrl-C can hang it up. */
  readonly onSession?: (session: ChatSession) => void;
}

/** The exit status; a ChatError becomes its one line on stderr. */
export async function runChatCli(io: ChatIo): Promise<number> {
  const out = (line: string) => void io.stdout.write(`${line}\n`);
  const err = (line: string) => void io.stderr.write(`${line}\n`);
  try {
    return await chat(io, out, err);
  } catch (error) {
    if (error instanceof ChatError) {
      err(error.message);
      return error.code;
    }
    err(`chat: failed: ${error instanceof Error ? error.message : String(error)}`);
    return EXIT.lost;
  }
}

async function chat(io: ChatIo, out: (line: string) => void, err: (line: string) => void): Promise<number> {
  const parsed = parseChatArgs(io.argv, io.env);
  if (parsed.kind === 'help') {
    out(USAGE);
    return EXIT.ok;
  }
  if (parsed.kind === 'usage-error') {
    err(parsed.message);
    err(USAGE_LINE);
    return EXIT.usage;
  }
  const { options } = parsed;
  const pathVariable = io.env['PATH'] ?? '';
  const recPath = options.mic ? findOnPath('rec', pathVariable) : null;
  if (options.mic && recPath === null) throw new ChatError(EXIT.usage, "chat: --mic needs SoX's rec on PATH (install sox)");
  const playPath = options.play ? findOnPath('play', pathVariable) : null;

  const session = await signIn(options.baseUrl, options.key);
  let agent = options.agent;
  if (agent === null) {
    const agents = await listAgents(session);
    if (agents.length === 0) throw new ChatError(EXIT.refused, `chat: callbridge at ${options.baseUrl} has no agents`);
    agent = agents[0]!;
  }
  const token = await phoneToken(session, agent);

  // WAV files when there is no play (or --no-play), or once play fails (no audio device).
  let outDir: string | null = null;
  const ensureOutDir = (): string => {
    if (outDir === null) {
      outDir = options.outDir === null ? defaultOutDir() : path.resolve(options.outDir);
      mkdirSync(outDir, { recursive: true });
    }
    return outDir;
  };
  if (playPath === null) out(`${options.play ? "SoX's play is not on PATH: " : ''}answers are saved as WAV files in ${ensureOutDir()}`);

  const chatSession: ChatSession = new ChatSession({
    socketUrl: phoneSocketUrl(options.baseUrl, token.url, RATE_HZ),
    baseUrl: options.baseUrl,
    origin: session.origin,
    rateHz: RATE_HZ,
    clock: systemClock,
    recPath,
    input: io.stdin,
    output: io.stdout,
    warn: err,
    makeSink: ({ callSid, rateHz }): AudioSink => {
      const wav = () =>
        new WavSink({ clock: systemClock, rateHz, dir: ensureOutDir(), prefix: callSid.replace(/[^A-Za-z0-9_-]/g, '_'), print: (line) => chatSession.print(line), warn: err });
      if (playPath === null) return wav();
      return new PlayOrFallbackSink(playPath, rateHz, (why) => {
        const sink = wav();
        err(`${why}; saving answers as WAV files in ${ensureOutDir()} instead`);
        return sink;
      });
    },
  });
  io.onSession?.(chatSession);
  return chatSession.run();
}

/** A new directory under os.tmpdir()/callbridge-chat. */
function defaultOutDir(): string {
  const base = path.join(os.tmpdir(), 'callbridge-chat');
  mkdirSync(base, { recursive: true });
  return mkdtempSync(path.join(base, `${new Date().toISOString().slice(0, 19).replace(/[:T]/g, '-')}-`));
}
