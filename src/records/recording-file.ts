/**
 * The file end of a recording: a FIFO of chunks in front of the write stream with a hard cap on what may wait for the
 * disk, and the WAV header (written with unknown sizes while the call runs, patched once the file is closed).
 */
import { open } from 'node:fs/promises';
import type { Writable } from 'node:stream';
import { MULAW_SAMPLE_RATE_HZ } from '../audio/frames.js';

export const CHANNELS = 2;
/** One stereo sample: two 16-bit channels. */
export const BYTES_PER_STEREO_SAMPLE = 4;
export const HEADER_BYTES = 44;
export const UNKNOWN_SIZE = 0xffffffff;

/**
 * The file end of the recording: a FIFO of chunks (and runs of silence, generated as the disk takes them) in front of
 * the write stream, with a hard cap on what may wait for the disk.
 */
export class FileSink {
  private stream: Writable | null = null;
  private readonly items: Array<Buffer | number> = [];
  private queuedDataBytes = 0;
  private waitingForDrain = false;
  private ending: ((written: boolean) => void) | null = null;
  private ended = false;
  private aborted = false;
  private static readonly SILENCE = Buffer.alloc(64 * 1024);

  constructor(
    private readonly maxPendingBytes: number,
    private readonly onFail: (reason: string, error?: unknown) => void,
  ) {}

  get backlogBytes(): number {
    return this.aborted ? 0 : this.queuedDataBytes + (this.stream?.writableLength ?? 0);
  }

  attach(stream: Writable): void {
    this.stream = stream;
    stream.on('error', (error) => this.onFail('write failed', error));
    stream.on('drain', () => {
      this.waitingForDrain = false;
      this.pump();
    });
    this.pump();
  }

  push(chunk: Buffer): void {
    if (this.aborted) return;
    this.items.push(chunk);
    this.queuedDataBytes += chunk.length;
    if (this.backlogBytes > this.maxPendingBytes) this.onFail(`the disk is not keeping up (${this.backlogBytes} bytes waiting)`);
    else this.pump();
  }

  /** Silence is counted, not held: it is generated piece by piece as the disk takes it. */
  pushSilence(bytes: number): void {
    if (this.aborted || bytes <= 0) return;
    this.items.push(bytes);
    this.pump();
  }

  /** Resolves true once everything is on disk and the stream closed, false if it failed. */
  end(): Promise<boolean> {
    if (this.aborted) return Promise.resolve(false);
    return new Promise((resolve) => {
      this.ending = resolve;
      this.pump();
    });
  }

  abort(): void {
    if (this.aborted) return;
    this.aborted = true;
    this.items.length = 0;
    this.queuedDataBytes = 0;
    this.stream?.destroy();
    this.ending?.(false);
    this.ending = null;
  }

  /** Resolves once the stream has let go of the file (or there never was one). */
  closed(): Promise<void> {
    const stream = this.stream;
    if (stream === null || stream.closed) return Promise.resolve();
    return new Promise((resolve) => stream.once('close', () => resolve()));
  }

  private pump(): void {
    const stream = this.stream;
    if (stream === null || this.aborted) return;
    while (this.items.length > 0 && !this.waitingForDrain) {
      const head = this.items[0]!;
      let piece: Buffer;
      if (typeof head === 'number') {
        piece = FileSink.SILENCE.subarray(0, Math.min(head, FileSink.SILENCE.length));
        if (head > piece.length) this.items[0] = head - piece.length;
        else this.items.shift();
      } else {
        piece = head;
        this.items.shift();
        this.queuedDataBytes -= head.length;
      }
      if (!stream.write(piece)) this.waitingForDrain = true;
    }
    if (this.items.length === 0 && this.ending !== null && !this.ended) {
      this.ended = true;
      const resolve = this.ending;
      stream.once('close', () => {
        this.ending = null;
        resolve(!this.aborted);
      });
      stream.end();
    }
  }
}

/** Writes the final sizes into the header, once the stream has let go of the file. */
export async function patchHeader(filePath: string, dataBytes: number, sampleRateHz: number = MULAW_SAMPLE_RATE_HZ): Promise<void> {
  const handle = await open(filePath, 'r+');
  try {
    await handle.write(wavHeader(dataBytes, sampleRateHz), 0, HEADER_BYTES, 0);
  } finally {
    await handle.close();
  }
}

/**
 * The canonical 44-byte header of 16-bit stereo PCM at `sampleRateHz` (the channel's rate: 8 kHz for Twilio);
 * `dataBytes` UNKNOWN_SIZE while the call runs.
 */
export function wavHeader(dataBytes: number, sampleRateHz: number = MULAW_SAMPLE_RATE_HZ): Buffer {
  const header = Buffer.alloc(HEADER_BYTES);
  header.write('RIFF', 0, 'ascii');
  header.writeUInt32LE(dataBytes === UNKNOWN_SIZE ? UNKNOWN_SIZE : Math.min(UNKNOWN_SIZE, 36 + dataBytes), 4);
  header.write('WAVE', 8, 'ascii');
  header.write('fmt ', 12, 'ascii');
  header.writeUInt32LE(16, 16);
  header.writeUInt16LE(1, 20); // PCM
  header.writeUInt16LE(CHANNELS, 22);
  header.writeUInt32LE(sampleRateHz, 24);
  header.writeUInt32LE(sampleRateHz * BYTES_PER_STEREO_SAMPLE, 28);
  header.writeUInt16LE(BYTES_PER_STEREO_SAMPLE, 32);
  header.writeUInt16LE(16, 34);
  header.write('data', 36, 'ascii');
  header.writeUInt32LE(Math.min(UNKNOWN_SIZE, dataBytes), 40);
  return header;
}
