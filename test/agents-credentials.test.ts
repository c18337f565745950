import { describe, expect, it } from 'vitest';
import { checkProviderCredentials, providersUsed } from '../src/agents/credentials.js';
import { agentFromConfig } from '../src/agents/from-config.js';
import type { AgentRoster } from '../src/agents/types.js';
import { ConfigError, loadConfig } from '../src/config.js';

const PRODUCTION = { NODE_ENV: 'production', TWILIO_AUTH_TOKEN: 'tok-0123456789', PUBLIC_BASE_URL: 'https://voice.example.com', OPENAI_API_KEY: 'sk-test-0123' };

function roster(config: ReturnType<typeof loadConfig>, overrides: Array<Partial<ReturnType<typeof agentFromConfig>>>): AgentRoster {
  const agents = overrides.map((override, index) => ({ ...agentFromConfig(config), name: `a${index}`, ...override }));
  return { agents, defaultAgent: agents[0] ?? null, source: 'file' };
}

describe('provider credentials in production', () => {
  it('refuses, one line per agent, a provider with no credentials; nothing is checked outside production', () => {
    const config = loadConfig(PRODUCTION);
    const agents = roster(config, [{ provider: 'openai' }, { provider: 'elevenlabs' }, { provider: 'openai', fallbackProvider: 'elevenlabs', elevenLabsAgentId: 'agent_x' }]);
    expect(() => checkProviderCredentials(config, agents)).toThrow(
      new ConfigError(
        [
          'AGENTS_FILE agents[1]: uses elevenlabs, which needs an ElevenLabs agent id (ELEVENLABS_AGENT_ID or elevenLabsAgentId)',
          'AGENTS_FILE agents[1]: uses elevenlabs, which needs ELEVENLABS_API_KEY when NODE_ENV=production (or ELEVENLABS_AGENT_PUBLIC=true)',
          'AGENTS_FILE agents[2]: uses elevenlabs, which needs ELEVENLABS_API_KEY when NODE_ENV=production (or ELEVENLABS_AGENT_PUBLIC=true)',
        ].join('\n'),
      ),
    );
    expect(providersUsed(agents)).toEqual(new Set(['openai', 'elevenlabs']));
    const development = loadConfig({ NODE_ENV: 'development' });
    expect(() => checkProviderCredentials(development, roster(development, [{ provider: 'elevenlabs' }]))).not.toThrow();
  });

  it('accepts a public ElevenLabs agent without a key, and an ElevenLabs-only setup without an OpenAI key', () => {
    const config = loadConfig({ ...PRODUCTION, OPENAI_API_KEY: '', VOICE_PROVIDER: 'elevenlabs', ELEVENLABS_AGENT_ID: 'agent_1', ELEVENLABS_AGENT_PUBLIC: 'true' });
    expect(() => checkProviderCredentials(config, roster(config, [{}]))).not.toThrow();
    expect(() => checkProviderCredentials(config, roster(config, [{ provider: 'openai', fallbackProvider: null }]))).toThrow(
      new ConfigError('AGENTS_FILE agents[0]: uses openai, which needs OPENAI_API_KEY when NODE_ENV=production'),
    );
  });
});

describe('agent file: the fallback provider', () => {
  it('must differ from the provider (the file names the agent)', async () => {
    const { mkdtempSync, writeFileSync } = await import('node:fs');
    const { join } = await import('node:path');
    const { tmpdir } = await import('node:os');
    const { loadAgentRoster } = await import('../src/agents/load.js');
    const dir = mkdtempSync(join(tmpdir(), 'cb-agents-'));
    const path = join(dir, 'agents.yaml');
    writeFileSync(path, 'agents:\n  - name: desk\n    default: true\n    instructions: Help.\n    provider: openai\n    fallbackProvider: openai\n');
    expect(() => loadAgentRoster({ path, config: loadConfig({ NODE_ENV: 'test' }), env: {} })).toThrow(
      new ConfigError('AGENTS_FILE agents[0].fallbackProvider: must differ from the agent\'s provider ("openai")'),
    );
  });
});
