/**
 * Turn detection: the input audio buffer (appends, commits, clears) and the server VAD on it. Speech start
 * interrupts a streaming response when the policy says so; speech stop commits the turn and, with
 * `create_response`, asks the streamer for an answer. Every timestamp here is audio time: ms of audio appended since
 * the session started, in the input format's time base.
 */
import type { ConversationItem } from 'openai/resources/realtime/realtime';
import { decodeMulaw } from '../../audio/mulaw.js';
import { base64ToBytes, Pcm16Reassembler } from '../../audio/pcm.js';
import type { ConversationStore } from './conversation.js';
import * as errors from './errors.js';
import type { ResponseStreamer } from './responses.js';
import { formatInfo, transcriptionModelOf, type TurnDetectionPolicy } from './session-config.js';
import type { CommittedTurn, InboundEvent, SessionContext } from './session-types.js';
import { EnergyVad, type VadTransition } from './vad.js';

/** The service refuses to commit less than this much buffered audio. */
const MIN_COMMIT_MS = 100;

export class TurnDetector {
  private policy: TurnDetectionPolicy | null;
  private readonly vad: EnergyVad;
  private appendedMs = 0;
  private bufferStartMs = 0;
  private readonly inputSamples = new Pcm16Reassembler();
  private speechItemId: string | null = null;
  private speechStartMs = 0;

  constructor(
    private readonly context: SessionContext,
    private readonly conversation: ConversationStore,
    private readonly streamer: ResponseStreamer,
    policy: TurnDetectionPolicy | null,
  ) {
    this.policy = policy;
    this.vad = new EnergyVad(policy?.vad ?? { threshold: 0.5, prefixPaddingMs: 300, silenceDurationMs: 500 });
  }

  /** ms of audio appended since the session started. */
  get appendedAudioMs(): number {
    return this.appendedMs;
  }

  /** A `session.update` was applied: turning VAD off drops any speech in progress. */
  applyPolicy(policy: TurnDetectionPolicy | null): void {
    if (policy !== null) this.vad.configure(policy.vad);
    if (policy === null && this.policy !== null) {
      this.vad.reset(this.appendedMs);
      this.speechItemId = null;
    }
    this.policy = policy;
  }

  onAppend(event: InboundEvent, eventId: string | null): void {
    const audio = event['audio'];
    if (typeof audio !== 'string') {
      this.context.violations.malformedEvent++;
      this.context.sendError(errors.missingParameterError('audio', eventId));
      return;
    }
    const format = formatInfo(this.context.sessionObject().audio?.input?.format);
    const bytes = base64ToBytes(audio);
    // A PCM16 sample split across two appends is joined, as the service's byte buffer would.
    const samples = format.kind === 'pcmu' ? decodeMulaw(bytes) : this.inputSamples.push(bytes);
    this.appendedMs += (samples.length * 1000) / format.sampleRateHz;
    if (this.policy === null) return;
    const transitions = this.vad.push(samples, format.sampleRateHz);
    for (const transition of transitions) {
      if (this.context.isClosed()) return;
      this.onVadTransition(transition);
    }
  }

  onCommit(eventId: string | null): void {
    const bufferedMs = this.appendedMs - this.bufferStartMs;
    if (bufferedMs < MIN_COMMIT_MS) {
      this.context.violations.commitEmpty++;
      this.context.sendError(errors.commitEmptyError(bufferedMs, eventId));
      return;
    }
    const itemId = this.speechItemId ?? this.context.newId('item');
    const startMs = this.speechItemId !== null ? this.speechStartMs : this.bufferStartMs;
    this.speechItemId = null;
    this.vad.reset(this.appendedMs);
    this.commitTurn(itemId, 'client', startMs, this.appendedMs);
  }

  onClear(): void {
    this.bufferStartMs = this.appendedMs;
    this.speechItemId = null;
    this.vad.reset(this.appendedMs);
    this.context.emit({ type: 'input_audio_buffer.cleared' });
  }

  private onVadTransition(transition: VadTransition): void {
    const policy = this.policy;
    if (policy === null) return;
    const context = this.context;
    if (transition.kind === 'speech_started') {
      this.speechItemId = context.newId('item');
      this.speechStartMs = transition.audioStartMs;
      context.emit({ type: 'input_audio_buffer.speech_started', audio_start_ms: transition.audioStartMs, item_id: this.speechItemId });
      if (policy.interruptResponse && this.streamer.isStreaming) this.streamer.interrupt();
      return;
    }
    const itemId = this.speechItemId ?? context.newId('item');
    this.speechItemId = null;
    context.emit({ type: 'input_audio_buffer.speech_stopped', audio_end_ms: transition.audioEndMs, item_id: itemId });
    this.commitTurn(itemId, 'vad', this.speechStartMs, transition.audioEndMs);
    if (!policy.createResponse) return;
    if (this.streamer.isBusy) {
      // interrupt_response false and the model still talking: the real API documents that it "may fail to
      // create a response"; the simulator skips it and says so in the log.
      context.logger.debug({ itemId }, 'VAD turn committed while a response is active: no automatic response');
      return;
    }
    this.streamer.schedule('vad', null);
  }

  private commitTurn(itemId: string, trigger: 'vad' | 'client', audioStartMs: number, audioEndMs: number): void {
    const context = this.context;
    const previousItemId = this.conversation.lastItemId();
    const turn: CommittedTurn = {
      index: this.conversation.committedTurns.length,
      itemId,
      previousItemId,
      trigger,
      audioStartMs,
      audioEndMs,
      atMs: context.sinceConnectMs(),
    };
    this.bufferStartMs = audioEndMs;
    this.conversation.addCommittedTurn(turn);
    context.emit({ type: 'input_audio_buffer.committed', item_id: itemId, previous_item_id: previousItemId });
    const item: ConversationItem = {
      id: itemId,
      object: 'realtime.item',
      type: 'message',
      status: 'completed',
      role: 'user',
      content: [{ type: 'input_audio', transcript: null as unknown as string }],
    };
    context.emit({ type: 'conversation.item.added', previous_item_id: previousItemId, item });
    context.emit({ type: 'conversation.item.done', previous_item_id: previousItemId, item });
    if (transcriptionModelOf(context.sessionObject()) !== null) {
      const transcript = context.settings.callerTranscripts[turn.index] ?? `Caller turn ${turn.index + 1}.`;
      context.emit({ type: 'conversation.item.input_audio_transcription.delta', item_id: itemId, content_index: 0, delta: transcript });
      context.emit({
        type: 'conversation.item.input_audio_transcription.completed',
        item_id: itemId,
        content_index: 0,
        transcript,
        usage: { type: 'duration', seconds: Math.round((audioEndMs - audioStartMs) / 100) / 10 },
      });
    }
    context.logger.debug({ itemId, trigger, audioStartMs, audioEndMs }, 'caller turn committed');
  }
}
