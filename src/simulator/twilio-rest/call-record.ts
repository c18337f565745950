/**
 * One outbound call's public record: the fields tests read, mutated in place by the call engine as the call runs
 * (the interface they see is read-only).
 */
import type { HeardSegment } from '../twilio-playback.js';
import type {
  AnsweredBy,
  CallStatus,
  CalleeBehaviour,
  CalleeStream,
  EndReason,
  ExecutedVerb,
  Notification,
  RequestLogEntry,
  SimulatedOutboundCall,
} from './types.js';

export class OutboundCallRecord implements SimulatedOutboundCall {
  status: CallStatus = 'queued';
  answeredBy: AnsweredBy | null = null;
  answeredAtMs: number | null = null;
  endedAtMs: number | null = null;
  durationSec: number | null = null;
  endReason: EndReason | null = null;
  readonly statusHistory: Array<{ status: CallStatus; atMs: number }> = [{ status: 'queued', atMs: 0 }];
  readonly requests: RequestLogEntry[] = [];
  readonly verbs: ExecutedVerb[] = [];
  readonly streams: CalleeStream[] = [];
  readonly notifications: Notification[] = [];
  greetingEndMs: number | null = null;
  beepEndMs: number | null = null;
  finished = false;

  constructor(
    readonly sid: string,
    readonly accountSid: string,
    readonly to: string,
    readonly from: string,
    readonly behaviour: CalleeBehaviour,
    readonly createParams: Readonly<Record<string, string>>,
  ) {}

  heardSinceAnswer(): HeardSegment[] {
    return this.streams.flatMap((stream) => {
      const segments = stream.result?.heardSegments ?? stream.call.playback?.heardSegments() ?? [];
      return segments.map((segment) => ({ startMs: segment.startMs + stream.startedAtMs, bytes: segment.bytes }));
    });
  }
}
