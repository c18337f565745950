/**
 * Agent audio sent to Twilio in one tick leaves as ONE `media` message: the frames' bytes joined in order (Twilio plays
 * any payload length, back to back, exactly as it plays the frames sent one by one). The pacer's burst at an answer's
 * start and each of its batches (pacer.ts, `quantumMs`) are sent back to back in one tick, so each becomes one message
 * instead of one per 20 ms frame: the WebSocket write per message is most of the agent → caller path's CPU.
 *
 * Ordering is the contract: the transport flushes pending audio before it sends a `mark` (a mark must sit right
 * behind the audio it acknowledges) or a `clear`, and before it closes the socket; otherwise pending audio goes at
 * the end of the current tick (the scheduler, by default `queueMicrotask`: right after the callback that sent it),
 * never later. Everything above the transport (sequence log, playback ledger, marks, the recording tap) still sees
 * every frame. The frames are copied into one staging buffer, reused across flushes (it is only read synchronously,
 * by the base64 encoding).
 */
import { ByteStaging } from '../net/byte-staging.js';

/** Runs `flush` at the end of the current tick (queueMicrotask, setImmediate, or a test's own). */
export type FlushScheduler = (flush: () => void) => void;

/** What a flush hands the transport: the joined payload, base64, and what it holds. */
export type CoalescedMedia = (payloadBase64: string, bytes: number, frames: number) => void;

const INITIAL_STAGING_BYTES = 4_096;

export class MediaCoalescer {
  private readonly staging = new ByteStaging(INITIAL_STAGING_BYTES);
  private pendingFrameCount = 0;
  private scheduled = false;
  private readonly scheduledFlush = (): void => {
    this.scheduled = false;
    this.flush();
  };

  constructor(
    private readonly emit: CoalescedMedia,
    private readonly schedule: FlushScheduler = queueMicrotask,
  ) {}

  /** Bytes waiting for the flush. */
  get pendingBytes(): number {
    return this.staging.length;
  }

  /** Appends one frame (any length) to the pending message; the flush is scheduled for the end of the tick. */
  add(bytes: Uint8Array): void {
    this.staging.append(bytes);
    this.pendingFrameCount++;
    if (!this.scheduled) {
      this.scheduled = true;
      this.schedule(this.scheduledFlush);
    }
  }

  /** Emits the pending audio now, as one message (nothing when none is pending). */
  flush(): void {
    const bytes = this.staging.length;
    if (bytes === 0) return;
    const frames = this.pendingFrameCount;
    const payloadBase64 = this.staging.view().toString('base64');
    this.staging.reset();
    this.pendingFrameCount = 0;
    this.emit(payloadBase64, bytes, frames);
  }

  /** Forgets the pending audio (the socket is gone: nothing can be sent). */
  discard(): void {
    this.staging.reset();
    this.pendingFrameCount = 0;
  }
}
