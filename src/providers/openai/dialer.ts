/**
 * Opens OpenAI Realtime sessions for calls: one connection per call, configured for the call's agent (its
 * instructions with the call's variables filled in, voice, formats, turn detection, tools), wrapped in the port
 * adapter. OpenAI, Azure OpenAI and the simulated Realtime server differ only in the target.
 */
import type { ToolSpec } from '../../call/builtin-tools.js';
import type { Clock } from '../../clock.js';
import type { Config } from '../../config.js';
import type { Logger } from '../../logger.js';
import type { VoiceAgentSession } from '../../voice/port.js';
import { OpenAiVoiceAgent } from './agent.js';
import { openRealtimeConnection } from './connection.js';
import type { SessionTool } from './events.js';
import { buildSessionUpdate, type OpenAiSessionSettings } from './session-config.js';

/** Where and how to reach the Realtime API (OpenAI, Azure, or the embedded simulated server). */
export interface RealtimeTarget {
  url: string;
  /** The environment's model; an agent may name its own. */
  model: string;
  apiKey: string;
  authMode: 'bearer' | 'api-key';
}

/** One session's configuration, as the agent layer resolved it for a call. */
export interface OpenAiSessionRequest {
  model: string;
  settings: OpenAiSessionSettings;
  functionTools: readonly ToolSpec[];
  /** Other session tools as the API takes them (remote MCP servers). */
  otherTools?: readonly SessionTool[];
  logger: Logger;
}

export interface OpenAiDialerOptions {
  target: RealtimeTarget;
  clock: Clock;
  /** Caller audio per append, ms (config `call.appendBatchMs`). */
  appendBatchMs?: number;
}

export type OpenAiDialer = (request: OpenAiSessionRequest) => VoiceAgentSession;

/** A dialer: each call opens a new session at once (it holds caller audio until ready). */
export function createOpenAiDialer(options: OpenAiDialerOptions): OpenAiDialer {
  const { target, clock, appendBatchMs } = options;
  return ({ model, settings, functionTools, otherTools, logger }) => {
    const tools: SessionTool[] = [...functionTools.map((tool) => ({ type: 'function' as const, ...tool })), ...(otherTools ?? [])];
    const sessionUpdate = buildSessionUpdate(settings, tools.length > 0 ? tools : undefined);
    return new OpenAiVoiceAgent({
      connection: openRealtimeConnection({ url: target.url, model, apiKey: target.apiKey, authMode: target.authMode, sessionUpdate, logger, clock, ...(appendBatchMs === undefined ? {} : { appendBatchMs }) }),
      audioFormat: settings.audioFormat,
      turnDetection: settings.turnDetection,
      logger,
    });
  };
}

/** The environment's OpenAI settings as session settings (no agent file). */
export function sessionSettingsFromConfig(openai: Readonly<Config>['openai']): OpenAiSessionSettings {
  const { instructions, audioFormat, transcriptionModel, noiseReduction, turnDetection, voice } = openai;
  return { instructions, audioFormat, transcriptionModel, noiseReduction, turnDetection, voice };
}
