/**
 * The process entry as an operator meets it: bad configuration is one line and a non-zero exit; a good one serves
 * /healthz and stops cleanly on SIGINT.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

function runEntry(env: Record<string, string>) {
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

describe('process entry', () => {
  it.each([
    [{ PORT: 'abc' }, 'callbridge: configuration error: PORT must be an integer from 0 to 65535 (got "abc")'],
    [{ OPENAI_VOICE: 'robot' }, 'callbridge: configuration error: OPENAI_VOICE must be one of'],
    [{ NODE_ENV: 'production' }, 'callbridge: configuration error: OPENAI_API_KEY is required when NODE_ENV=production'],
  ])('exits with one clear line for bad configuration %o', async (env, line) => {
    const { child, output } = runEntry(env);
    const [code] = (await once(child, 'exit')) as [number];
    expect(code).toBe(78);
    const { stderr, stdout } = output();
    const lines = stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(line);
    expect(stderr).not.toMatch(/\n\s+at /);
    expect(stdout).toBe('');
  });

  it('serves /healthz and stops cleanly on SIGINT', async () => {
    const { child, output } = runEntry({ PORT: '0', HOST: '127.0.0.1' });
    const port = await listeningPort(child, output);
    const response = await fetch(`http://127.0.0.1:${port}/healthz`);
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ status: 'ok' });
    child.kill('SIGINT');
    const [code] = (await once(child, 'exit')) as [number];
    expect(code).toBe(0);
    expect(output().stdout).toContain('"msg":"stopped"');
  });
});
