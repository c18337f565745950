/**
 * The server's estimate of what the caller has heard, as a phone would play it.
 *
 * Model: the client plays agent audio at 1× from the moment it arrives, back to back, with no jitter buffer. A chunk
 * sent at clock time `t` starts playing at max(t, end of the audio before it) and lasts its own duration. So at
 * any time the audio still "in the phone" is (audio sent) − (real time elapsed since playback started), net of
 * underruns, and a response is audible while that is positive or while it is still being streamed. When the
 * server interrupts a response, the client is assumed to clear what it had buffered at that moment.
 *
 * Everything is on the server clock; nothing here depends on what the client reports (the protocol has no message
 * for what was played).
 */

interface PlayedSegment {
  startMs: number;
  durationMs: number;
}

/** One response's audio on the playback timeline. */
export class ResponsePlayback {
  private readonly segments: PlayedSegment[] = [];

  /** Clock time at which its first audio started (or will start) playing; null before any audio. */
  get startedAtMs(): number | null {
    return this.segments[0]?.startMs ?? null;
  }

  add(startMs: number, durationMs: number): void {
    const last = this.segments[this.segments.length - 1];
    if (last !== undefined && Math.abs(last.startMs + last.durationMs - startMs) < 1e-9) {
      last.durationMs += durationMs;
      return;
    }
    this.segments.push({ startMs, durationMs });
  }

  /** ms of this response heard by clock time `nowMs`. */
  playedMs(nowMs: number): number {
    let played = 0;
    for (const segment of this.segments) played += Math.min(segment.durationMs, Math.max(0, nowMs - segment.startMs));
    return played;
  }

  /** Clock time at which the last audio sent so far finishes playing. */
  get endsAtMs(): number {
    const last = this.segments[this.segments.length - 1];
    return last === undefined ? -Infinity : last.startMs + last.durationMs;
  }
}

/** The conversation's playback line: one response after another, never overlapping. */
export class PlaybackLine {
  private endsAtMs = -Infinity;

  /** `durationMs` of audio of `response` arrives at `nowMs`: it plays after everything before it. */
  schedule(response: ResponsePlayback, nowMs: number, durationMs: number): void {
    const startMs = Math.max(nowMs, this.endsAtMs);
    this.endsAtMs = startMs + durationMs;
    response.add(startMs, durationMs);
  }

  /** ms of audio sent but not yet played at `nowMs`. */
  bufferedMs(nowMs: number): number {
    return Math.max(0, this.endsAtMs - nowMs);
  }

  /** The client dropped its buffer (after an interruption). */
  clear(nowMs: number): void {
    this.endsAtMs = Math.min(this.endsAtMs, nowMs);
  }
}
