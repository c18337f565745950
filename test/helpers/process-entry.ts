/**
 * The real process entry (src/index.ts under tsx) as a child process, with a clean environment: no developer .env,
 * records off unless asked for. Shared by the process tests and the drain tests.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export function runEntry(env: Record<string, string>) {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/index.ts'], {
    cwd: root,
    // DOTENV_CONFIG_PATH keeps a developer's own .env out of the test.
    // RECORDS off: the process tests are about the entry, not the database (test/records-* cover that).
    env: { PATH: process.env['PATH'] ?? '', DOTENV_CONFIG_PATH: '/nonexistent/.env', LOG_LEVEL: 'info', RECORDS: 'off', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return { child, output: () => ({ stdout, stderr }) };
}

/** The port from the "callbridge listening" log line. */
export function listeningPort(child: ReturnType<typeof spawn>, output: () => { stdout: string; stderr: string }): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no listen line: ${JSON.stringify(output())}`)), 20_000);
    const check = () => {
      const match = /"port":(\d+)[^\n]*callbridge listening/.exec(output().stdout);
      if (match) {
        clearTimeout(timer);
        resolve(Number(match[1]));
      }
    };
    child.stdout?.on('data', check);
    check();
  });
}

