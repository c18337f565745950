/**
 * The process entry as an operator meets it: bad configuration is one line and a non-zero exit; a good one serves
 * /healthz and stops cleanly on SIGINT.
 */
import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import { listeningPort, runEntry } from './helpers/process-entry.js';

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
