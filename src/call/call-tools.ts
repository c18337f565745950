/**
 * Runs the tools of one `tool_calls` request for a call: every call at once, each published to the observers with
 * its duration and outcome, and the hold sound started when they take longer than the agent's `holdSoundAfterMs`
 * (the call stops it when the agent speaks again or the caller talks).
 */
import type { Clock, TimerHandle } from '../clock.js';
import type { Logger } from '../logger.js';
import type { ToolCallRequest, ToolCallResult, VoiceAgentSession } from '../voice/port.js';
import { builtinTools, type CallControlSettings, type EndStream } from './builtin-tools.js';
import type { CallEvent } from './call-events.js';
import type { CallOptions } from './call-options.js';
import { runTool, type ToolContext, type ToolDefinition } from './tools.js';

export interface CallToolRunnerOptions {
  clock: Clock;
  /** The agent's own tools (HTTP tools, tools given in code). */
  tools: readonly ToolDefinition[];
  /** The built-in call-control tools the agent may use; they end the stream through `endStream`. */
  builtins?: CallControlSettings;
  endStream: EndStream;
  context: ToolContext;
  /** A request still running after this long starts the hold sound; null = never. */
  holdSoundAfterMs: number | null;
  startHold: () => unknown;
  publish: (event: CallEvent) => void;
}

export interface NamedToolResult extends ToolCallResult {
  readonly name: string;
}

export class CallToolRunner {
  private readonly tools: readonly ToolDefinition[];

  /** The runner of one call: its tools, built-ins and context from the call's options. */
  static forCall(options: CallOptions, hooks: Pick<CallToolRunnerOptions, 'endStream' | 'startHold' | 'publish'>): CallToolRunner {
    const { start } = options.channel;
    return new CallToolRunner({
      clock: options.clock,
      tools: options.tools ?? [],
      ...(options.control === undefined ? {} : { builtins: options.control }),
      context: { callSid: start.callSid, streamSid: start.streamSid, ...options.numbers },
      holdSoundAfterMs: options.holdSoundAfterMs ?? null,
      ...hooks,
    });
  }

  private requestsRunning = 0;

  constructor(private readonly options: CallToolRunnerOptions) {
    const { builtins } = options;
    this.tools = [...(builtins === undefined ? [] : builtinTools(builtins, options.endStream)), ...options.tools];
  }

  /** Tool requests still running: the agent is busy (silence does not count, the hold sound may play). */
  get running(): number {
    return this.requestsRunning;
  }

  /**
   * Runs one request's tools and gives `agent` every output at once (one follow-up response), unless by then the
   * call ended or moved to another session (`stillCurrent`): a lost session's calls are answered to nobody.
   */
  async answer(agent: VoiceAgentSession, calls: readonly ToolCallRequest[], stillCurrent: () => boolean, logger: Logger): Promise<void> {
    this.requestsRunning++;
    const results = await this.run(calls).finally(() => this.requestsRunning--);
    if (!stillCurrent()) return;
    for (const result of results) logger.info({ tool: result.name, callId: result.callId, ok: result.ok }, 'function call answered');
    agent.sendToolResults(results.map(({ callId, output, ok }) => ({ callId, output, ok })));
  }

  async run(calls: readonly ToolCallRequest[]): Promise<NamedToolResult[]> {
    const { clock, holdSoundAfterMs } = this.options;
    let holdTimer: TimerHandle | null = holdSoundAfterMs === null ? null : clock.setTimeout(() => this.options.startHold(), holdSoundAfterMs);
    try {
      return await Promise.all(calls.map((call) => this.runOne(call)));
    } finally {
      if (holdTimer !== null) clock.clearTimeout(holdTimer);
      holdTimer = null;
    }
  }

  private async runOne(call: ToolCallRequest): Promise<NamedToolResult> {
    const { clock } = this.options;
    const startedAtMs = clock.now();
    const result = await runTool(this.tools, call.name, call.argumentsJson, this.options.context);
    const durationMs = Math.round(clock.now() - startedAtMs);
    // Arguments and output go to observers as they are; the records redact secrets before anything is stored.
    this.options.publish({ type: 'tool_call', atMs: clock.now(), name: call.name, callId: call.callId, ok: result.ok, durationMs, argumentsJson: call.argumentsJson, output: result.output });
    return { callId: call.callId, name: call.name, ...result };
  }
}
