/**
 * Messages a provider connection is offered before its session is ready, held in call order: caller audio sent
 * before the provider confirmed (OpenAI `session.updated`) or announced (ElevenLabs metadata) the formats would be
 * read in the wrong one. Caller audio is bounded (oldest chunk dropped first, counted); other messages are never
 * dropped, they carry the conversation.
 */

interface HeldMessage<M> {
  message: M;
  /** Decoded audio bytes of a caller-audio message, 0 otherwise: the bound counts audio only. */
  audioBytes: number;
}

export class HeldOutbound<M> {
  private entries: HeldMessage<M>[] = [];
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

  hold(message: M, audioBytes: number): void {
    this.entries.push({ message, audioBytes });
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

  /** Hands every held message over in order and forgets them. */
  release(send: (message: M, audioBytes: number) => void): void {
    const entries = this.entries;
    this.entries = [];
    this.audioBytesHeld = 0;
    for (const entry of entries) send(entry.message, entry.audioBytes);
  }

  /** Forgets everything held (the connection closed); returns how many messages were lost. */
  discard(): number {
    const lost = this.entries.length;
    this.entries = [];
    this.audioBytesHeld = 0;
    return lost;
  }
}
