/**
 * The browser phone's playback queue: agent frames (PCM16) and mark names, in the order they arrived. Pure (no DOM,
 * no AudioWorklet): the playback worklet owns one and calls `pull` from `process()`.
 *
 * A mark is due once everything queued before it has been played: `pull` returns the marks the playhead reached
 * while filling the output (a mark at the head of the queue after the last sample written counts as reached). `clear`
 * drops every frame not yet played and returns every mark still pending, in order (the server wants them all echoed,
 * as Twilio does).
 */

type Entry = { readonly kind: 'frame'; readonly samples: Int16Array } | { readonly kind: 'mark'; readonly name: string };

export class PlaybackFifo {
  private entries: Entry[] = [];
  private head = 0;
  /** Samples of the head frame already played. */
  private offset = 0;
  private queuedSamples = 0;
  /** Frames played to the end. */
  framesPlayed = 0;
  samplesPlayed = 0;
  /** Output samples filled with silence because nothing was queued. */
  underrunSamples = 0;

  pushFrame(samples: Int16Array): void {
    if (samples.length === 0) return;
    this.entries.push({ kind: 'frame', samples });
    this.queuedSamples += samples.length;
  }

  pushMark(name: string): void {
    this.entries.push({ kind: 'mark', name });
  }

  /** Samples queued, not yet played. */
  get queued(): number {
    return this.queuedSamples;
  }

  /** Marks still waiting for the playhead. */
  get pendingMarks(): string[] {
    const names: string[] = [];
    for (let i = this.head; i < this.entries.length; i++) {
      const entry = this.entries[i]!;
      if (entry.kind === 'mark') names.push(entry.name);
    }
    return names;
  }

  /** Fills `out` (floats in [-1, 1)) from the queue, silence past its end; returns the marks the playhead passed. */
  pull(out: Float32Array): string[] {
    const marks: string[] = [];
    let written = 0;
    while (true) {
      const entry = this.entries[this.head];
      if (entry === undefined) break;
      if (entry.kind === 'mark') {
        marks.push(entry.name);
        this.advance();
        continue;
      }
      if (written === out.length) break;
      const take = Math.min(out.length - written, entry.samples.length - this.offset);
      for (let i = 0; i < take; i++) out[written + i] = entry.samples[this.offset + i]! / 32768;
      written += take;
      this.offset += take;
      this.queuedSamples -= take;
      this.samplesPlayed += take;
      if (this.offset === entry.samples.length) {
        this.framesPlayed++;
        this.advance();
      }
    }
    if (written < out.length) {
      out.fill(0, written);
      this.underrunSamples += out.length - written;
    }
    return marks;
  }

  /** Drops every frame not yet played (the one playing too); returns the pending marks, in order. */
  clear(): string[] {
    const marks = this.pendingMarks;
    this.entries = [];
    this.head = 0;
    this.offset = 0;
    this.queuedSamples = 0;
    return marks;
  }

  private advance(): void {
    this.head++;
    this.offset = 0;
    // Compact now and then so the array does not grow for the whole call.
    if (this.head >= 256 && this.head * 2 >= this.entries.length) {
      this.entries = this.entries.slice(this.head);
      this.head = 0;
    }
  }
}
