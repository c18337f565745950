/**
 * One call: the only object that touches both the caller's channel (a Twilio Media Stream, the browser phone) and
 * the voice agent (any provider, through the voice-agent port in src/voice/port.ts). It knows no provider's wire.
 *
 * It composes parts that each own one slice of state and are tested alone: Playout (agent audio → paced 20 ms frames
 * with marks, and what the caller really heard), the transcoders the provider's formats need, AgentSpeech (the agent's
 * items on their way to the playout), CallSessions (the provider sessions: re-dial, fallback, rotation), CallOpening
 * (greeting, AMD wait), CallerInput (keys, typed lines), TurnLatencyMeter, CallToolRunner and HoldPlayer, CallEnding,
 * CallLimits; CallJournal tells observers, the audio tap a recording.
 *
 * Rules it enforces:
 *   - only `agent_audio` events feed the out-queue, and only while the call is live and from its current session;
 *   - on barge-in: one `clear` to the caller, and the provider is told what the caller heard of each item in play
 *     (the provider's adapter turns that into its own wire: truncate, cancel, drop late audio);
 *   - the greeting is asked for once, when the first session is ready; a re-dialled session continues the call.
 */
import { TWILIO_AUDIO, type ChannelAudio } from '../audio/channel-audio.js';
import type { Clock } from '../clock.js';
import type { Logger } from '../logger.js';
import type { Speaker, VoiceAgentEvent, VoiceAgentFault, VoiceAgentSession } from '../voice/port.js';
import type { StreamOutcome } from './after-stream.js';
import { playApology } from './apology.js';
import { CallOpening } from './call-opening.js';
import { CallEnding } from './call-ending.js';
import { playoutTuning, type CallOptions } from './call-options.js';
import { CallJournal, logCallEnded, logCallStarted, playoutSink } from './call-journal.js';
import { callLimits, type CallLimits } from './call-limits.js';
import { AgentSpeech } from './agent-speech.js';
import { addUsage, emptyUsage, summariseCall, type CallSummary } from './call-summary.js';
import { CallToolRunner } from './call-tools.js';
import { CallSessions } from './call-sessions.js';
import { TurnLatencyMeter } from './caller-audio-clock.js';
import type { CallerChannel } from './channel.js';
import { CallerInput } from './caller-input.js';
import { HoldPlayer } from './hold-sound.js';
import { heardOfSession, Playout } from './playout.js';
import { CallAudioConversion } from './transcoding.js';

export type { CallSummary, TokenUsage } from './call-summary.js';
export type { CallOptions, CallSettings } from './call-options.js';

export class Call {
  readonly ended: Promise<CallSummary>;
  private resolveEnded!: (summary: CallSummary) => void;
  private readonly options: CallOptions;
  private readonly logger: Logger;
  private readonly clock: Clock;
  private readonly channel: CallerChannel;
  private readonly playout: Playout;
  private readonly audio: CallAudioConversion;
  /** What the caller's channel carries (Twilio's mu-law, or the browser phone's wideband PCM). */
  private readonly channelAudio: ChannelAudio;
  /** The current provider session. */
  private get agent(): VoiceAgentSession {
    return this.sessions.current;
  }
  /** Bound once: the per-frame path allocates no closure. */
  private readonly appendToAgent = (audio: Uint8Array): void => this.agent.appendAudio(audio);
  /** Key presses and typed lines. */
  private readonly input: CallerInput;
  private readonly turnLatency = new TurnLatencyMeter();
  private readonly journal: CallJournal;
  private readonly hold: HoldPlayer;
  private readonly ending: CallEnding;
  private readonly limits: CallLimits;
  private readonly toolRunner: CallToolRunner;
  /** Responses started and not yet done: the agent is busy, silence does not count. */
  private responsesInFlight = 0;
  /** The provider sessions: the current one, retired ones, rotation, the conversation so far. */
  private readonly sessions: CallSessions;
  /** Agent audio reached the call (a fallback is only for sessions that never got going). */
  private agentSpoke = false;
  private state: 'idle' | 'live' | 'apologising' | 'ended' = 'idle';
  private readonly startedAtMs: number;
  /** Between the provider's speech start and the end of the caller's turn. */
  private callerSpeaking = false;
  /** The greeting, and an outbound call's wait for the answering-machine verdict. */
  private readonly opening: CallOpening;
  /** The agent's audio, item by item, on its way to the playout. */
  private readonly speech: AgentSpeech;
  private readonly counters = { responses: 0, bargeIns: 0, framesIn: 0, lateDeltasDropped: 0, upstreamFaults: 0 };
  private readonly usage = emptyUsage();

  constructor(options: CallOptions) {
    this.options = options;
    this.logger = options.logger;
    this.clock = options.clock;
    this.channel = options.channel;
    this.startedAtMs = this.clock.now();
    this.channelAudio = options.channel.audio ?? TWILIO_AUDIO;
    this.audio = new CallAudioConversion(options.agent.formats, this.channelAudio);
    this.ended = new Promise((resolve) => (this.resolveEnded = resolve));
    this.journal = new CallJournal(this.clock, options.onEvent);
    this.sessions = new CallSessions({
      first: options.agent,
      redialAttempts: options.settings.redialAttempts,
      clock: this.clock,
      logger: this.logger,
      rotateAfterMs: options.settings.rotateSessionAfterMs ?? null,
      ...(options.redial === undefined ? {} : { redial: options.redial }),
      ...(options.fallback === undefined ? {} : { fallback: options.fallback }),
      isQuiet: () => this.isQuiet(),
      rotated: (next) => this.attachAgent(next),
      fellBack: (from, to, faultKind) => this.journal.publish({ type: 'provider_fallback', atMs: this.clock.now(), from, to, fault: faultKind }),
    });
    this.opening = new CallOpening(options.settings, options.answeringMachine, {
      canSpeak: () => this.state === 'live' && this.agent.state === 'ready',
      requestResponse: (request) => this.agent.requestResponse(request),
      endAfterNextAnswer: (reason) => this.ending.request({ kind: 'hang_up', reason }),
      hangUp: (reason) => this.closeWithOutcome({ kind: 'hang_up', reason }),
      report: (answeredBy, action) => {
        this.logger.info({ answeredBy, action }, 'answering-machine detection');
        this.journal.publish({ type: 'answered_by', atMs: this.clock.now(), answeredBy, action });
      },
    });
    const { channel } = this;
    this.playout = new Playout({
      clock: this.clock,
      leadMs: options.settings.playbackLeadMs,
      markIntervalMs: options.settings.markIntervalMs,
      ...playoutTuning(options.settings),
      ...(options.deliveryPace === undefined ? {} : { deliveryPace: options.deliveryPace }),
      logger: this.logger,
      audio: this.channelAudio,
      sink: playoutSink(channel, this.clock, options.audioTap),
      onItemStarted: (responseId, itemId, sentAtMs) => this.journal.agentAudioStarted(responseId, itemId, sentAtMs, this.turnLatency.agentAudioStarted(sentAtMs)),
    });
    this.speech = new AgentSpeech(this.audio, this.playout);
    const { clock, logger, journal } = this;
    this.input = new CallerInput({ clock, logger, journal, forwardDtmf: options.settings.forwardDtmf, agent: () => this.agent, isLive: () => this.state === 'live' }, {
      active: () => this.limits.onCallerActivity(),
      interrupt: () => this.onSpeechStarted(null),
      said: (itemId, text) => this.noteTranscript({ speaker: 'caller', itemId, text, final: true }),
      sessionTag: () => this.sessions.tag,
    });
    this.hold = new HoldPlayer(this.clock, this.playout, this.channelAudio);
    this.ending = new CallEnding(this.clock, () => this.playout.isActive(), (outcome) => this.closeWithOutcome(outcome));
    this.limits = callLimits({
      clock: this.clock,
      settings: options.limits,
      agent: () => this.agent,
      agentBusy: () => this.playout.isActive() || this.responsesInFlight > 0 || this.toolRunner.running > 0,
      endAfterGoodbye: (reason) => this.ending.request({ kind: 'hang_up', reason }),
    });
    this.toolRunner = CallToolRunner.forCall(options, {
      endStream: (outcome) => this.ending.request(outcome),
      startHold: () => this.state === 'live' && this.hold.start(),
      publish: (event) => this.journal.publish(event),
    });
  }

  /** Wires the channel and the agent. Call once, right after construction. */
  start(): void {
    if (this.state !== 'idle') return;
    this.state = 'live';
    logCallStarted(this.logger, this.channel, this.agent, this.options.predialled ?? false);
    this.channel.setHandlers({
      onMedia: (payload) => this.onCallerAudio(payload),
      onMark: (name) => this.onMarkEchoed(name),
      onDtmf: (digit) => this.state === 'live' && this.input.key(digit),
      // Not while an outbound call waits for the answering-machine verdict: nobody is known to be there yet.
      onText: (text) => this.state === 'live' && !this.opening.holdsCallerAudio && this.input.typed(text),
      onStop: () => this.end('caller hung up'),
      onClose: ({ code }) => this.end(`stream closed (${code})`),
    });
    this.limits.start();
    this.attachAgent(this.agent);
  }

  /** Ends the call politely (a draining server's last calls): the agent says `instructions`, the call ends after. */
  endPolitely(reason: string, instructions: string): void {
    if (this.state !== 'live') return this.hangUp(reason);
    this.agent.requestResponse({ instructions, reason: 'goodbye' });
    this.ending.request({ kind: 'hang_up', reason });
  }

  /** Ends the call from our side at once (server shutdown). */
  hangUp(reason: string): void {
    if (this.state === 'ended') return;
    this.channel.close(1000, reason);
    this.end(reason);
  }

  private attachAgent(agent: VoiceAgentSession): void {
    this.audio.expect(agent.formats);
    this.responsesInFlight = 0;
    this.turnLatency.callerAudio.reset();
    this.callerSpeaking = false;
    agent.listen((event) => this.onAgentEvent(agent, event));
    this.sessions.rotation.sessionStarted();
  }

  private onAgentEvent(agent: VoiceAgentSession, event: VoiceAgentEvent): void {
    if (agent !== this.agent || this.state === 'ended') return;
    switch (event.type) {
      case 'ready': {
        // The formats may only be known now (ElevenLabs), or differ from a lost session's (another provider).
        const problem = this.audio.startSession(agent.formats, (audio) => agent.appendAudio(audio));
        if (problem === null) return this.opening.sessionReady();
        agent.close(); // the provider is fine, the call cannot use it: its session is ended here
        this.onAgentFault({ kind: 'protocol', message: problem });
        return;
      }
      case 'response_started':
        this.journal.responseStarted(this.sessions.tag + event.responseId);
        this.counters.responses++;
        this.responsesInFlight++;
        this.ending.onResponseStarted();
        return;
      case 'agent_audio':
        this.onAgentAudio(this.sessions.tag + event.responseId, this.sessions.tag + event.itemId, event.audio);
        return;
      case 'agent_audio_done':
        if (this.state === 'live') this.speech.finish(this.sessions.tag + event.responseId, this.sessions.tag + event.itemId);
        return;
      case 'response_done':
        if (event.usage !== null) addUsage(this.usage, event.usage);
        this.journal.responseDone({ responseId: this.sessions.tag + event.responseId, status: event.status, usage: event.usage });
        this.responsesInFlight = Math.max(0, this.responsesInFlight - 1);
        // A follow-up that said nothing must not leave the caller on hold.
        if (this.toolRunner.running === 0) this.hold.stop();
        this.ending.onResponseDone(event.status);
        this.ending.check();
        return;
      case 'tool_calls':
        void this.toolRunner.answer(agent, event.calls, () => this.state === 'live' && agent === this.agent, this.logger);
        return;
      case 'caller_speech_started':
        this.callerSpeaking = true;
        this.onSpeechStarted(event.audioStartMs);
        return;
      case 'caller_turn_ended': {
        this.callerSpeaking = false;
        this.limits.onCallerActivity();
        const ended = this.turnLatency.turnEnded(event.audioEndMs, this.clock.now());
        this.journal.turnEnded(ended.turn, ended.endedAtMs);
        return;
      }
      case 'transcript':
        this.noteTranscript({ ...event, itemId: this.sessions.tag + event.itemId });
        return;
      case 'fault':
        this.onAgentFault(event.fault);
        return;
    }
  }

  /** Outbound: answering-machine detection's verdict (Twilio's `AnsweredBy`). Greets, leaves a message, or ends. */
  answeredBy(answeredBy: string): void {
    if (this.state === 'live') this.opening.answeredBy(answeredBy);
  }

  // ---- caller → agent -------------------------------------------------------------------------------------------

  private onCallerAudio(payload: Uint8Array): void {
    this.counters.framesIn++;
    if (this.state !== 'live') return;
    this.options.audioTap?.callerAudio(payload);
    if (this.opening.holdsCallerAudio) return;
    this.audio.caller(payload, this.appendToAgent);
    this.turnLatency.callerAudio.appended(payload.length / this.channelAudio.bytesPerMs, this.clock.now());
  }

  /** A transcript line (the item id already session-tagged): the conversation so far, and the observers. */
  private noteTranscript(line: { speaker: Speaker; itemId: string; text: string; final: boolean; asHeard?: boolean }): void {
    this.sessions.memory.transcript(line.speaker, line.itemId, line.text, line.final);
    this.journal.publish({ ...line, type: 'transcript', atMs: this.clock.now() });
  }

  // ---- agent → caller -------------------------------------------------------------------------------------------

  private onAgentAudio(responseId: string, itemId: string, audio: Uint8Array): void {
    if (this.state !== 'live') {
      this.counters.lateDeltasDropped++;
      return;
    }
    // The agent speaks again: the hold sound stops at once (one clear), the answer starts.
    this.hold.stop();
    this.agentSpoke = true;
    if (!this.speech.deliver(responseId, itemId, audio)) this.counters.lateDeltasDropped++;
  }

  /** The caller's side played up to a mark: the agent was heard, and a pending ending may now happen. */
  private onMarkEchoed(name: string): void {
    if (this.playout.onMarkEchoed(name) === null) return;
    this.limits.onAgentActivity();
    this.ending.check();
  }

  // ---- barge-in -------------------------------------------------------------------------------------------------

  private onSpeechStarted(audioStartMs: number | null): void {
    if (this.state !== 'live') return;
    this.limits.onCallerActivity();
    this.ending.onBargeIn();
    // No clear of its own: the one clear below drops the hold sound and the agent's words together.
    this.hold.dispose();
    const interrupted = this.playout.interrupt();
    const heard = heardOfSession(interrupted, this.sessions.tag);
    // Told even when nothing was playing yet: a response may be on its way, and it must not start talking now.
    this.agent.interrupt(heard);
    if (interrupted === null) return;
    this.counters.bargeIns++;
    this.speech.reset();
    this.logger.info({ audioStartMs, heard: interrupted.heard, droppedFrames: interrupted.droppedFrames }, 'barge-in: caller interrupted the agent');
    this.sessions.memory.bargeIn(this.journal.bargeIn(interrupted));
  }

  // ---- faults and lifecycle -------------------------------------------------------------------------------------

  private onAgentFault(fault: VoiceAgentFault): void {
    if (this.state !== 'live') return;
    const recovery = this.sessions.recoveryFor(fault.kind, this.agentSpoke);
    const logFields = { fault: fault.kind, code: fault.code, status: fault.status, detail: fault.message, provider: this.agent.provider, recovery };
    this.journal.fault(fault.kind, recovery, fault.message);
    // The answer that was arriving will never be finished: let what came play out, ended cleanly.
    this.speech.finishOpen();
    this.hold.dispose();
    if (recovery === 'end_after_playback') {
      this.logger.info(logFields, 'the agent ended the conversation');
      // A transfer the agent asked for before it hung up still happens.
      this.ending.requestAfterPlayback(this.ending.pending ?? { kind: 'hang_up', reason: 'agent ended the conversation' });
      return;
    }
    this.counters.upstreamFaults++;
    this.logger.error(logFields, 'upstream session lost');
    if (recovery === 'apologise') {
      this.apologise();
      return;
    }
    let next: VoiceAgentSession;
    try {
      next = this.sessions.openReplacement(recovery, this.agentSpoke, fault.kind);
    } catch (error) {
      this.logger.error({ err: error }, 'could not open a new session');
      this.apologise();
      return;
    }
    // A call whose agent has not spoken yet is greeted by the new session (the lost one's greeting never played).
    if (!this.agentSpoke) this.opening.greetAgain();
    this.attachAgent(next);
  }

  /** Neither side is speaking and nothing is in flight: a moment to hand the call to a fresh session. */
  private isQuiet(): boolean {
    return this.state === 'live' && !this.callerSpeaking && !this.playout.isActive() && this.responsesInFlight === 0 && this.toolRunner.running === 0 && this.ending.pending === null;
  }

  /** Plays a short apology, then closes the stream (Twilio asks `<Connect action>` what next: a last word, hang up). */
  private apologise(): void {
    this.state = 'apologising';
    this.speech.reset();
    playApology(this.playout, this.ending, this.channelAudio);
  }

  /** The agent's last words have played: leave the outcome for Twilio's next request, then close the stream. */
  private closeWithOutcome(outcome: StreamOutcome): void {
    if (this.state === 'ended' || this.state === 'idle') return;
    const reason = outcome.kind === 'transfer' ? `transfer to ${outcome.destinationName}` : outcome.kind === 'hang_up' ? outcome.reason : 'upstream lost';
    this.logger.info({ outcome: outcome.kind, reason }, 'agent ended the stream');
    this.journal.streamOutcome(outcome, reason);
    this.options.onStreamOutcome?.(outcome);
    this.channel.close(1000, reason);
    this.end(reason);
  }

  private end(reason: string): void {
    if (this.state === 'ended') return;
    this.state = 'ended';
    this.input.dispose();
    this.sessions.close();
    this.limits.stop();
    this.ending.dispose();
    this.hold.dispose();
    const playoutStats = this.playout.stats();
    this.playout.dispose();
    this.audio.dispose();
    const summary = summariseCall({
      callSid: this.channel.start.callSid,
      streamSid: this.channel.start.streamSid,
      durationMs: Math.round(this.clock.now() - this.startedAtMs),
      endReason: reason,
      counters: { ...this.counters, turns: this.turnLatency.turns },
      playout: playoutStats,
      channel: this.channel.stats(),
      sessions: this.sessions.stats(),
      usage: this.usage,
    });
    logCallEnded(this.logger, summary);
    this.resolveEnded(summary);
  }
}
