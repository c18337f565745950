/**
 * Opens OpenAI Realtime sessions for calls: one configured `session.update` built once, one connection per call,
 * wrapped in the port adapter. OpenAI, Azure OpenAI and the simulated Realtime server differ only in the target.
 */
import type { Clock } from '../../clock.js';
import type { Config } from '../../config.js';
import type { Logger } from '../../logger.js';
import type { ToolDefinition } from '../../call/tools.js';
import type { VoiceAgentSession } from '../../voice/port.js';
import { OpenAiVoiceAgent, functionToolsFor } from './agent.js';
import { openRealtimeConnection } from './connection.js';
import { buildSessionUpdate } from './session-config.js';

/** Where and how to reach the Realtime API (OpenAI, Azure, or the embedded simulated server). */
export interface RealtimeTarget {
  url: string;
  model: string;
  apiKey: string;
  authMode: 'bearer' | 'api-key';
}

export interface OpenAiDialerOptions {
  target: RealtimeTarget;
  openai: Readonly<Config>['openai'];
  tools: readonly ToolDefinition[];
  clock: Clock;
}

/** A dialer: each call opens a new session at once (it holds caller audio until ready). */
export function createOpenAiDialer(options: OpenAiDialerOptions): (logger: Logger) => VoiceAgentSession {
  const { target, openai, clock } = options;
  const sessionUpdate = buildSessionUpdate(openai, options.tools.length > 0 ? functionToolsFor(options.tools) : undefined);
  return (logger) =>
    new OpenAiVoiceAgent({
      connection: openRealtimeConnection({ url: target.url, model: target.model, apiKey: target.apiKey, authMode: target.authMode, sessionUpdate, logger, clock }),
      audioFormat: openai.audioFormat,
      turnDetection: openai.turnDetection,
      logger,
    });
}
