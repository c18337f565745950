/**
 * `npm run chat -- [--agent NAME] [--base-url URL] [--key KEY] [--mic] [--out DIR] [--no-play]`: talk to a running
 * callbridge's agent from the terminal over the browser-phone socket (docs/console.md). Everything is in src/chat/
 * (cli.ts runs it); this entry loads .env, wires the process in and exits with the status:
 * 0 the call ended, 1 the call was lost, 2 refused, unreachable or bad usage, 78 the console is off.
 */
import dotenv from 'dotenv';
import { runChatCli } from '../src/chat/cli.js';
import type { ChatSession } from '../src/chat/session.js';

// Variables already in the environment win over .env, as for the server.
// DOTENV_CONFIG_PATH names another file (tests point it nowhere, so a developer's own .env stays out of them).
dotenv.config({ quiet: true, ...(process.env['DOTENV_CONFIG_PATH'] === undefined ? {} : { path: process.env['DOTENV_CONFIG_PATH'] }) });
process.stdout.on('error', () => undefined);

let session: ChatSession | null = null;
// During a call the first Ctrl-C hangs up politely and the second leaves at once; before one, it just leaves.
process.on('SIGINT', () => (session === null ? process.exit(130) : session.interrupt()));

const code = await runChatCli({
  argv: process.argv.slice(2),
  env: process.env,
  stdin: process.stdin,
  stdout: process.stdout,
  stderr: process.stderr,
  onSession: (running) => (session = running),
});
process.exit(code);
