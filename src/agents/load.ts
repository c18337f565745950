/**
 * Loads the agent file (AGENTS_FILE): reads it (`.yaml`, `.yml` or `.json`), parses it, validates it with schema.ts and
 * returns the roster. Every problem becomes one line, `AGENTS_FILE agents[1].tools[0].url: must be an https URL`
 * (`AGENTS_FILE: …` for the file as a whole), and all lines go into ONE ConfigError joined with `\n`: the entry point
 * prints each line with its `callbridge: configuration error: ` prefix. No line ever contains a secret's value.
 * Without a file the roster is the environment's single default agent (from-config.ts).
 */
import { readFileSync } from 'node:fs';
import { dirname, extname, resolve } from 'node:path';
import { LineCounter, parseDocument } from 'yaml';
import type { z } from 'zod';
import { ConfigError, type Config } from '../config.js';
import { agentFromConfig, rosterFromConfig } from './from-config.js';
import { agentFileSchema } from './schema.js';
import type { AgentDefinition, AgentRoster } from './types.js';

export const AGENTS_FILE_EXTENSIONS: readonly string[] = ['.yaml', '.yml', '.json'];

export interface LoadAgentRosterOptions {
  /** The agent file (AGENTS_FILE); null = the environment's default agent. */
  readonly path: string | null;
  readonly config: Readonly<Config>;
  /** Where `${ENV_VAR}` references are read; defaults to `process.env`. */
  readonly env?: Readonly<Record<string, string | undefined>>;
}

/** The agents callbridge answers with. Throws one ConfigError listing every problem, one per line. */
export function loadAgentRoster(options: LoadAgentRosterOptions): AgentRoster {
  const { path, config } = options;
  if (path === null) return rosterFromConfig(config);
  const extension = extname(path).toLowerCase();
  if (!AGENTS_FILE_EXTENSIONS.includes(extension)) throw agentsFileError([`AGENTS_FILE: ${path} must end in .yaml, .yml or .json`]);
  let text: string;
  try {
    text = readFileSync(path, 'utf8').replace(/^\uFEFF/, '');
  } catch (error) {
    throw agentsFileError([`AGENTS_FILE: cannot read ${path} (${(error as NodeJS.ErrnoException).code ?? 'error'})`]);
  }
  if (text.trim() === '') throw agentsFileError([`AGENTS_FILE: ${path} is empty`]);
  const data = withoutExtensionKeys(extension === '.json' ? parseJson(text) : parseYaml(text));
  const schema = agentFileSchema({
    baseDir: dirname(resolve(path)),
    env: options.env ?? process.env,
    allowLocalHttp: config.nodeEnv !== 'production',
    defaults: agentFromConfig(config),
  });
  const result = schema.safeParse(data, { error: plainMessage });
  if (!result.success) throw agentsFileError(issueLines(result.error.issues));
  const { agents } = result.data;
  const problems = rosterProblems(agents);
  if (problems.length > 0) throw agentsFileError(problems.map((problem) => `AGENTS_FILE ${formatPath(problem.path)}: ${problem.message}`));
  return { agents, defaultAgent: agents.find((agent) => agent.isDefault) ?? null, source: 'file' };
}

/** Rules across agents (unique names, each number answered by one agent, one default) and a fallback that differs. */
function rosterProblems(agents: readonly AgentDefinition[]): { path: (string | number)[]; message: string }[] {
  const problems: { path: (string | number)[]; message: string }[] = [];
  const owners = new Map<string, number>();
  let defaultAgent: AgentDefinition | null = null;
  agents.forEach((agent, index) => {
    if (agents.findIndex((other) => other.name === agent.name) < index) {
      problems.push({ path: ['agents', index, 'name'], message: `duplicate agent name "${agent.name}"` });
    }
    agent.numbers.forEach((number, position) => {
      const owner = owners.get(number);
      if (owner === undefined) owners.set(number, index);
      else {
        const message = owner === index ? `${number} is listed twice` : `${number} is already answered by agent "${agents[owner]?.name ?? ''}"`;
        problems.push({ path: ['agents', index, 'numbers', position], message });
      }
    });
    if (agent.fallbackProvider !== null && agent.fallbackProvider === agent.provider) {
      problems.push({ path: ['agents', index, 'fallbackProvider'], message: `must differ from the agent's provider ("${agent.provider}")` });
    }
    if (agent.isDefault && defaultAgent !== null) {
      problems.push({ path: ['agents', index, 'default'], message: `only one agent may be the default (agent "${defaultAgent.name}" already is)` });
    } else if (agent.isDefault) defaultAgent = agent;
  });
  return problems;
}

/** Top-level keys starting with `x-` are the author's own (e.g. `x-common: &common`, shared through `<<: *common`). */
function withoutExtensionKeys(data: unknown): unknown {
  if (data === null || typeof data !== 'object' || Array.isArray(data)) return data;
  return Object.fromEntries(Object.entries(data).filter(([key]) => !key.startsWith('x-')));
}

function agentsFileError(lines: readonly string[]): ConfigError {
  return new ConfigError(lines.join('\n'));
}

// ---------------------------------------------------------------------------------------------------------------
// Parsing

function parseYaml(text: string): unknown {
  const lineCounter = new LineCounter();
  // `merge: true`: `<<: *common` merge keys work, so agents can share settings through an anchor.
  const document = parseDocument(text, { lineCounter, merge: true, prettyErrors: false });
  if (document.errors.length > 0) {
    throw agentsFileError(
      document.errors.map((error) => {
        const { line, col } = lineCounter.linePos(error.pos[0]);
        return `AGENTS_FILE: invalid YAML at line ${line}, column ${col}: ${error.message}`;
      }),
    );
  }
  try {
    return document.toJS({ maxAliasCount: 100 });
  } catch (error) {
    throw agentsFileError([`AGENTS_FILE: invalid YAML: ${error instanceof Error ? error.message : String(error)}`]);
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    // V8 quotes the source after `, "` (it could hold a secret): keep only the description.
    const short = message.replace(/, ".*$/s, '').replace(/( in JSON)? at position \d+.*$/s, '');
    const position = /at position (\d+)/.exec(message);
    if (position === null) throw agentsFileError([`AGENTS_FILE: invalid JSON: ${short}`]);
    const before = text.slice(0, Number(position[1])).split('\n');
    throw agentsFileError([`AGENTS_FILE: invalid JSON at line ${before.length}, column ${(before.at(-1)?.length ?? 0) + 1}: ${short}`]);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Messages and lines

const TYPE_WORDS: Record<string, string> = {
  string: 'must be text',
  number: 'must be a number',
  int: 'must be a whole number',
  boolean: 'must be true or false',
  object: 'must be an object',
  record: 'must be an object',
  array: 'must be a list',
};

/** Plain messages for zod's issues; checks that carry their own message (schema.ts) keep it. */
export const plainMessage: z.core.$ZodErrorMap = (issue) => {
  switch (issue.code) {
    case 'invalid_type':
      return issue.input === undefined ? 'is required' : (TYPE_WORDS[issue.expected] ?? `must be ${issue.expected}`);
    case 'invalid_value':
      if (issue.input === undefined) return 'is required';
      return issue.values.length === 1 ? `must be ${String(issue.values[0])}` : `must be one of ${issue.values.join(', ')}`;
    case 'unrecognized_keys':
      return unknownKeyMessages(issue.keys, knownKeys(issue.inst));
    case 'too_small':
      return issue.origin === 'array' ? `must list at least ${String(issue.minimum)}` : issue.origin === 'string' ? 'must not be empty' : `must be at least ${String(issue.minimum)}`;
    case 'too_big':
      return `must be at most ${String(issue.maximum)}`;
    default:
      return 'is not valid';
  }
};

function knownKeys(inst: unknown): string[] {
  const shape = (inst as { _zod?: { def?: { shape?: unknown } } } | undefined)?._zod?.def?.shape;
  return shape !== null && typeof shape === 'object' ? Object.keys(shape) : [];
}

/** One message per unknown key, in the order of `keys`, joined with `\n` (issueLines gives each key its own line). */
function unknownKeyMessages(keys: readonly string[], known: readonly string[]): string {
  return keys
    .map((key) => {
      const hint = closestKey(key, known);
      return hint === null ? 'unknown key' : `unknown key (did you mean ${hint}?)`;
    })
    .join('\n');
}

/** The known key a typo most likely meant: same letters ignoring case, `_` and `-`, or at most two edits away. */
function closestKey(key: string, known: readonly string[]): string | null {
  const flat = (text: string): string => text.toLowerCase().replace(/[_-]/g, '');
  let best: { key: string; distance: number } | null = null;
  for (const candidate of known) {
    const distance = flat(candidate) === flat(key) ? 0 : editDistance(key.toLowerCase(), candidate.toLowerCase());
    if (distance <= 2 && (best === null || distance < best.distance)) best = { key: candidate, distance };
  }
  return best?.key ?? null;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, index) => index);
  for (let i = 1; i <= a.length; i += 1) {
    const current = [i];
    for (let j = 1; j <= b.length; j += 1) {
      current[j] = Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}

type Issue = z.core.$ZodIssue;

/**
 * A union that failed (a tool entry, a greeting) reports the issues of the one alternative the author evidently meant
 * (the only one whose value had the right type), else its own message.
 */
function flattenUnion(issue: Issue): Issue[] {
  if (issue.code !== 'invalid_union') return [issue];
  const wrongType = (inner: Issue): boolean => inner.path.length === 0 && (inner.code === 'invalid_type' || inner.code === 'invalid_value');
  const meant = issue.errors.filter((errors) => errors.length > 0 && !errors.some(wrongType));
  if (meant.length !== 1 || meant[0] === undefined) return [issue];
  return meant[0].flatMap((inner) => flattenUnion({ ...inner, path: [...issue.path, ...inner.path] }));
}

function formatPath(path: readonly PropertyKey[]): string {
  return path
    .map((key, index) => {
      if (typeof key === 'number') return `[${key}]`;
      const name = String(key);
      return /^[A-Za-z_][\w-]*$/.test(name) ? `${index === 0 ? '' : '.'}${name}` : `[${JSON.stringify(name)}]`;
    })
    .join('');
}

/** `AGENTS_FILE path: message` lines, one per problem (one per unknown key), grouped by agent in file order. */
export function issueLines(issues: readonly Issue[]): string[] {
  const lines: { agent: number; text: string }[] = [];
  const add = (path: readonly PropertyKey[], message: string): void => {
    const agent = path[0] === 'agents' && typeof path[1] === 'number' ? path[1] : -1;
    lines.push({ agent, text: path.length === 0 ? `AGENTS_FILE: ${message}` : `AGENTS_FILE ${formatPath(path)}: ${message}` });
  };
  for (const issue of issues.flatMap(flattenUnion)) {
    if (issue.code === 'unrecognized_keys') {
      const messages = issue.message.split('\n');
      issue.keys.forEach((key, index) => add([...issue.path, key], messages[index] ?? 'unknown key'));
    } else {
      add(issue.path, issue.message);
    }
  }
  const sorted = lines.sort((a, b) => a.agent - b.agent).map((line) => line.text);
  return [...new Set(sorted)];
}
