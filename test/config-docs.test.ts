/**
 * The configuration table in the README and .env.example stay true: every variable the code reads is documented in
 * both, and neither documents a variable the code does not read.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const root = new URL('../', import.meta.url);
const read = (path: string) => readFileSync(new URL(path, root), 'utf8');

function variablesReadByConfig(): string[] {
  // config.ts and the sections it reads from files of their own (config-*.ts).
  const source = read('src/config.ts') + read('src/config-cluster.ts');
  const names = [...source.matchAll(/(?:reader\.\w+|env)\(?\[?'([A-Z][A-Z0-9_]+)'/g)].map((match) => match[1]!);
  return [...new Set(names)].sort();
}

describe('configuration docs', () => {
  const variables = variablesReadByConfig();

  it('finds the variables config.ts reads', () => {
    expect(variables).toContain('AGENTS_FILE');
    expect(variables).toContain('OPENAI_API_KEY');
    expect(variables.length).toBeGreaterThan(30);
  });

  it('.env.example names every variable, and only those', () => {
    const documented = [...read('.env.example').matchAll(/^#?\s*([A-Z][A-Z0-9_]+)=/gm)].map((match) => match[1]!);
    expect([...new Set(documented)].sort()).toEqual(variables);
  });

  it('the README configuration table names every variable', () => {
    const readme = read('README.md');
    const table = readme.slice(readme.indexOf('## Configuration'), readme.indexOf('## How it works'));
    const missing = variables.filter((name) => !table.includes(`\`${name}\``));
    expect(missing).toEqual([]);
  });
});
