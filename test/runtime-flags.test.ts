/**
 * The young-generation size the product runs with is one fact in three places: `npm start`, the Dockerfile's CMD
 * and the calls benchmark (which measures the bridge as it runs). A change to one must be a change to all.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { PRODUCT_SEMI_SPACE_MB, parseOptions } from '../bench/calls-options.js';

const root = new URL('..', import.meta.url);
const flag = `--max-semi-space-size=${PRODUCT_SEMI_SPACE_MB}`;

describe('runtime flags', () => {
  it('npm start runs node with the benchmark\'s semi-space', () => {
    const scripts = (JSON.parse(readFileSync(new URL('package.json', root), 'utf8')) as { scripts: Record<string, string> }).scripts;
    expect(scripts['start']).toBe(`node ${flag} dist/index.js`);
  });

  it('the image runs node with the same flag', () => {
    const cmd = readFileSync(new URL('Dockerfile', root), 'utf8').split('\n').find((line) => line.startsWith('CMD '));
    expect(cmd).toBe(`CMD ["node", "${flag}", "dist/index.js"]`);
  });

  it('the benchmark runs the bridge with it by default; 0 means Node\'s own default', () => {
    expect(PRODUCT_SEMI_SPACE_MB).toBe(8);
    expect(parseOptions([]).semiSpaceMb).toBe(8);
    expect(parseOptions(['--semi-space-mb', '0']).semiSpaceMb).toBeNull();
    expect(parseOptions(['--semi-space-mb', '16']).semiSpaceMb).toBe(16);
  });
});
