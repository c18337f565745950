/**
 * A scripted voice-agent session for driving `Call` through the provider-neutral port (src/voice/port.ts) without any
 * provider's wire format: it records every command the call gives it, in order, and lets the test emit port events.
 *
 * It keeps the one delivery rule of the port a fake must keep for the call to be testable (events emitted before
 * `listen()` are held and delivered, in order, when it is called) and nothing else: in particular it lets a test emit
 * events after a `fault` or a `close()`, so the call's own guards (events of a replaced session are ignored) are
 * what is tested, not the fake's good manners.
 */
import type {
  HeardItem,
  ResponseRequest,
  ToolCallResult,
  VoiceAgentEvent,
  VoiceAgentFormats,
  VoiceAgentSession,
  VoiceAgentStats,
  ConversationTurn,
} from '../../src/voice/port.js';

export type FakeAgentCommand =
  | { readonly kind: 'listen' }
  | { readonly kind: 'appendAudio'; readonly audio: Uint8Array }
  | { readonly kind: 'interrupt'; readonly heard: HeardItem[] }
  | { readonly kind: 'sendUserText'; readonly text: string }
  | { readonly kind: 'requestResponse'; readonly request: ResponseRequest }
  | { readonly kind: 'sendToolResults'; readonly results: ToolCallResult[] }
  | { readonly kind: 'endCallerTurn' }
  | { readonly kind: 'updateInstructions'; readonly instructions: string }
  | { readonly kind: 'seedConversation'; readonly turns: ConversationTurn[] }
  | { readonly kind: 'close' };

export type FakeAgentCommandKind = FakeAgentCommand['kind'];

export const PCMU_8K: VoiceAgentFormats = {
  input: { encoding: 'pcmu', sampleRateHz: 8_000 },
  output: { encoding: 'pcmu', sampleRateHz: 8_000 },
};

export function pcm16Formats(sampleRateHz: number): VoiceAgentFormats {
  return { input: { encoding: 'pcm16', sampleRateHz }, output: { encoding: 'pcm16', sampleRateHz } };
}

export interface FakeVoiceAgentOptions {
  formats?: VoiceAgentFormats;
  manualTurns?: boolean;
  /** A name to tell sessions apart in failure messages (`first`, `redial-1`, …). */
  name?: string;
}

export class FakeVoiceAgent implements VoiceAgentSession {
  readonly provider = 'fake';
  readonly formats: VoiceAgentFormats;
  readonly manualTurns: boolean;
  readonly name: string;
  state: VoiceAgentSession['state'] = 'connecting';
  /** Every command received, in order (audio copied as it was at the call). */
  readonly commands: FakeAgentCommand[] = [];
  /** What `stats()` reports; a test sets it to what its scripted provider would have counted. */
  reportedStats: VoiceAgentStats = { lateAudioDropped: 0, truncates: 0 };
  private listener: ((event: VoiceAgentEvent) => void) | null = null;
  private readonly held: VoiceAgentEvent[] = [];
  private readonly waiters: Array<{ kind: FakeAgentCommandKind; resolve: (command: FakeAgentCommand) => void }> = [];

  constructor(options: FakeVoiceAgentOptions = {}) {
    this.formats = options.formats ?? PCMU_8K;
    this.manualTurns = options.manualTurns ?? false;
    this.name = options.name ?? 'fake';
  }

  // ---- the port -------------------------------------------------------------------------------------------------

  appendAudio(audio: Uint8Array): void {
    this.record({ kind: 'appendAudio', audio: audio.slice() });
  }

  interrupt(heard: readonly HeardItem[]): void {
    this.record({ kind: 'interrupt', heard: heard.map((item) => ({ ...item })) });
  }

  sendUserText(text: string): void {
    this.record({ kind: 'sendUserText', text });
  }

  requestResponse(request: ResponseRequest): void {
    this.record({ kind: 'requestResponse', request: { ...request } });
  }

  sendToolResults(results: readonly ToolCallResult[]): void {
    this.record({ kind: 'sendToolResults', results: results.map((result) => ({ ...result })) });
  }

  endCallerTurn(): void {
    this.record({ kind: 'endCallerTurn' });
  }

  updateInstructions(instructions: string): void {
    this.record({ kind: 'updateInstructions', instructions });
  }

  seedConversation(turns: readonly ConversationTurn[]): void {
    this.record({ kind: 'seedConversation', turns: turns.map((turn) => ({ ...turn })) });
  }

  listen(listener: (event: VoiceAgentEvent) => void): void {
    this.record({ kind: 'listen' });
    this.listener = listener;
    while (this.held.length > 0) listener(this.held.shift()!);
  }

  close(): void {
    this.record({ kind: 'close' });
    this.state = 'closed';
  }

  stats(): VoiceAgentStats {
    return { ...this.reportedStats };
  }

  // ---- the script -----------------------------------------------------------------------------------------------

  /** Delivers a port event now (or holds it until `listen()`). */
  emit(event: VoiceAgentEvent): void {
    if (event.type === 'ready' && this.state === 'connecting') this.state = 'ready';
    if (this.listener === null) {
      this.held.push(event);
      return;
    }
    this.listener(event);
  }

  ready(): void {
    this.emit({ type: 'ready' });
  }

  responseStarted(responseId: string): void {
    this.emit({ type: 'response_started', responseId });
  }

  audio(responseId: string, itemId: string, audio: Uint8Array): void {
    this.emit({ type: 'agent_audio', responseId, itemId, audio });
  }

  audioDone(responseId: string, itemId: string): void {
    this.emit({ type: 'agent_audio_done', responseId, itemId });
  }

  speechStarted(audioStartMs: number | null = null): void {
    this.emit({ type: 'caller_speech_started', audioStartMs });
  }

  turnEnded(audioEndMs: number | null, itemId: string | null = null): void {
    this.emit({ type: 'caller_turn_ended', itemId, audioEndMs });
  }

  fault(message = 'upstream closed'): void {
    // The port's contract: a session that reports a fault is closed.
    this.state = 'closed';
    this.emit({ type: 'fault', fault: { kind: 'closed', message, closeCode: 1011 } });
  }

  // ---- inspection -----------------------------------------------------------------------------------------------

  /** Commands other than audio appends (which a test checks byte-wise through `appended()`). */
  controlCommands(): FakeAgentCommand[] {
    return this.commands.filter((command) => command.kind !== 'appendAudio');
  }

  /** Every audio append, in order. */
  appended(): Uint8Array[] {
    return this.commands.flatMap((command) => (command.kind === 'appendAudio' ? [command.audio] : []));
  }

  /** Resolves with the next command of `kind` received from now on. */
  next(kind: FakeAgentCommandKind): Promise<FakeAgentCommand> {
    return new Promise((resolve) => this.waiters.push({ kind, resolve }));
  }

  private record(command: FakeAgentCommand): void {
    this.commands.push(command);
    for (let index = 0; index < this.waiters.length; index++) {
      const waiter = this.waiters[index]!;
      if (waiter.kind !== command.kind) continue;
      this.waiters.splice(index, 1);
      waiter.resolve(command);
      return;
    }
  }
}
