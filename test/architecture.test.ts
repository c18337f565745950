/**
 * The layering that docs/architecture.md promises, checked on the source: the call owner knows no provider, and a
 * production module never loads the simulator statically.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = new URL('../src/', import.meta.url).pathname;

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? sources(join(dir, entry.name)) : entry.name.endsWith('.ts') ? [join(dir, entry.name)] : [],
  );
}

function importsOf(file: string): string[] {
  return [...readFileSync(file, 'utf8').matchAll(/^\s*(?:import|export)[^'";]*?from\s+'([^']+)'/gm)].map((match) => match[1]!);
}

describe('layering', () => {
  it('src/call imports nothing from openai, a provider, twilio or the simulator', () => {
    const offending = sources(join(SRC, 'call')).flatMap((file) =>
      importsOf(file)
        .filter((spec) => spec === 'openai' || spec.startsWith('openai/') || /\/(providers|twilio|simulator)\//.test(spec))
        .map((spec) => `${relative(SRC, file)} → ${spec}`),
    );
    expect(offending).toEqual([]);
  });

  it('no production module imports the simulator statically (index.ts loads it only when used)', () => {
    const production = sources(SRC).filter((file) => !relative(SRC, file).startsWith('simulator/'));
    const offending = production.flatMap((file) => importsOf(file).filter((spec) => spec.includes('simulator/')).map((spec) => `${relative(SRC, file)} → ${spec}`));
    expect(offending).toEqual([]);
    expect(readFileSync(join(SRC, 'index.ts'), 'utf8')).toContain("await import('./simulator/realtime/server.js')");
  });

  it('only src/providers/openai and the simulated OpenAI server use the openai typings', () => {
    const users = sources(SRC)
      .filter((file) => importsOf(file).some((spec) => spec === 'openai' || spec.startsWith('openai/')))
      .map((file) => relative(SRC, file).split('/').slice(0, 2).join('/'));
    expect([...new Set(users)].sort()).toEqual(['providers/openai', 'simulator/realtime']);
  });
});
