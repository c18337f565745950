/**
 * Client events offered before the session is `ready`, held in call order. Audio appended before `session.updated`
 * confirmed the formats would be read in the server's default format, so nothing goes out early. Caller audio is
 * bounded (oldest chunk dropped first, counted); other events are never dropped, they carry the conversation.
 */
import type { RealtimeClientEvent } from './events.js';

interface HeldClientEvent {
  event: RealtimeClientEvent;
  /** Decoded audio bytes for an append, 0 otherwise: the hold limit counts audio only. */
  audioBytes: number;
}

export class HeldClientEvents {
  private entries: HeldClientEvent[] = [];
  private audioBytesHeld = 0;
  private droppedChunkCount = 0;
  private droppedByteCount = 0;

  /** `onFirstDrop`: the first time audio is dropped (log once; the counters tell the rest). */
  constructor(
    private readonly maxAudioBytes: number,
    private readonly onFirstDrop: () => void,
  ) {}

  get length(): number {
    return this.entries.length;
  }

  get audioBytes(): number {
    return this.audioBytesHeld;
  }

  get droppedChunks(): number {
    return this.droppedChunkCount;
  }

  get droppedBytes(): number {
    return this.droppedByteCount;
  }

  hold(event: RealtimeClientEvent, audioBytes: number): void {
    this.entries.push({ event, audioBytes });
    this.audioBytesHeld += audioBytes;
    while (this.audioBytesHeld > this.maxAudioBytes) {
      const index = this.entries.findIndex((entry) => entry.audioBytes > 0);
      if (index === -1) break;
      const [dropped] = this.entries.splice(index, 1);
      this.audioBytesHeld -= dropped!.audioBytes;
      this.droppedByteCount += dropped!.audioBytes;
      if (this.droppedChunkCount++ === 0) this.onFirstDrop();
    }
  }

  /** Hands every held event over in order and forgets them. */
  release(send: (event: RealtimeClientEvent, audioBytes: number) => void): void {
    const entries = this.entries;
    this.entries = [];
    this.audioBytesHeld = 0;
    for (const entry of entries) send(entry.event, entry.audioBytes);
  }

  /** Forgets everything held (the connection closed); returns how many events were lost. */
  discard(): number {
    const lost = this.entries.length;
    this.entries = [];
    this.audioBytesHeld = 0;
    return lost;
  }
}
