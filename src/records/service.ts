/**
 * Call records as a service of the process: a call observer that collects each call's events, builds its record
 * when it ends and hands it to the writer (off the audio path: the observer only appends to an array per event);
 * the store, opened in the background so the server listens at once (the writer holds records until it is open);
 * the recordings (one CallRecording per recorded call, fed by the call's audio tap) and their retention.
 *
 * A recorded call's record waits for its WAV to be closed, so the record names a complete file.
 */
import { emptySummary } from '../call/call-summary.js';
import { join } from 'node:path';
import type { AgentDefinition } from '../agents/types.js';
import type { ChannelAudio } from '../audio/channel-audio.js';
import type { CallAudioTap } from '../call/call-journal.js';
import type { CallEvent } from '../call/call-events.js';
import type { CallSummary } from '../call/call-summary.js';
import type { Clock } from '../clock.js';
import type { Config } from '../config.js';
import type { Logger } from '../logger.js';
import type { CallInfo, CallObserver } from '../observers/hub.js';
import { describeRecordTarget, openRecordStore } from './db.js';
import { buildCallRecord } from './record-builder.js';
import { CallRecording } from './recording.js';
import { Redactor } from './redact.js';
import { RecordingRetention } from './retention.js';
import type { RecordStore } from './types.js';
import { RecordWriter, type RecordWriterStats } from './writer.js';

/** Events kept per call at most: a runaway call (hours of deltas) must not grow without bound. */
const MAX_EVENTS_PER_CALL = 50_000;

interface CallCollector {
  events: CallEvent[];
  dropped: number;
  recording: CallRecording | null;
}

export interface CallRecordsOptions {
  config: Readonly<Config>;
  logger: Logger;
  clock: Clock;
  /** Secrets to keep out of records (API keys, tool secrets): replaced wherever they appear. */
  secrets: ReadonlyArray<string | null>;
  /** A store to use instead of opening one from the configuration (tests). */
  store?: RecordStore | Promise<RecordStore> | (() => Promise<RecordStore>);
}

export class CallRecords implements CallObserver {
  readonly name = 'records';
  private readonly options: CallRecordsOptions;
  private readonly logger: Logger;
  private readonly writer: RecordWriter;
  private readonly redactor: Redactor;
  private readonly retention: RecordingRetention;
  private readonly calls = new Map<string, CallCollector>();

  constructor(options: CallRecordsOptions) {
    this.options = options;
    this.logger = options.logger.child({ component: 'records' });
    const { records } = options.config;
    const source =
      options.store ??
      (() => openRecordStore({ databaseUrl: records.databaseUrl, dataDir: records.dataDir, logger: this.logger }));
    this.writer = new RecordWriter({ store: source, clock: options.clock, logger: this.logger, maxBuffered: records.maxBuffered });
    this.redactor = new Redactor(options.secrets);
    this.retention = new RecordingRetention({ dir: records.recordingsDir, retentionDays: records.recordingRetentionDays, logger: this.logger });
    void this.retention.start();
    this.logger.info({ target: describeRecordTarget(records), recordingsDir: records.recordingsDir }, 'call records on');
  }

  /** The open store (the API reads it), or null while it is opening or unreachable. */
  store(): RecordStore | null {
    return this.writer.openStore();
  }

  stats(): RecordWriterStats {
    return this.writer.stats();
  }

  /**
   * The recording tap for a call of `agent` (when the agent records), opened at the stream's start; `audio` is the
   * caller channel's audio (default Twilio's 8 kHz mu-law), which the recording keeps at its rate.
   */
  recordingFor(info: CallInfo, agent: AgentDefinition, audio?: ChannelAudio): CallAudioTap | undefined {
    if (!agent.recording) return undefined;
    // The recording creates RECORDINGS_DIR itself, asynchronously: nothing here blocks the stream's start.
    const dir = this.options.config.records.recordingsDir;
    const recording = new CallRecording({
      path: join(dir, `${info.callSid}.wav`),
      clock: this.options.clock,
      originMs: this.options.clock.now(),
      logger: this.logger.child({ callSid: info.callSid }),
      ...(audio === undefined ? {} : { audio }),
    });
    this.collector(info.callSid).recording = recording;
    return recording;
  }

  callStarted(info: CallInfo): void {
    this.collector(info.callSid);
  }

  callEvent(info: CallInfo, event: CallEvent): void {
    const collector = this.collector(info.callSid);
    // Transcript pieces are the bulk of a long call's events; the final lines are what the record keeps.
    if (collector.events.length >= MAX_EVENTS_PER_CALL && !(event.type === 'transcript' && event.final)) {
      collector.dropped++;
      return;
    }
    collector.events.push(event);
  }

  async callEnded(info: CallInfo, summary: CallSummary): Promise<void> {
    await this.finish(info, summary);
  }

  /** Outbound calls that never connected (busy, no answer, failed) end here, with no stream summary. */
  async callNotConnected(info: CallInfo): Promise<void> {
    await this.finish(info, null);
  }

  /**
   * A call another instance served and took with it when it died (the cluster found it, src/cluster/): recorded with
   * what is known (who, which agent, when), ended `instance_lost`. Idempotent per callSid like every record.
   */
  callLost(info: CallInfo, endedAtEpochMs: number): void {
    const summary = { ...emptySummary(), callSid: info.callSid, streamSid: info.streamSid, endReason: 'instance_lost', durationMs: Math.max(0, endedAtEpochMs - info.startedAtEpochMs) };
    const record = buildCallRecord(
      { info, clockStartMs: info.clockStartMs, model: info.model, prices: this.options.config.records.prices, redactor: this.redactor, recording: null, endedAtEpochMs },
      [],
      summary,
    );
    this.writer.enqueue(record);
  }

  /** Waits for the records still being written, at most `deadlineMs`. */
  flush(deadlineMs: number): Promise<boolean> {
    return this.writer.flush(deadlineMs);
  }

  close(): void {
    this.retention.stop();
    this.writer.close();
  }

  private async finish(info: CallInfo, summary: CallSummary | null): Promise<void> {
    const collector = this.calls.get(info.callSid) ?? { events: [], dropped: 0, recording: null };
    this.calls.delete(info.callSid);
    const recording = collector.recording === null ? null : await collector.recording.close();
    if (collector.dropped > 0) this.logger.warn({ callSid: info.callSid, droppedEvents: collector.dropped }, 'call record: events beyond the per-call cap were left out');
    const record = buildCallRecord(
      {
        info,
        clockStartMs: info.clockStartMs,
        model: info.model,
        prices: this.options.config.records.prices,
        redactor: this.redactor,
        recording,
        endedAtEpochMs: Date.now(),
      },
      collector.events,
      summary,
    );
    this.writer.enqueue(record);
  }

  private collector(callSid: string): CallCollector {
    let collector = this.calls.get(callSid);
    if (collector === undefined) {
      collector = { events: [], dropped: 0, recording: null };
      this.calls.set(callSid, collector);
    }
    return collector;
  }
}
