/**
 * The per-call stereo recording: the caller on the left, the agent on the right exactly as the caller's channel played
 * it, on one timeline from the stream's start (time 0). 16-bit PCM at the channel's rate (Twilio: 8 kHz mu-law
 * decoded; the browser phone: its 16 or 24 kHz PCM16 as is), written while the call runs. The timeline counts samples
 * (`rate / 1000` a ms); a frame's bytes become samples through the channel's bytes per sample.
 *
 * The right channel follows the same model as Twilio (and src/simulator/twilio-playback.ts): media is appended to one
 * buffer and played at the channel's rate from the moment audio reaches an empty buffer; `clear` drops what is
 * buffered and not yet played, cut at the exact sample. So what sits in the right channel ahead of the playback
 * position is not final (a clear may still cut it) and only audio up to the playback position is committed. The left
 * channel is final up to the caller frames received (the media stream already fills Twilio's gaps, so they lie end to
 * end).
 *
 * Memory: samples live in one staging buffer from the commit point on, and are written out in 0.5 s chunks once both
 * channels are final. The staging span is bounded by the playback lead plus `maxSkewMs` (how far one side may run
 * ahead of a stalled other side before the stalled side is filled with silence), not by the call's length. Chunks,
 * slack and the default disk backlog are durations, so they scale with the rate.
 *
 * Everything on the per-frame path is synchronous, allocation-free except for one chunk copy per 0.5 s, and never
 * throws: a failing or stalled disk ends the recording (logged once), never the call.
 */
import { createWriteStream } from 'node:fs';
import { mkdir, unlink } from 'node:fs/promises';
import path from 'node:path';
import type { Writable } from 'node:stream';
import type { Clock } from '../clock.js';
import type { Logger } from '../logger.js';
import type { CallAudioTap } from '../call/call-journal.js';
import { TWILIO_AUDIO, type ChannelAudio } from '../audio/channel-audio.js';
import { decodeMulaw } from '../audio/mulaw.js';
import { BYTES_PER_STEREO_SAMPLE, CHANNELS, FileSink, HEADER_BYTES, patchHeader, UNKNOWN_SIZE, wavHeader } from './recording-file.js';
import type { RecordingInfo } from './types.js';

export interface CallRecordingOptions {
  /** Where the WAV goes (RECORDINGS_DIR/<name>.wav); the directory is created if missing. */
  path: string;
  clock: Clock;
  /** Clock reading that is time 0 of the recording: the stream's start. */
  originMs: number;
  logger: Logger;
  /** The caller channel's audio (both directions). Default TWILIO_AUDIO: 8 kHz mu-law. */
  audio?: ChannelAudio;
  /**
   * Bytes waiting for the disk above which the disk counts as stalled and the recording stops. Default 32 s of the
   * file's audio: 1 MiB at 8 kHz, 3 MiB at 24 kHz.
   */
  maxPendingBytes?: number;
  /** How far one channel may run ahead of the other before the lagging one is filled with silence, ms. Default 2000. */
  maxSkewMs?: number;
  /** Agent audio more than this far ahead of its playback position is not recorded (the pacer's lead is ≤ 5 s), ms. */
  maxAgentAheadMs?: number;
  /** close() gives up (and resolves null) if the disk has not taken the file within this time, ms. Default 10 000. */
  closeTimeoutMs?: number;
  /** Opens the file's stream; tests inject a stalling or failing one. Default: fs.createWriteStream. */
  openStream?: (filePath: string) => Writable;
}

/** mu-law byte → PCM16, the project's codec expanded once. */
const DECODE_TABLE: Int16Array = decodeMulaw(Uint8Array.from({ length: 256 }, (_, byte) => byte));
/** Same float slack as the simulated Twilio: a time equal to a boundary counts as reached. */
const EPSILON_MS = 1e-6;
/** Samples are written once this much is final on both channels (0.5 s: 4 000 samples, 16 KB at 8 kHz). */
const COMMIT_CHUNK_MS = 500;
/** The staging buffer's first size (8 192 samples at 8 kHz), grown on demand up to the bound. */
const INITIAL_CAPACITY_MS = 1_024;
/** Room for one odd-sized frame past the bounds (320 samples at 8 kHz). */
const FRAME_SLACK_MS = 40;
/** The default disk backlog: 32 s of the file's audio (1 MiB at 8 kHz). */
const MAX_PENDING_MS = 32_768;

export class CallRecording implements CallAudioTap {
  private readonly filePath: string;
  private readonly clock: Clock;
  private readonly originMs: number;
  private readonly logger: Logger;
  private readonly sampleRateHz: number;
  /** Timeline samples a ms: the channel's rate / 1000 (8 for Twilio). */
  private readonly samplesPerMs: number;
  private readonly bytesPerSample: number;
  /** PCM16 little-endian frames (else mu-law, decoded through the table). */
  private readonly pcm16: boolean;
  private readonly commitChunkSamples: number;
  private readonly maxSkewSamples: number;
  /** The staging buffer never grows past this: skew + agent lead + one chunk. */
  private readonly maxCapacitySamples: number;
  private readonly closeTimeoutMs: number;
  private readonly sink: FileSink;
  /** Interleaved L/R samples from `baseSample` on; beyond what was written, both channels are silence (0). */
  private staging: Int16Array;
  /** Timeline position (samples since time 0) of staging[0]: everything before it has gone to the file. */
  private baseSample = 0;
  /** Where the next caller sample goes. */
  private leftEndSample = 0;
  /** End of the agent audio staged (for the span only). */
  private rightEndSample = 0;
  // The agent's current run of back-to-back playback, as Twilio plays it.
  private runActive = false;
  private runStartMs = 0;
  private runStartSample = 0;
  /** Samples in the current run (frame bytes / bytes per sample). */
  private runSamples = 0;
  /** Where the last run stopped playing (its end, or where a clear cut it). */
  private heardEndSample = 0;
  private samplesDropped = 0;
  private callerFilledSamples = 0;
  private failed = false;
  private closing: Promise<RecordingInfo | null> | null = null;

  constructor(options: CallRecordingOptions) {
    this.filePath = options.path;
    this.clock = options.clock;
    this.originMs = options.originMs;
    this.logger = options.logger;
    const audio = options.audio ?? TWILIO_AUDIO;
    this.sampleRateHz = audio.format.sampleRateHz;
    this.samplesPerMs = this.sampleRateHz / 1000;
    this.bytesPerSample = audio.bytesPerSample;
    this.pcm16 = audio.format.encoding === 'pcm16';
    const samples = (ms: number): number => Math.round(ms * this.samplesPerMs);
    this.commitChunkSamples = samples(COMMIT_CHUNK_MS);
    this.maxSkewSamples = samples(options.maxSkewMs ?? 2_000);
    const maxAgentAheadSamples = samples(options.maxAgentAheadMs ?? 6_000);
    this.maxCapacitySamples = this.maxSkewSamples + maxAgentAheadSamples + this.commitChunkSamples + samples(FRAME_SLACK_MS);
    this.staging = new Int16Array(samples(INITIAL_CAPACITY_MS) * CHANNELS);
    this.closeTimeoutMs = options.closeTimeoutMs ?? 10_000;
    const maxPendingBytes = options.maxPendingBytes ?? samples(MAX_PENDING_MS) * BYTES_PER_STEREO_SAMPLE;
    this.sink = new FileSink(maxPendingBytes, (reason, error) => this.fail(reason, error));
    this.sink.push(wavHeader(UNKNOWN_SIZE, this.sampleRateHz));
    const openStream = options.openStream ?? ((filePath: string) => createWriteStream(filePath, { highWaterMark: 64 * 1024 }));
    mkdir(path.dirname(this.filePath), { recursive: true }).then(
      () => {
        if (this.failed) return;
        try {
          this.sink.attach(openStream(this.filePath));
        } catch (error) {
          this.fail('cannot open the file', error);
        }
      },
      (error: unknown) => this.fail('cannot create the directory', error),
    );
  }

  /** Audio staged in memory and not yet committed to the file, bytes (bounded by lead + skew + one chunk). */
  get pendingBytes(): number {
    return this.failed ? 0 : Math.max(0, Math.max(this.leftEndSample, this.rightEndSample) - this.baseSample) * BYTES_PER_STEREO_SAMPLE;
  }

  /** Bytes handed over for the disk and not yet written (what `maxPendingBytes` bounds). */
  get backlogBytes(): number {
    return this.sink.backlogBytes;
  }

  /** `samplesDropped`: audio that fell outside the recorded window (already written, or too far ahead). */
  get stats(): { samplesDropped: number; callerFilledMs: number; failed: boolean } {
    return { samplesDropped: this.samplesDropped, callerFilledMs: this.callerFilledSamples / this.samplesPerMs, failed: this.failed };
  }

  /** A caller frame as received, in the channel's audio; frames lie end to end from time 0. */
  callerAudio(frame: Uint8Array): void {
    if (this.closing !== null || this.failed) return;
    this.commit(this.clock.now() - this.originMs);
    const samples = this.samplesIn(frame);
    this.stage(this.leftEndSample, frame, samples, 0);
    this.leftEndSample += samples;
  }

  /** A frame the bridge sent to the caller at `sentAtMs` (clock reading): it plays at max(sentAt, end of what is buffered). */
  agentFrame(frame: Uint8Array, sentAtMs: number): void {
    if (this.closing !== null || this.failed) return;
    const sentMs = sentAtMs - this.originMs;
    // The channel's buffer ran dry before this frame came (within float slack: then it plays on back to back): a new run.
    if (!(this.runActive && this.runStartMs + this.runSamples / this.samplesPerMs > sentMs - EPSILON_MS)) {
      this.runActive = true;
      this.runStartMs = sentMs;
      this.runStartSample = Math.round(sentMs * this.samplesPerMs);
      this.runSamples = 0;
    }
    this.commit(Math.max(sentMs, this.clock.now() - this.originMs));
    const atSample = this.runStartSample + this.runSamples;
    const samples = this.samplesIn(frame);
    this.stage(atSample, frame, samples, 1);
    this.runSamples += samples;
    this.rightEndSample = Math.max(this.rightEndSample, atSample + samples);
  }

  /** The bridge sent `clear` at `atMs` (clock reading): what was buffered and not played by then is gone. */
  agentCleared(atMs: number): void {
    if (this.closing !== null || this.failed) return;
    this.cutAt(atMs - this.originMs);
    this.commit(Math.max(atMs, this.clock.now()) - this.originMs);
  }

  /**
   * Ends the recording at the clock's reading now (agent audio still buffered then was never heard), writes the rest
   * and the header's sizes. Resolves null when the recording failed; never rejects. Idempotent.
   */
  close(): Promise<RecordingInfo | null> {
    this.closing ??= this.finish();
    return this.closing;
  }

  private async finish(): Promise<RecordingInfo | null> {
    if (!this.failed) {
      const nowMs = this.clock.now() - this.originMs;
      this.cutAt(nowMs);
      const endSample = Math.max(this.leftEndSample, this.rightFinalSample(nowMs), this.baseSample);
      this.flushTo(endSample);
      this.staging = new Int16Array(0);
      let cancelTimeout = (): void => undefined;
      const timedOut = new Promise<boolean>((resolve) => {
        const timer = this.clock.setTimeout(() => resolve(false), this.closeTimeoutMs);
        cancelTimeout = () => this.clock.clearTimeout(timer);
      });
      const written = await Promise.race([this.sink.end(), timedOut]);
      cancelTimeout();
      if (!written) this.fail('the disk did not take the file in time');
      const dataBytes = endSample * BYTES_PER_STEREO_SAMPLE;
      try {
        if (!this.failed) {
          await patchHeader(this.filePath, dataBytes, this.sampleRateHz);
          // Whole ms, as the record stores it (the file itself ends on a sample).
          return { file: path.basename(this.filePath), durationMs: Math.round(endSample / this.samplesPerMs), bytes: HEADER_BYTES + dataBytes };
        }
      } catch (error) {
        this.fail('cannot write the header', error);
      }
    }
    // A failed recording is incomplete and referenced by no record: remove what was written (best effort).
    await this.sink.closed();
    await unlink(this.filePath).catch(() => undefined);
    return null;
  }

  /** Samples the agent has played by `atMs` in the current run (the simulated Twilio's arithmetic). */
  private playedSamples(atMs: number): number {
    if (this.runStartMs + this.runSamples / this.samplesPerMs <= atMs + EPSILON_MS) return this.runSamples;
    return Math.min(this.runSamples, Math.max(0, Math.floor((atMs - this.runStartMs) * this.samplesPerMs + EPSILON_MS)));
  }

  /** Drops the agent audio not played by `atMs` (a clear, or the end of the call), to the sample. */
  private cutAt(atMs: number): void {
    if (!this.runActive) return;
    const cutSample = this.runStartSample + this.playedSamples(atMs);
    const endSample = this.runStartSample + this.runSamples;
    for (let sample = Math.max(cutSample, this.baseSample); sample < endSample; sample++) {
      const index = (sample - this.baseSample) * CHANNELS + 1;
      if (index >= this.staging.length) break;
      this.staging[index] = 0;
    }
    this.runActive = false;
    this.heardEndSample = cutSample;
    this.rightEndSample = Math.min(this.rightEndSample, cutSample);
  }

  /**
   * The right channel is final before this sample at `atMs`: while a run plays, up to its playback position (a clear
   * cuts no earlier); otherwise up to now, since a later frame starts at round(r·t) ≥ floor(r·now) (r: samples a ms).
   */
  private rightFinalSample(atMs: number): number {
    if (this.runActive) {
      const runEndMs = this.runStartMs + this.runSamples / this.samplesPerMs;
      if (runEndMs > atMs + EPSILON_MS) return this.runStartSample + this.playedSamples(atMs);
      return Math.max(this.runStartSample + this.runSamples, Math.floor(atMs * this.samplesPerMs));
    }
    return Math.max(this.heardEndSample, Math.floor(atMs * this.samplesPerMs));
  }

  /** Writes out what both channels agree is final, once there is a chunk of it; bounds the skew between them. */
  private commit(atMs: number): void {
    if (this.failed) return;
    const rightFinal = this.rightFinalSample(atMs);
    if (this.leftEndSample < rightFinal - this.maxSkewSamples) {
      // No caller frames for a while (stream gap): that stretch of the left channel is silence.
      this.callerFilledSamples += rightFinal - this.maxSkewSamples - this.leftEndSample;
      this.leftEndSample = rightFinal - this.maxSkewSamples;
    }
    // Caller frames far ahead of the playback position: the agent's side is committed as it stands.
    const commitTo = Math.max(Math.min(this.leftEndSample, rightFinal), this.leftEndSample - this.maxSkewSamples);
    if (commitTo - this.baseSample >= this.commitChunkSamples) this.flushTo(commitTo);
  }

  /** Hands [baseSample, toSample) to the file; what lies past the staging buffer is silence. */
  private flushTo(toSample: number): void {
    const spanSamples = toSample - this.baseSample;
    if (spanSamples <= 0 || this.failed) return;
    const capacitySamples = this.staging.length / CHANNELS;
    const stagedSamples = Math.min(spanSamples, capacitySamples);
    // A copy: the stream keeps the chunk until written, and the staging buffer is reused at once.
    this.sink.push(Buffer.copyBytesFrom(this.staging, 0, stagedSamples * CHANNELS));
    if (spanSamples > stagedSamples) this.sink.pushSilence((spanSamples - stagedSamples) * BYTES_PER_STEREO_SAMPLE);
    this.staging.copyWithin(0, stagedSamples * CHANNELS);
    this.staging.fill(0, (capacitySamples - stagedSamples) * CHANNELS);
    this.baseSample = toSample;
  }

  /** Whole samples in a frame (a stray odd byte of PCM16 is no sample: left out). */
  private samplesIn(frame: Uint8Array): number {
    return this.bytesPerSample === 1 ? frame.length : Math.floor(frame.length / this.bytesPerSample);
  }

  /**
   * Decodes the frame's `samples` into one channel from timeline position `atSample`; what is already written or too
   * far ahead is lost.
   */
  private stage(atSample: number, frame: Uint8Array, samples: number, channel: 0 | 1): void {
    let from = 0;
    let index = atSample - this.baseSample;
    if (index < 0) {
      from = Math.min(-index, samples);
      index = 0;
    }
    const neededSamples = index + samples - from;
    if (neededSamples * CHANNELS > this.staging.length) this.grow(neededSamples);
    const to = Math.min(samples, from + this.staging.length / CHANNELS - index);
    if (to - from < samples) this.dropped(samples - Math.max(0, to - from));
    const staging = this.staging;
    let out = index * CHANNELS + channel;
    if (this.pcm16) {
      // Little-endian, byte by byte: no view to allocate, whatever the frame's alignment (ws Buffers may be odd);
      // storing into the Int16Array wraps 0x8000..0xffff to the negative samples.
      for (let byte = from * 2, end = to * 2; byte < end; byte += 2, out += CHANNELS) staging[out] = frame[byte]! | (frame[byte + 1]! << 8);
    } else {
      for (let sample = from; sample < to; sample++, out += CHANNELS) staging[out] = DECODE_TABLE[frame[sample]!]!;
    }
  }

  private grow(neededSamples: number): void {
    const currentSamples = this.staging.length / CHANNELS;
    const samples = Math.min(this.maxCapacitySamples, Math.max(neededSamples, currentSamples * 2));
    if (samples <= currentSamples) return;
    const grown = new Int16Array(samples * CHANNELS);
    grown.set(this.staging);
    this.staging = grown;
  }

  private dropped(samples: number): void {
    if (this.samplesDropped === 0) this.logger.warn({ file: this.filePath }, 'recording: audio outside the recorded window, not recorded');
    this.samplesDropped += samples;
  }

  private fail(reason: string, error?: unknown): void {
    if (this.failed) return;
    this.failed = true;
    this.staging = new Int16Array(0);
    this.sink.abort();
    this.logger.warn({ err: error, file: this.filePath }, `recording stopped: ${reason}`);
  }
}
