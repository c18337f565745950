/**
 * The command line of `npm run chat` (scripts/chat.ts): pure, every problem one line starting `chat: `.
 * The admin key comes from `--key` or CALLBRIDGE_API_KEY and is never part of any message.
 */

/** 0 the call ended; 1 the call was lost; 2 refused, unreachable or bad usage; 78 the console is off; 130 Ctrl-C twice. */
export const EXIT = { ok: 0, lost: 1, refused: 2, usage: 2, consoleOff: 78, interrupted: 130 } as const;

/** An error that ends the client: one line (starting `chat: `) and an exit status. */
export class ChatError extends Error {
  override name = 'ChatError';
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

export const USAGE_LINE = 'usage: npm run chat -- [--agent NAME] [--base-url URL] [--key KEY] [--mic] [--out DIR] [--no-play]';

export const USAGE = `${USAGE_LINE}

Talks to one of callbridge's agents from the terminal through the browser-phone socket (docs/console.md).
Type a line and press Enter to say it; /dtmf 123# presses keys; /quit (or Ctrl-D, Ctrl-C) hangs up.

  --agent NAME     the agent (default: the first of GET /console/api/agents)
  --base-url URL   the callbridge (default: http://127.0.0.1:$PORT, PORT defaulting to 3000)
  --key KEY        the admin key (default: CALLBRIDGE_API_KEY from the environment or .env)
  --mic            speak instead: capture the microphone with SoX's rec (otherwise the line carries silence)
  --out DIR        where answers are saved as WAV files when SoX's play is missing or with --no-play
                   (default: a new directory under $TMPDIR/callbridge-chat)
  --no-play        save each answer as a WAV file even when play is on PATH

exit status: 0 the call ended; 1 the call was lost; 2 refused, unreachable or bad usage; 78 the console is off`;

export interface ChatOptions {
  /** Null: the first agent callbridge lists. */
  readonly agent: string | null;
  /** Without a trailing slash. */
  readonly baseUrl: string;
  readonly key: string;
  readonly mic: boolean;
  /** Null: a new directory under os.tmpdir()/callbridge-chat. */
  readonly outDir: string | null;
  /** False with --no-play: WAV files even when `play` exists. */
  readonly play: boolean;
}

export type ParsedChatArgs =
  | { readonly kind: 'chat'; readonly options: ChatOptions }
  | { readonly kind: 'help' }
  | { readonly kind: 'usage-error'; readonly message: string };

const fail = (message: string): ParsedChatArgs => ({ kind: 'usage-error', message: `chat: ${message}` });

const VALUED = new Set(['--agent', '--base-url', '--key', '--out']);
const FLAGS = new Set(['--mic', '--no-play']);

/** `argv` (after the script name) and the environment (CALLBRIDGE_API_KEY, PORT) → what to do. */
export function parseChatArgs(argv: readonly string[], env: Readonly<Record<string, string | undefined>> = {}): ParsedChatArgs {
  let agent: string | null = null;
  let baseUrl: string | null = null;
  let key: string | null = null;
  let outDir: string | null = null;
  let mic = false;
  let play = true;

  for (let index = 0; index < argv.length; index++) {
    const arg = argv[index]!;
    if (arg === '--help' || arg === '-h') return { kind: 'help' };
    if (!arg.startsWith('--')) return fail(`unexpected argument "${arg.slice(0, 40)}"`);
    const equals = arg.indexOf('=');
    const name = equals === -1 ? arg : arg.slice(0, equals);
    if (FLAGS.has(name)) {
      if (equals !== -1) return fail(`${name} takes no value`);
      if (name === '--mic') mic = true;
      else play = false;
      continue;
    }
    if (!VALUED.has(name)) return fail(`unknown option ${name.slice(0, 40)}`);
    let value: string;
    if (equals !== -1) value = arg.slice(equals + 1);
    else {
      const next = argv[index + 1];
      if (next === undefined || next.startsWith('--')) return fail(`${name} needs a value`);
      value = next;
      index++;
    }
    if (value.trim() === '') return fail(`${name} needs a value`);
    switch (name) {
      case '--agent':
        agent = value.trim();
        break;
      case '--base-url': {
        const checked = checkBaseUrl(value);
        if (checked === null) return fail(`--base-url must be an http(s) URL like http://127.0.0.1:3000 (got "${value.slice(0, 100)}")`);
        baseUrl = checked;
        break;
      }
      case '--key':
        key = value.trim();
        break;
      default:
        outDir = value;
    }
  }

  if (key === null) {
    const fromEnv = env['CALLBRIDGE_API_KEY']?.trim();
    if (fromEnv === undefined || fromEnv === '') return fail('no admin key: set CALLBRIDGE_API_KEY (environment or .env) or pass --key');
    key = fromEnv;
  }
  return { kind: 'chat', options: { agent, baseUrl: baseUrl ?? defaultBaseUrl(env), key, mic, outDir, play } };
}

/** `http://127.0.0.1:$PORT`, PORT (a port number) defaulting to 3000, like the server's own default. */
export function defaultBaseUrl(env: Readonly<Record<string, string | undefined>>): string {
  const port = env['PORT']?.trim();
  const valid = port !== undefined && /^\d{1,5}$/.test(port) && Number(port) >= 1 && Number(port) <= 65_535;
  return `http://127.0.0.1:${valid ? Number(port) : 3000}`;
}

function checkBaseUrl(value: string): string | null {
  try {
    const url = new URL(value.trim());
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return null;
    if (url.username !== '' || url.password !== '' || url.search !== '' || url.hash !== '') return null;
    return url.href.replace(/\/+$/, '');
  } catch {
    return null;
  }
}
