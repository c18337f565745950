/**
 * Top self-time functions of a V8 .cpuprofile (as written by `node --cpu-prof`, e.g. `bench/calls.ts --profile DIR`).
 *
 *   npx tsx bench/profile-top.ts DIR/bridge-pcm-50-….cpuprofile [--top 25] [--filter src/]
 *
 * Prints self time per function (file:line, 1-based) and per file, as % of the sampled (non-idle) time.
 */
import { existsSync, readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  hitCount?: number;
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples?: number[];
  timeDeltas?: number[];
}

const args = process.argv.slice(2);
const path = args.find((arg) => !arg.startsWith('--'));
if (path === undefined) {
  process.stderr.write('usage: npx tsx bench/profile-top.ts FILE.cpuprofile [--top N] [--filter TEXT]\n');
  process.exit(2);
}
const topIndex = args.indexOf('--top');
const top = topIndex >= 0 ? Number(args[topIndex + 1]) : 25;
const filterIndex = args.indexOf('--filter');
const filter = filterIndex >= 0 ? (args[filterIndex + 1] ?? '') : '';

const profile = JSON.parse(readFileSync(path, 'utf8')) as CpuProfile;
const byId = new Map(profile.nodes.map((node) => [node.id, node]));
// Self time per node from samples × time deltas (more exact than hitCount × mean interval).
const selfUs = new Map<number, number>();
const samples = profile.samples ?? [];
const deltas = profile.timeDeltas ?? [];
for (let index = 0; index < samples.length; index++) {
  const id = samples[index]!;
  const delta = deltas[index + 1] ?? 0;
  selfUs.set(id, (selfUs.get(id) ?? 0) + delta);
}

const shortUrl = (url: string): string => url.replace(/^file:\/\//, '').replace(/^.*\/work\/main\//, '').replace(/^.*node_modules\//, 'node_modules/');
/**
 * tsx hands V8 transformed code, so functions in project sources often report line 1. For those, find the line of the
 * function's definition in the source by name (marked `~`): good enough to point at the code.
 */
const sourceLines = new Map<string, string[] | null>();
function lineByName(file: string, name: string): number | null {
  if (!/^(src|bench|test)\//.test(file) || name === '' || name.startsWith('(')) return null;
  let lines = sourceLines.get(file);
  if (lines === undefined) {
    lines = existsSync(file) ? readFileSync(file, 'utf8').split('\n') : null;
    sourceLines.set(file, lines);
  }
  if (lines === null) return null;
  const escaped = name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const definition = new RegExp(`(function\\s+${escaped}\\b|^\\s*(?:(?:private|public|protected|static|async|readonly|get|set|override)\\s+)*${escaped}\\s*[(<=:]|\\b${escaped}\\s*=\\s*(?:async\\s*)?\\()`);
  const index = lines.findIndex((line) => definition.test(line));
  return index < 0 ? null : index + 1;
}

const IDLE = new Set(['(idle)', '(program)', '(garbage collector)']);
let totalUs = 0;
let idleUs = 0;
const byFunction = new Map<string, number>();
const byFile = new Map<string, number>();
for (const [id, us] of selfUs) {
  const node = byId.get(id);
  if (node === undefined) continue;
  const { functionName, url, lineNumber } = node.callFrame;
  totalUs += us;
  if (functionName === '(idle)') {
    idleUs += us;
    continue;
  }
  const file = url === '' ? (IDLE.has(functionName) ? functionName : '(native)') : shortUrl(url);
  const byName = lineNumber === 0 ? lineByName(file, functionName) : null;
  const line = byName === null ? `:${lineNumber + 1}` : `:~${byName}`;
  const key = `${functionName || '(anonymous)'}  ${file}${url === '' ? '' : line}`;
  byFunction.set(key, (byFunction.get(key) ?? 0) + us);
  byFile.set(file, (byFile.get(file) ?? 0) + us);
}
const busyUs = totalUs - idleUs;
const print = (title: string, entries: Map<string, number>): void => {
  console.log(`\n${title}`);
  const sorted = [...entries].filter(([key]) => key.includes(filter)).sort((a, b) => b[1] - a[1]).slice(0, top);
  for (const [key, us] of sorted) console.log(`  ${((us / busyUs) * 100).toFixed(1).padStart(5)}%  ${(us / 1000).toFixed(0).padStart(7)} ms  ${key}`);
};
console.log(`${path}: ${(totalUs / 1e6).toFixed(1)} s profiled, ${(busyUs / 1e6).toFixed(2)} s busy (${((busyUs / totalUs) * 100).toFixed(1)}%)`);
print('self time by function', byFunction);
print('self time by file', byFile);
