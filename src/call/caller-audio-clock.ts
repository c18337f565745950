/**
 * Maps a position in the caller audio appended to the provider (ms from the session's first append) to a time on
 * the call's clock, so "the caller stopped speaking at audio_end_ms" becomes a moment turn latency can start from.
 *
 * Why two numbers suffice: caller audio arrives in real time and gaps are filled with silence, so the audio at
 * position p was heard (appendedMs − p) ms before the latest append arrived. No per-frame history is kept.
 */
export class CallerAudioClock {
  private appendedMs = 0;
  private lastAppendAtMs: number | null = null;

  /** `durationMs` of caller audio was appended at `atMs`. */
  appended(durationMs: number, atMs: number): void {
    this.appendedMs += durationMs;
    this.lastAppendAtMs = atMs;
  }

  /** When the caller audio at `positionMs` arrived; null before any append or for a position not yet appended. */
  timeOf(positionMs: number): number | null {
    if (this.lastAppendAtMs === null || positionMs > this.appendedMs) return null;
    return this.lastAppendAtMs - (this.appendedMs - positionMs);
  }

  /** A new provider session starts its audio timeline at 0 (re-dial). */
  reset(): void {
    this.appendedMs = 0;
    this.lastAppendAtMs = null;
  }
}
