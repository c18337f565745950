/**
 * Records a call's inbound Twilio messages as JSON lines, `{"atMs":<ms since the recorder opened>,"message":…}`,
 * the same format as `fixtures/*.jsonl`, so a real call can be replayed through the simulated caller.
 *
 * The file is named after the call, but the recorder must exist before `start` (the `connected` and `start` lines
 * belong in the recording), so lines are held in memory until `identify()` names the file.
 */
import { randomBytes } from 'node:crypto';
import { createWriteStream, type WriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { systemClock, type Clock } from '../clock.js';
import { silentLogger, type Logger } from '../logger.js';

/** What the media stream transport needs from a recorder. */
export interface MediaStreamRecorder {
  /**
   * One inbound message, in arrival order.
   * @param text - The message text as received.
   * @param isJson - True when `text` parsed as JSON: it is then written as the JSON value, otherwise as a string.
   */
  record(text: string, isJson: boolean): void;
  /** Names the recording after the call; called once `start` arrives. */
  identify(ids: { streamSid: string; callSid: string }): void;
  /** Flushes and closes; idempotent. Never rejects (a recording failure must not fail a call). */
  close(): Promise<void>;
}

export interface CallRecorderOptions {
  /** Directory for recordings; created if missing. */
  dir: string;
  clock?: Clock;
  logger?: Logger;
  /** Lines held before `identify()` names the file; more are dropped and counted. Default 1000 (20 s of media). */
  maxPendingLines?: number;
}

/** Keeps SIDs (and anything hostile in them) to a safe file name component. */
export function sanitizeFileComponent(value: string): string {
  const clean = value.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 64);
  return clean === '' ? '_' : clean;
}

export class CallRecorder implements MediaStreamRecorder {
  private readonly dir: string;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly maxPendingLines: number;
  private readonly openedAtMs: number;
  private pending: string[] = [];
  private stream: WriteStream | null = null;
  private opening: Promise<void> | null = null;
  private filePath: string | null = null;
  private closing: Promise<void> | null = null;
  private failed = false;
  private recordedLines = 0;
  private droppedLines = 0;

  constructor(options: CallRecorderOptions) {
    this.dir = options.dir;
    this.clock = options.clock ?? systemClock;
    this.logger = options.logger ?? silentLogger();
    this.maxPendingLines = options.maxPendingLines ?? 1_000;
    this.openedAtMs = this.clock.now();
  }

  /** The recording's path once named, else null. */
  get path(): string | null {
    return this.filePath;
  }

  get stats(): { recordedLines: number; droppedLines: number } {
    return { recordedLines: this.recordedLines, droppedLines: this.droppedLines };
  }

  record(text: string, isJson: boolean): void {
    if (this.closing !== null || this.failed) return;
    const atMs = Math.round(this.clock.now() - this.openedAtMs);
    // Valid JSON text is spliced in as-is (no second parse on the media path). Raw CR/LF can only be whitespace
    // in valid JSON, so replacing them keeps the value and the one-line-per-message framing.
    const message = isJson ? (/[\r\n]/.test(text) ? text.replace(/[\r\n]/g, ' ') : text) : JSON.stringify(text);
    const line = `{"atMs":${atMs},"message":${message}}\n`;
    if (this.stream !== null) {
      this.stream.write(line);
      this.recordedLines++;
    } else if (this.filePath !== null || this.pending.length < this.maxPendingLines) {
      // Once named, the file is only waiting for mkdir/open: those lines are bounded by that short delay.
      this.pending.push(line);
      this.recordedLines++;
    } else {
      this.droppedLines++;
    }
  }

  identify(ids: { streamSid: string; callSid: string }): void {
    if (this.filePath !== null || this.closing !== null) return;
    this.open(`${sanitizeFileComponent(ids.callSid)}_${sanitizeFileComponent(ids.streamSid)}.jsonl`);
  }

  close(): Promise<void> {
    if (this.closing !== null) return this.closing;
    if (this.filePath === null && this.pending.length > 0) {
      // The stream never started: keep what arrived, it is the interesting part of a failed handshake.
      this.open(`unstarted_${randomBytes(6).toString('hex')}.jsonl`);
    }
    this.closing = this.finish();
    return this.closing;
  }

  private open(fileName: string): void {
    this.filePath = path.join(this.dir, fileName);
    const filePath = this.filePath;
    this.opening = mkdir(this.dir, { recursive: true }).then(
      () => {
        const stream = createWriteStream(filePath, { flags: 'a' });
        stream.on('error', (error) => {
          this.failed = true;
          this.logger.error({ err: error, path: filePath }, 'call recording failed');
        });
        for (const line of this.pending) stream.write(line);
        this.pending = [];
        this.stream = stream;
      },
      (error: unknown) => {
        this.failed = true;
        this.pending = [];
        this.logger.error({ err: error, dir: this.dir }, 'cannot create the recording directory');
      },
    );
  }

  private async finish(): Promise<void> {
    if (this.opening !== null) await this.opening;
    const stream = this.stream;
    if (stream === null) return;
    if (stream.closed) return;
    await new Promise<void>((resolve) => {
      stream.once('close', () => resolve());
      stream.end();
    });
    if (this.droppedLines > 0) {
      this.logger.warn({ path: this.filePath, droppedLines: this.droppedLines }, 'recording dropped lines before start');
    }
  }
}
