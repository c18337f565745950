/**
 * The agent's audio on its way to the caller, item by item: converted to the channel's audio (CallAudioConversion)
 * and queued for paced playout (Playout). Owns which item is arriving, so an item cut short by a fault can still be
 * closed cleanly (its resampler tail released, its last frame padded, its end mark sent).
 */
import type { Playout } from './playout.js';
import type { CallAudioConversion } from './transcoding.js';

export class AgentSpeech {
  /** The agent item whose audio is arriving, until its end. */
  private openItem: { responseId: string; itemId: string } | null = null;

  constructor(
    private readonly audio: CallAudioConversion,
    private readonly playout: Playout,
  ) {}

  /** One delta of an item; false when it cannot be played (the session's formats are not known yet). */
  deliver(responseId: string, itemId: string, audio: Uint8Array): boolean {
    this.openItem = { responseId, itemId };
    const converted = this.audio.agent(audio);
    if (converted === null) return false;
    if (converted.length > 0) this.playout.enqueue(responseId, itemId, converted);
    return true;
  }

  /** Releases the resampler's tail and closes the item in the out-queue (padded last frame, end mark). */
  finish(responseId: string, itemId: string): void {
    const tail = this.audio.drainAgent();
    if (tail.length > 0) this.playout.enqueue(responseId, itemId, tail);
    this.playout.endItem(responseId, itemId);
    this.openItem = null;
  }

  /** The arriving item will never be finished by the provider (a fault): what came plays out, ended cleanly. */
  finishOpen(): void {
    if (this.openItem !== null) this.finish(this.openItem.responseId, this.openItem.itemId);
  }

  /** Audio in flight is dropped (a barge-in, an apology): the converter forgets it, no item is arriving. */
  reset(): void {
    this.audio.resetAgent();
    this.openItem = null;
  }
}
