/**
 * What the call tells the world as it happens, in one place: the live events for observers (records, metrics, the
 * console) and the audio tap for the recording. The call says what happened in one line each; this class builds the
 * events on the call's clock. Nothing here may block or throw into the call: observers are guarded by the hub, and
 * the tap's methods are synchronous and cheap (they run on the per-frame path).
 */
import type { Clock } from '../clock.js';
import type { Logger } from '../logger.js';
import type { VoiceAgentSession } from '../voice/port.js';
import type { StreamOutcome } from './after-stream.js';
import type { CallEvent, HeardShare } from './call-events.js';
import type { CallSummary } from './call-summary.js';
import type { CallerChannel } from './channel.js';
import type { InterruptResult, PlayoutSink } from './playout.js';

/** The call's audio as the caller's line carried it, for a recording (see src/records/recording.ts). */
export interface CallAudioTap {
  /** A caller frame (the channel's audio: mu-law 8 kHz on the phone) as received, while the call is live. */
  callerAudio(frame: Uint8Array): void;
  /** A 20 ms frame of agent audio (the channel's audio) sent to the caller at `sentAtMs` (clock reading). */
  agentFrame(frame: Uint8Array, sentAtMs: number): void;
  /** A `clear` went to the caller: what was buffered and not played yet is gone. */
  agentCleared(atMs: number): void;
}

export class CallJournal {
  constructor(
    private readonly clock: Clock,
    private readonly sink: ((event: CallEvent) => void) | undefined,
  ) {}

  publish(event: CallEvent): void {
    this.sink?.(event);
  }

  turnEnded(turn: number, endedAtMs: number): void {
    this.publish({ type: 'turn_ended', atMs: endedAtMs, turn });
  }

  responseStarted(responseId: string): void {
    this.publish({ type: 'response_started', atMs: this.clock.now(), responseId });
  }

  responseDone(event: Omit<Extract<CallEvent, { type: 'response_done' }>, 'type' | 'atMs'>): void {
    this.publish({ type: 'response_done', atMs: this.clock.now(), ...event });
  }

  /** An item's first frame went out; `answered` is the turn it answers, when it is the first answer to one. */
  agentAudioStarted(responseId: string, itemId: string, sentAtMs: number, answered: { turn: number; latencyMs: number } | null): void {
    this.publish({ type: 'agent_audio_started', atMs: sentAtMs, responseId, itemId });
    if (answered !== null) this.publish({ type: 'turn_latency', atMs: sentAtMs, ...answered });
  }

  dtmf(digit: string): void {
    this.publish({ type: 'dtmf', atMs: this.clock.now(), digit });
  }

  /** A barge-in that cleared the caller's line: what they had heard of each item, with the item's audio so far. */
  bargeIn(interrupted: InterruptResult): HeardShare[] {
    const heard = interrupted.heard.map(({ responseId, itemId, heardMs, audioMs }) => ({ responseId, itemId, heardMs, audioMs }));
    this.publish({ type: 'barge_in', atMs: this.clock.now(), heard });
    return heard;
  }

  fault(kind: string, recovery: string, message: string): void {
    this.publish({ type: 'fault', atMs: this.clock.now(), kind, recovery, message });
  }

  streamOutcome(outcome: StreamOutcome, reason: string): void {
    const destination = outcome.kind === 'transfer' ? { destination: outcome.destinationName } : {};
    this.publish({ type: 'stream_outcome', atMs: this.clock.now(), outcome: outcome.kind, reason, ...destination });
  }
}

/** Playout's way out: frames, marks and clears to the caller's channel, and the same frames and clears to the tap. */
export function playoutSink(channel: CallerChannel, clock: Clock, tap: CallAudioTap | undefined): PlayoutSink {
  return {
    sendMedia: (payload) => {
      void channel.sendMedia(payload);
      tap?.agentFrame(payload, clock.now());
    },
    sendMark: (name) => void channel.sendMark(name),
    sendClear: () => {
      void channel.sendClear();
      tap?.agentCleared(clock.now());
    },
  };
}

/** The call's first log line: how it is connected (the stream token is spent, but it is a credential: left out). */
export function logCallStarted(logger: Logger, channel: CallerChannel, agent: VoiceAgentSession, predialled: boolean): void {
  const { streamToken: _spent, ...customParameters } = channel.start.customParameters;
  const { formats, provider } = agent;
  const describe = (format?: { encoding: string; sampleRateHz: number }) => (format === undefined ? 'at ready' : `${format.encoding}@${format.sampleRateHz}`);
  logger.info({ predialled, provider, input: describe(formats?.input), output: describe(formats?.output), customParameters }, 'call started');
}

/** The call's last log line: its summary (the logger already carries callSid and streamSid). */
export function logCallEnded(logger: Logger, summary: CallSummary): void {
  const { callSid: _callSid, streamSid: _streamSid, ...fields } = summary;
  logger.info(fields, 'call ended');
}
