/**
 * Energy-based voice activity detection on AUDIO time, standing in for the Realtime API's server VAD.
 *
 * Like the real API, every timestamp is milliseconds of audio appended since the session started, never wall time:
 * a client that appends faster or slower than real time moves the VAD's clock with its audio, not with the wall.
 *
 * Audio is judged in 10 ms windows. A window is speech when its RMS reaches the level the session's `threshold`
 * maps to (see `thresholdToRms`). Speech starts at the first loud window (its start is the onset), and the
 * `speech_started.audio_start_ms` is the onset minus `prefix_padding_ms` (never below 0), as the real event
 * includes the padding. Speech stops once `silence_duration_ms` of consecutive quiet windows follow the last loud
 * one; `audio_end_ms` is that point (last loud window's end + silence), which, as the typings document, includes
 * the silence.
 */

export const VAD_WINDOW_MS = 10;

/**
 * Maps the API's 0..1 `threshold` to an RMS level on a PCM16 scale, linear in decibels: 0 → −60 dBFS (RMS 33),
 * 0.5 (the default) → −40 dBFS (RMS 328), 1 → −20 dBFS (RMS 3 277). Phone speech sits around −30..−15 dBFS and a
 * quiet line below −50, so the default separates them, and a higher threshold needs louder audio, as the real one.
 */
export function thresholdToRms(threshold: number): number {
  const clamped = Math.min(1, Math.max(0, threshold));
  return 32_768 * 10 ** ((-60 + 40 * clamped) / 20);
}

export interface VadSettings {
  threshold: number;
  prefixPaddingMs: number;
  silenceDurationMs: number;
}

export type VadTransition =
  | { kind: 'speech_started'; onsetMs: number; audioStartMs: number }
  | { kind: 'speech_stopped'; audioEndMs: number };

export class EnergyVad {
  private settings: VadSettings;
  private rmsLevel: number;
  /** Samples of the window being filled (its rate is whatever the caller passes with them). */
  private pending: number[] = [];
  private pendingRateHz = 0;
  /** Audio time at the start of the window being filled. */
  private windowStartMs: number;
  private speaking = false;
  private lastLoudEndMs = 0;
  private quietMs = 0;

  constructor(settings: VadSettings, startMs = 0) {
    this.settings = settings;
    this.rmsLevel = thresholdToRms(settings.threshold);
    this.windowStartMs = startMs;
  }

  get inSpeech(): boolean {
    return this.speaking;
  }

  /** New settings from a session.update take effect from the next window; detection state is kept. */
  configure(settings: VadSettings): void {
    this.settings = settings;
    this.rmsLevel = thresholdToRms(settings.threshold);
  }

  /** Forgets any speech in progress (the buffer was cleared or committed by hand); time carries on from `atMs`. */
  reset(atMs: number): void {
    this.pending = [];
    this.windowStartMs = atMs;
    this.speaking = false;
    this.quietMs = 0;
  }

  /** Feeds the next appended samples; returns the transitions they complete, in order. */
  push(samples: Int16Array, sampleRateHz: number): VadTransition[] {
    if (sampleRateHz !== this.pendingRateHz) {
      // The input format changed mid-session: a part-window at the old rate cannot be finished at the new one.
      if (this.pending.length > 0) this.windowStartMs += (this.pending.length * 1000) / this.pendingRateHz;
      this.pending = [];
      this.pendingRateHz = sampleRateHz;
    }
    const windowSamples = (VAD_WINDOW_MS * sampleRateHz) / 1000;
    const transitions: VadTransition[] = [];
    for (let index = 0; index < samples.length; index++) {
      this.pending.push(samples[index]!);
      if (this.pending.length === windowSamples) {
        this.judgeWindow(transitions);
        this.pending = [];
        this.windowStartMs += VAD_WINDOW_MS;
      }
    }
    return transitions;
  }

  private judgeWindow(transitions: VadTransition[]): void {
    let sumSquares = 0;
    for (const sample of this.pending) sumSquares += sample * sample;
    const loud = Math.sqrt(sumSquares / this.pending.length) >= this.rmsLevel;
    const windowEndMs = this.windowStartMs + VAD_WINDOW_MS;
    if (loud) {
      if (!this.speaking) {
        this.speaking = true;
        const onsetMs = this.windowStartMs;
        transitions.push({ kind: 'speech_started', onsetMs, audioStartMs: Math.max(0, onsetMs - this.settings.prefixPaddingMs) });
      }
      this.lastLoudEndMs = windowEndMs;
      this.quietMs = 0;
      return;
    }
    if (!this.speaking) return;
    this.quietMs += VAD_WINDOW_MS;
    if (this.quietMs >= this.settings.silenceDurationMs) {
      this.speaking = false;
      this.quietMs = 0;
      transitions.push({ kind: 'speech_stopped', audioEndMs: this.lastLoudEndMs + this.settings.silenceDurationMs });
    }
  }
}
