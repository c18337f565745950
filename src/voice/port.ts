/**
 * The voice-agent port: the one provider-neutral interface the call owner speaks to (in the spirit of the Agents
 * SDK's realtime model: connect, send, listen, close, with playback reported back by the caller of the model).
 *
 * A provider adapter (src/providers/<name>/) owns everything of its wire: event parsing, session configuration, its
 * rules for when a response may be requested, how an interruption is told to the model. The call owner owns the
 * caller's audio, the out-queue and what the caller really heard; it never sees a provider event name.
 *
 * Contract the adapters keep (tested through the call with a scripted fake provider, test/call-voice-port.test.ts):
 * - `formats` is set by the time of `ready`; `agent_audio` arrives in `formats.output`, items in order; an item's
 *   audio ends with one `agent_audio_done`.
 * - After `interrupt()`, no audio of the interrupted response is emitted again (late audio is dropped inside).
 * - `requestResponse()` never puts a second response in flight for one turn: the adapter defers or refuses.
 * - At most one `fault`, after which the session is closed. `close()` is idempotent and emits nothing.
 * - Events that happen before `listen()` are held and delivered, in order, when it is called (pre-dial).
 */

/** One direction's audio as the provider speaks it. */
export interface AudioFormat {
  /** `pcmu`: G.711 mu-law, 1 byte a sample. `pcm16`: little-endian signed 16-bit PCM, mono. */
  readonly encoding: 'pcmu' | 'pcm16';
  readonly sampleRateHz: number;
}

/** What the provider takes (caller audio) and gives (agent audio). The call builds exactly the transcoders needed. */
export interface VoiceAgentFormats {
  readonly input: AudioFormat;
  readonly output: AudioFormat;
}

export interface TokenUsage {
  inputTokens: number;
  outputTokens: number;
  inputAudioTokens: number;
  outputAudioTokens: number;
  cachedTokens: number;
}

export type VoiceAgentFaultKind =
  /** TCP/DNS/TLS failure before any answer. */
  | 'connect_failed'
  /** The provider refused our credentials. */
  | 'unauthorized'
  /** The provider answered the connection attempt with something else than a session. */
  | 'handshake_failed'
  /** Not ready in time. */
  | 'connect_timeout'
  /** The provider closed the session. */
  | 'closed'
  /** The session hit its maximum lifetime. */
  | 'session_expired'
  /** The provider's agent ended the conversation itself (a normal close): the call ends once its words have played. */
  | 'ended'
  /** The provider speaks something we cannot use. */
  | 'protocol';

export interface VoiceAgentFault {
  readonly kind: VoiceAgentFaultKind;
  /** Log-safe, human-readable: never a credential. */
  readonly message: string;
  /** HTTP status of a refused connection attempt. */
  readonly status?: number;
  /** Provider's or Node's machine code. */
  readonly code?: string;
  readonly closeCode?: number;
}

/** A function the model asked the bridge to run. `argumentsJson` is the model's text, not yet parsed. */
export interface ToolCallRequest {
  readonly callId: string;
  readonly name: string;
  readonly argumentsJson: string;
}

export interface ToolCallResult {
  readonly callId: string;
  /** What the model reads: a string (objects JSON-encoded by the tool runner). */
  readonly output: string;
  readonly ok: boolean;
}

export type Speaker = 'caller' | 'agent';

export type VoiceAgentEvent =
  /** The session is configured: audio in `formats` flows both ways. Once. */
  | { readonly type: 'ready' }
  /** A response began (the agent's answer to a turn, the greeting, a tool result). */
  | { readonly type: 'response_started'; readonly responseId: string }
  /** Agent audio in `formats.output`; any length, not frame-aligned. */
  | { readonly type: 'agent_audio'; readonly responseId: string; readonly itemId: string; readonly audio: Uint8Array }
  /** No more audio for this item. */
  | { readonly type: 'agent_audio_done'; readonly responseId: string; readonly itemId: string }
  /** The provider heard the caller start speaking (barge-in when the agent is playing). */
  | { readonly type: 'caller_speech_started'; readonly audioStartMs: number | null }
  /**
   * The caller's turn is over (committed). `audioEndMs`: where the caller's speech ended in the audio appended to
   * this session, ms from its first append; null when the provider does not say.
   */
  | { readonly type: 'caller_turn_ended'; readonly itemId: string | null; readonly audioEndMs: number | null }
  /** A piece (`final: false`) or the whole (`final: true`) of what someone said. */
  /** `asHeard`: the provider cut this (later, final) text to what the caller heard; it replaces the item's earlier text. */
  | { readonly type: 'transcript'; readonly speaker: Speaker; readonly itemId: string; readonly text: string; readonly final: boolean; readonly asHeard?: boolean }
  /** The model wants these run; answer once with `sendToolResults` (all of them). */
  | { readonly type: 'tool_calls'; readonly responseId: string; readonly calls: readonly ToolCallRequest[] }
  /** A response ended (any status), with its token usage when the provider reports it. */
  | { readonly type: 'response_done'; readonly responseId: string; readonly status: string; readonly usage: TokenUsage | null }
  /** The session is lost; it is closed. At most once. */
  | { readonly type: 'fault'; readonly fault: VoiceAgentFault };

/** What the caller really heard of one agent item when the caller interrupted (from the playback ledger). */
export interface HeardItem {
  readonly responseId: string;
  readonly itemId: string;
  /** Integer ms the caller heard; never above the audio sent to the caller. */
  readonly heardMs: number;
}

/** One line of a conversation carried over to a new session. */
export interface ConversationTurn {
  readonly role: 'user' | 'assistant';
  readonly text: string;
}

export interface ResponseRequest {
  /** Instructions for this response only (the greeting); omitted = the session's. */
  readonly instructions?: string;
  /** Why, for the logs: `greeting`, `dtmf`, `turn`, … */
  readonly reason: string;
}

export interface VoiceAgentStats {
  /** Agent audio dropped because its response was interrupted or cancelled. */
  readonly lateAudioDropped: number;
  /** Interruptions told to the provider (e.g. OpenAI truncates). */
  readonly truncates: number;
}

export interface VoiceAgentSession {
  readonly provider: string;
  /**
   * The audio formats, known from the start (OpenAI: configured) or from `ready` on (ElevenLabs: announced by the
   * server at connect); null until then.
   */
  readonly formats: VoiceAgentFormats | null;
  readonly state: 'connecting' | 'ready' | 'closed';
  /**
   * True when the caller's turn ends only when the bridge says so (`endCallerTurn`): the provider detects no turns
   * itself (push-to-talk).
   */
  readonly manualTurns: boolean;
  /** Caller audio in `formats.input`. Held until ready (bounded); dropped after close. */
  appendAudio(audio: Uint8Array): void;
  /** The caller interrupted: what they heard of each item in play (may be empty when nothing was playing yet). */
  interrupt(heard: readonly HeardItem[]): void;
  /** A user message that is not speech (DTMF, typed text). Does not ask for a response by itself. */
  sendUserText(text: string): void;
  /** Ask for an agent response; never a second one in flight. */
  requestResponse(request: ResponseRequest): void;
  /** Outputs for every call of one `tool_calls` event, then exactly one follow-up response. */
  sendToolResults(results: readonly ToolCallResult[]): void;
  /** Push-to-talk: the caller's turn is over. */
  endCallerTurn(): void;
  /**
   * A fresh session taking over a long call: the conversation so far (the transcript as the caller heard it), given
   * before anything else happens on it. It asks for no response.
   */
  seedConversation(turns: readonly ConversationTurn[]): void;
  /** Changes the session's instructions mid-call (e.g. after a failed transfer). */
  updateInstructions(instructions: string): void;
  /** Starts delivery; events that happened before are delivered first, in order. Once. */
  listen(listener: (event: VoiceAgentEvent) => void): void;
  /** Idempotent; emits nothing. */
  close(): void;
  stats(): VoiceAgentStats;
}

/** Opens a new session for a call (dial at once; the session holds audio until ready). */
export type VoiceAgentDialer = (context: { logger: import('../logger.js').Logger }) => VoiceAgentSession;
