/**
 * Turn latency, measured at the bridge: the moment the caller stopped speaking → the first agent frame of the
 * answer sent to the caller.
 *
 * The provider says where the caller's speech ended as a position in the audio appended to it (ms from the
 * session's first append). Caller audio arrives in real time and gaps are filled with silence, so the audio at
 * position p arrived (appendedMs − p) ms before the latest append: two numbers map it to our clock, no per-frame
 * history is kept.
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

export interface TurnLatencySample {
  readonly turn: number;
  readonly latencyMs: number;
}

/** Counts the caller's turns and times each one's answer (the first agent frame after the turn ended). */
export class TurnLatencyMeter {
  readonly callerAudio = new CallerAudioClock();
  private turnCount = 0;
  private awaiting: { turn: number; endedAtMs: number } | null = null;

  get turns(): number {
    return this.turnCount;
  }

  /** The caller's turn ended; `audioEndMs` is where their speech ended in the appended audio (null: now). */
  turnEnded(audioEndMs: number | null, nowMs: number): { turn: number; endedAtMs: number } {
    this.turnCount++;
    const endedAtMs = audioEndMs === null ? nowMs : Math.min(nowMs, this.callerAudio.timeOf(audioEndMs) ?? nowMs);
    this.awaiting = { turn: this.turnCount, endedAtMs };
    return this.awaiting;
  }

  /** An agent item's first frame went to the caller: the answer to the last turn, if one is awaited. */
  agentAudioStarted(sentAtMs: number): TurnLatencySample | null {
    const turn = this.awaiting;
    if (turn === null) return null;
    this.awaiting = null;
    return { turn: turn.turn, latencyMs: Math.max(0, sentAtMs - turn.endedAtMs) };
  }
}
