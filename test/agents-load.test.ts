import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { agentFromConfig, rosterFromConfig } from '../src/agents/from-config.js';
import { loadAgentRoster } from '../src/agents/load.js';
import type { AgentDefinition } from '../src/agents/types.js';
import { ConfigError, DEFAULT_GREETING, loadConfig } from '../src/config.js';
import { EXAMPLE_ENV, EXAMPLE_RECEPTION, EXAMPLE_SUPPORT, SERVER_VAD } from './fixtures/agents/example-roster.js';

const EXAMPLE = fileURLToPath(new URL('../agents.example.yaml', import.meta.url));
const config = loadConfig({});

const dir = mkdtempSync(join(tmpdir(), 'callbridge-agents-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let fileCount = 0;

/** Writes `text` to a fresh file in the temp dir (prompts/ holds instruction files) and returns its path. */
function write(text: string, extension = '.yaml'): string {
  fileCount += 1;
  const path = join(dir, `agents-${fileCount}${extension}`);
  writeFileSync(path, text);
  return path;
}
mkdirSync(join(dir, 'prompts'));
writeFileSync(join(dir, 'prompts', 'desk.md'), '\n  You answer the front desk for {{custom.site}}.  \n\n');
writeFileSync(join(dir, 'prompts', 'empty.md'), ' \n\n');

function errorLines(run: () => unknown): string[] {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message.split('\n');
  }
  throw new Error('expected a ConfigError');
}

/** Everything an agent from the file gets when it sets only name and instructions (the config's defaults). */
function minimalAgent(overrides: Partial<AgentDefinition>): AgentDefinition {
  return {
    name: 'desk',
    numbers: [],
    isDefault: false,
    provider: 'openai',
    fallbackProvider: null,
    elevenLabsAgentId: null,
    model: 'gpt-realtime',
    voice: 'marin',
    audioFormat: 'pcm',
    instructions: 'Be helpful.',
    greeting: DEFAULT_GREETING,
    turnDetection: SERVER_VAD,
    language: null,
    transcriptionModel: 'gpt-4o-mini-transcribe', // records turn transcription on by default
    builtinTools: [],
    httpTools: [],
    mcpServers: [],
    transferDestinations: [],
    transferCallerId: null,
    transferTimeoutS: 30,
    toolSigningSecret: null,
    limits: { maxCallDurationS: null, silenceCheckInS: null },
    recording: false,
    outbound: { allowedPrefixes: [], answeringMachine: 'hang_up', voicemailMessage: null },
    holdSoundAfterMs: 1_500,
    ...overrides,
  };
}

describe('loadAgentRoster: the example file', () => {
  it('loads to the exact roster when its environment variables are set', () => {
    const roster = loadAgentRoster({ path: EXAMPLE, config, env: EXAMPLE_ENV });
    expect(roster.agents).toEqual([EXAMPLE_RECEPTION, EXAMPLE_SUPPORT]);
    expect(roster.defaultAgent).toBe(roster.agents[0]);
    expect(roster.source).toBe('file');
  });

  it('names each unset variable, never a value', () => {
    expect(errorLines(() => loadAgentRoster({ path: EXAMPLE, config, env: { SUPPORT_TOOL_SECRET: '' } }))).toEqual([
      'AGENTS_FILE agents[1].tools[1].headers.Authorization: environment variable ORDERS_API_TOKEN is not set',
      'AGENTS_FILE agents[1].toolSigningSecret: environment variable SUPPORT_TOOL_SECRET is not set',
    ]);
  });
});

describe('loadAgentRoster: valid files', () => {
  it('without a file returns the environment roster', () => {
    const roster = loadAgentRoster({ path: null, config });
    expect(roster).toEqual(rosterFromConfig(config));
    expect(roster.agents).toEqual([agentFromConfig(config)]);
    expect(roster.source).toBe('environment');
  });

  it('takes what an agent leaves out from the config, and reads instructionsFile relative to the file', () => {
    const env = loadConfig({ OPENAI_VOICE: 'ash', OPENAI_REALTIME_MODEL: 'gpt-realtime-mini', OPENAI_AUDIO_FORMAT: 'pcmu', AGENT_GREETING: '', TURN_DETECTION: 'none', INPUT_TRANSCRIPTION_MODEL: 'whisper-1' });
    const path = write('agents:\n  - name: desk\n    instructionsFile: prompts/desk.md\n');
    expect(loadAgentRoster({ path, config: env, env: {} })).toEqual({
      agents: [
        minimalAgent({ model: 'gpt-realtime-mini', voice: 'ash', audioFormat: 'pcmu', instructions: 'You answer the front desk for {{custom.site}}.', greeting: null, turnDetection: { type: 'none' }, transcriptionModel: 'whisper-1' }),
      ],
      defaultAgent: null,
      source: 'file',
    });
  });

  it('lets agents share settings through a YAML anchor and merge key (top-level x- keys are ignored)', () => {
    const common = "common: &common\n  voice: ash\n  tools: [end_call]\nagents:\n  - <<: *common\n    name: desk\n    instructions: Be helpful.\n";
    expect(errorLines(() => loadAgentRoster({ path: write(common), config }))).toEqual(['AGENTS_FILE common: unknown key']);
    expect(loadAgentRoster({ path: write(`x-${common}`), config }).agents).toEqual([minimalAgent({ voice: 'ash', builtinTools: ['end_call'] })]);
    const shared = write("agents:\n  - &desk\n    name: desk\n    voice: ash\n    instructions: Be helpful.\n  - <<: *desk\n    name: sales\n    numbers: ['+14155550100']\n");
    expect(loadAgentRoster({ path: shared, config }).agents).toEqual([minimalAgent({ voice: 'ash' }), minimalAgent({ name: 'sales', numbers: ['+14155550100'], voice: 'ash' })]);
  });

  it('reads JSON the same way, with greeting false, MCP servers, local http outside production and literal headers', () => {
    const path = write(
      JSON.stringify({
        agents: [
          {
            name: 'desk',
            numbers: ['+14155550100', '+442071838750'],
            default: true,
            instructions: '  Be helpful.  ',
            greeting: false,
            language: 'de-DE',
            transcriptionModel: 'gpt-4o-mini-transcribe', // records turn transcription on by default
            turnDetection: { threshold: 0.7, idleTimeoutMs: 6000, createResponse: false },
            tools: [{ type: 'http', name: 'hours', description: 'Opening hours.', url: 'http://127.0.0.1:9000/hours', method: 'GET', headers: { 'X-Site': 'north' } }],
            mcpServers: [{ label: 'crm', url: 'https://mcp.example.com/sse', allowedTools: ['find_customer'], headers: { Authorization: 'Bearer ${CRM_TOKEN}' }, requireApproval: 'always' }],
            limits: { silenceCheckInS: 15 },
            holdSoundAfterMs: 0,
          },
        ],
      }),
      '.json',
    );
    const roster = loadAgentRoster({ path, config, env: { CRM_TOKEN: 'crm-secret' } });
    const expected = minimalAgent({
      numbers: ['+14155550100', '+442071838750'],
      isDefault: true,
      greeting: null,
      language: 'de-DE',
      turnDetection: { ...SERVER_VAD, threshold: 0.7, idleTimeoutMs: 6_000, createResponse: false },
      httpTools: [
        { kind: 'http', name: 'hours', description: 'Opening hours.', parameters: { type: 'object', properties: {} }, url: 'http://127.0.0.1:9000/hours', method: 'GET', headers: { 'X-Site': { value: 'north', secret: false } }, timeoutMs: 5_000, maxResponseBytes: 65_536 },
      ],
      mcpServers: [{ label: 'crm', url: 'https://mcp.example.com/sse', allowedTools: ['find_customer'], headers: { Authorization: { value: 'Bearer crm-secret', secret: true } }, requireApproval: 'always' }],
      limits: { maxCallDurationS: null, silenceCheckInS: 15 },
      holdSoundAfterMs: 0,
    });
    expect(roster).toEqual({ agents: [expected], defaultAgent: expected, source: 'file' });
  });
});

const desk = (extra = '') => `  - name: desk\n    instructions: Be helpful.\n${extra}`;
const file = (...agents: string[]) => `agents:\n${agents.join('')}`;
const httpTool = (fields: string) => `    tools:\n      - type: http\n        description: A tool.\n${fields}`;

interface BadCase {
  readonly name: string;
  readonly text: string;
  readonly lines: readonly string[];
  readonly extension?: string;
  readonly env?: Record<string, string>;
  readonly production?: boolean;
}

const BAD_FILES: readonly BadCase[] = [
  { name: 'missing name', text: file('  - numbers: [\'+14155550100\']\n    instructions: Hi.\n'), lines: ['AGENTS_FILE agents[0].name: is required'] },
  { name: 'bad agent name', text: file('  - name: Front Desk\n    instructions: Hi.\n'), lines: ['AGENTS_FILE agents[0].name: must be 1 to 64 lowercase letters, digits, _ or -'] },
  { name: 'duplicate names', text: file(desk(), desk()), lines: ['AGENTS_FILE agents[1].name: duplicate agent name "desk"'] },
  {
    name: 'bad E.164 numbers (and an unquoted one)',
    text: file(desk("    numbers: ['4155550100', +14155550101]\n")),
    lines: ['AGENTS_FILE agents[0].numbers[0]: must be an E.164 number like +14155550100', "AGENTS_FILE agents[0].numbers[1]: must be quoted, like '+14155550100' (YAML reads an unquoted +… as a number)"],
  },
  {
    name: 'two defaults',
    text: file(desk('    default: true\n'), '  - name: sales\n    default: true\n    instructions: Sell.\n'),
    lines: ['AGENTS_FILE agents[1].default: only one agent may be the default (agent "desk" already is)'],
  },
  {
    name: 'a number claimed twice',
    text: file(desk("    numbers: ['+14155550100', '+14155550100']\n"), "  - name: sales\n    numbers: ['+14155550100']\n    instructions: Sell.\n"),
    lines: ['AGENTS_FILE agents[0].numbers[1]: +14155550100 is listed twice', 'AGENTS_FILE agents[1].numbers[0]: +14155550100 is already answered by agent "desk"'],
  },
  { name: 'instructions and instructionsFile', text: file(desk('    instructionsFile: prompts/desk.md\n')), lines: ['AGENTS_FILE agents[0].instructionsFile: cannot be combined with instructions (give one of them)'] },
  { name: 'neither instructions nor instructionsFile', text: file('  - name: desk\n'), lines: ['AGENTS_FILE agents[0].instructions: is required (or instructionsFile)'] },
  {
    name: 'instructionsFile missing or empty',
    text: file('  - name: desk\n    instructionsFile: prompts/missing.md\n', '  - name: sales\n    instructionsFile: prompts/empty.md\n'),
    lines: ['AGENTS_FILE agents[0].instructionsFile: cannot read prompts/missing.md (ENOENT)', 'AGENTS_FILE agents[1].instructionsFile: prompts/empty.md is empty'],
  },
  {
    name: 'unknown keys (typos)',
    text: 'agent:\n' + desk('    greting: Hello.\n    audio_format: pcmu\n    limits:\n      maxCallDuration: 60\n'),
    lines: ['AGENTS_FILE agents: is required', 'AGENTS_FILE agent: unknown key (did you mean agents?)'],
  },
  {
    name: 'unknown keys in an agent',
    text: file(desk('    greting: Hello.\n    audio_format: pcmu\n    limits:\n      maxCallDuration: 60\n    colour: blue\n')),
    lines: [
      'AGENTS_FILE agents[0].limits.maxCallDuration: unknown key (did you mean maxCallDurationS?)',
      'AGENTS_FILE agents[0].greting: unknown key (did you mean greeting?)',
      'AGENTS_FILE agents[0].audio_format: unknown key (did you mean audioFormat?)',
      'AGENTS_FILE agents[0].colour: unknown key',
    ],
  },
  {
    name: 'wrong types and ranges',
    text: file(desk('    voice: robot\n    default: yes\n    holdSoundAfterMs: 60000\n    greeting: true\n    turnDetection:\n      eagerness: high\n      threshold: 2\n')),
    lines: [
      'AGENTS_FILE agents[0].default: must be true or false',
      'AGENTS_FILE agents[0].voice: must be one of alloy, ash, ballad, coral, echo, sage, shimmer, verse, marin, cedar',
      'AGENTS_FILE agents[0].greeting: must be text, or null or false (the caller speaks first)',
      'AGENTS_FILE agents[0].turnDetection.threshold: must be a number from 0 to 1',
      'AGENTS_FILE agents[0].holdSoundAfterMs: must be a whole number from 0 to 30000',
    ],
  },
  { name: 'a knob of another turn detection type', text: file(desk('    turnDetection:\n      eagerness: high\n')), lines: ['AGENTS_FILE agents[0].turnDetection.eagerness: applies only to type: semantic_vad'] },
  { name: 'http tool url not https', text: file(desk(httpTool('        name: lookup\n        url: http://orders.example.com/lookup\n'))), lines: ['AGENTS_FILE agents[0].tools[0].url: must be an https URL'] },
  {
    name: 'local http tool url in production',
    text: file(desk(httpTool('        name: lookup\n        url: http://localhost:9000/lookup\n'))),
    production: true,
    lines: ['AGENTS_FILE agents[0].tools[0].url: must be an https URL (http://localhost is allowed only when NODE_ENV is not production)'],
  },
  { name: 'tool name clash with a built-in', text: file(desk(httpTool('        name: end_call\n        url: https://x.example.com/\n'))), lines: ['AGENTS_FILE agents[0].tools[0].name: end_call is the name of a built-in tool'] },
  {
    name: 'http tool problems, an unknown built-in and a duplicate',
    text: file(desk(httpTool("        name: look up\n        url: https://x.example.com/\n        timeoutMs: 50\n        parameters: { type: array }\n      - hangup\n      - end_call\n      - end_call\n"))),
    lines: [
      'AGENTS_FILE agents[0].tools[0].name: must be 1 to 64 letters, digits, _ or -',
      'AGENTS_FILE agents[0].tools[0].parameters.type: must be object (parameters is the JSON Schema of the arguments object)',
      'AGENTS_FILE agents[0].tools[0].timeoutMs: must be a whole number from 100 to 60000',
      'AGENTS_FILE agents[0].tools[1]: unknown built-in tool "hangup" (end_call or transfer_call; an HTTP tool is an object with type: http)',
    ],
  },
  {
    name: 'an HTTP tool without type, a schema Ajv cannot compile, entries of the wrong type',
    text: file(desk(httpTool("        name: lookup\n        url: https://x.example.com/\n        parameters: { type: object, required: yes }\n      - { name: other }\n      - 42\n"))),
    lines: [
      'AGENTS_FILE agents[0].tools[0].parameters: is not a valid JSON Schema (schema is invalid: data/required must be array)',
      'AGENTS_FILE agents[0].tools[1].type: is required',
      'AGENTS_FILE agents[0].tools[1].description: is required',
      'AGENTS_FILE agents[0].tools[1].url: is required',
      'AGENTS_FILE agents[0].tools[2]: must be a built-in tool name or an HTTP tool object',
    ],
  },
  { name: 'a built-in listed twice', text: file(desk('    tools: [end_call, end_call]\n')), lines: ['AGENTS_FILE agents[0].tools[1]: end_call is listed twice'] },
  {
    name: '${MISSING_ENV} in a header',
    text: file(desk(httpTool("        name: lookup\n        url: https://x.example.com/\n        headers:\n          X-Api-Key: '${MISSING_ENV}'\n          X-Other: '${BROKEN'\n"))),
    lines: ['AGENTS_FILE agents[0].tools[0].headers.X-Api-Key: environment variable MISSING_ENV is not set', 'AGENTS_FILE agents[0].tools[0].headers.X-Other: has a malformed ${…} reference (write ${NAME}: letters, digits and _)'],
  },
  {
    name: 'a secret with a line break (never echoed)',
    text: file(desk(httpTool("        name: lookup\n        url: https://x.example.com/\n        headers:\n          Authorization: 'Bearer ${TOKEN}'\n"))),
    env: { TOKEN: 'sk-live-abc\nInjected: 1' },
    lines: ['AGENTS_FILE agents[0].tools[0].headers.Authorization: contains a line break or control character (check the environment variable)'],
  },
  { name: 'transfer_call without destinations', text: file(desk('    tools: [end_call, transfer_call]\n')), lines: ['AGENTS_FILE agents[0].tools[1]: transfer_call needs transfer.destinations'] },
  {
    name: 'destinations without transfer_call',
    text: file(desk("    transfer:\n      destinations:\n        - { name: billing, target: '+14155550123', description: Billing. }\n")),
    lines: ['AGENTS_FILE agents[0].transfer: needs transfer_call in tools'],
  },
  {
    name: 'bad transfer destinations',
    text: file(desk("    tools: [transfer_call]\n    transfer:\n      timeoutS: 2\n      destinations:\n        - { name: billing, target: 'tel:123', description: Billing. }\n        - { name: billing, target: 'sip:desk@pbx.example.com' }\n")),
    lines: [
      'AGENTS_FILE agents[0].transfer.destinations[0].target: must be an E.164 number like +14155550100 or a sip:user@host URI',
      'AGENTS_FILE agents[0].transfer.destinations[1].description: is required',
      'AGENTS_FILE agents[0].transfer.timeoutS: must be a whole number from 5 to 600',
    ],
  },
  {
    name: 'mcp server problems',
    text: file(desk("    mcpServers:\n      - { label: crm, url: 'https://user:pw@mcp.example.com/', requireApproval: sometimes }\n")),
    lines: ['AGENTS_FILE agents[0].mcpServers[0].url: must not contain a user name or password (put credentials in headers, from ${ENV_VAR})', 'AGENTS_FILE agents[0].mcpServers[0].requireApproval: must be one of never, always'],
  },
  { name: 'no agents', text: 'agents: []\n', lines: ['AGENTS_FILE agents: must list at least one agent'] },
  { name: 'not an object', text: '- name: desk\n', lines: ['AGENTS_FILE: must be an object with an agents list'] },
  { name: 'invalid YAML (": " in plain text)', text: 'agents:\n  - name: desk\n    instructions: Note: be brief.\n', lines: ['AGENTS_FILE: invalid YAML at line 3, column 19: Nested mappings are not allowed in compact mappings'] },
  { name: 'invalid YAML (a tab)', text: 'agents:\n  - name: desk\n\tinstructions: Hi.\n', lines: ['AGENTS_FILE: invalid YAML at line 3, column 1: Tabs are not allowed as indentation'] },
  { name: 'duplicate YAML keys', text: file(desk('    name: other\n')), lines: ['AGENTS_FILE: invalid YAML at line 4, column 5: Map keys must be unique'] },
  { name: 'invalid JSON', text: '{\n  "agents": [\n    { "name": "desk" }\n  ]\n', extension: '.json', lines: ['AGENTS_FILE: invalid JSON at line 5, column 1: Expected \',\' or \'}\' after property value'] },
];

describe('loadAgentRoster: bad files report every problem, one exact line each', () => {
  it.each(BAD_FILES)('$name', ({ text, lines, extension, env, production }) => {
    const path = write(text, extension);
    const useConfig = production === true ? loadConfig({ NODE_ENV: 'production', OPENAI_API_KEY: 'sk-x', TWILIO_AUTH_TOKEN: 't', PUBLIC_BASE_URL: 'https://voice.example.com' }) : config;
    expect(errorLines(() => loadAgentRoster({ path, config: useConfig, env: env ?? {} }))).toEqual(lines);
  });

  it('an unsupported extension, a missing file and an empty file are one line each', () => {
    const toml = write('agents = []\n', '.toml');
    expect(errorLines(() => loadAgentRoster({ path: toml, config }))).toEqual([`AGENTS_FILE: ${toml} must end in .yaml, .yml or .json`]);
    const missing = join(dir, 'nope.yaml');
    expect(errorLines(() => loadAgentRoster({ path: missing, config }))).toEqual([`AGENTS_FILE: cannot read ${missing} (ENOENT)`]);
    const empty = write('\n');
    expect(errorLines(() => loadAgentRoster({ path: empty, config }))).toEqual([`AGENTS_FILE: ${empty} is empty`]);
  });

  it('never puts a resolved secret in a message', () => {
    const path = write(file(desk(httpTool("        name: lookup\n        url: ftp://x.example.com/\n        headers:\n          Authorization: 'Bearer ${TOKEN}'\n    toolSigningSecret: '${SECRET}'\n    voice: nope\n"))));
    let message = '';
    try {
      loadAgentRoster({ path, config, env: { TOKEN: 'sk-live-abcdef', SECRET: 'whsec-123456' } });
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toContain('AGENTS_FILE agents[0].tools[0].url: must be an https URL');
    expect(message).not.toContain('sk-live-abcdef');
    expect(message).not.toContain('whsec-123456');
  });
});
