/**
 * The caller's side: `user_audio_chunk` payloads decoded per the agent's `user_input_audio_format`, the shared
 * energy VAD (realtime/vad.ts) run on them in AUDIO time (ms of caller audio received since the conversation
 * started, never wall time), and the turn-taking it drives: speech onset may interrupt the agent (responses.ts);
 * the end of speech sends `user_transcript` (next event id) and asks for an answer.
 */
import { StreamingResampler } from '../../audio/resampler.js';
import { base64ToBytes } from '../../audio/pcm.js';
import { EnergyVad, thresholdToRms, VAD_WINDOW_MS, type VadTransition } from '../realtime/vad.js';
import type { ConversationContext } from './context.js';
import { CallerAudioDecoder } from './formats.js';
import type { ResponseStreamer } from './responses.js';
import type { CallerTurnRecord } from './types.js';

/** The VAD judges whole 10 ms windows: rates without a whole number of samples in one (22 050 Hz) are resampled for it. */
const VAD_FALLBACK_RATE_HZ = 16_000;

export class CallerTurns {
  readonly turns: CallerTurnRecord[] = [];
  /** Caller audio received: payload bytes, chunks, and ms (audio time). */
  bytesReceived = 0;
  chunksReceived = 0;
  receivedMs = 0;

  private readonly decoder: CallerAudioDecoder;
  private readonly vad: EnergyVad;
  private readonly vadResampler: StreamingResampler | null;
  private speechStartMs = 0;

  constructor(
    private readonly context: ConversationContext,
    private readonly streamer: ResponseStreamer,
  ) {
    const format = context.agent.input;
    this.decoder = new CallerAudioDecoder(format);
    this.vad = new EnergyVad(context.agent.vad);
    const wholeWindow = Number.isInteger((VAD_WINDOW_MS * format.sampleRateHz) / 1000);
    this.vadResampler = wholeWindow ? null : new StreamingResampler(format.sampleRateHz, VAD_FALLBACK_RATE_HZ);
  }

  /** The caller is mid-speech by the VAD. */
  get inSpeech(): boolean {
    return this.vad.inSpeech;
  }

  onAudioChunk(base64: string): void {
    const { context } = this;
    const bytes = base64ToBytes(base64);
    this.bytesReceived += bytes.length;
    this.chunksReceived++;
    const samples = this.decoder.push(bytes);
    const rateHz = context.agent.input.sampleRateHz;
    this.receivedMs += (samples.length * 1000) / rateHz;
    if (context.agent.sendVadScores) context.emit('vad_score', { vad_score: this.vadScore(samples) });
    const transitions =
      this.vadResampler === null ? this.vad.push(samples, rateHz) : this.vad.push(this.vadResampler.process(samples), VAD_FALLBACK_RATE_HZ);
    for (const transition of transitions) {
      if (context.isClosed()) return;
      this.onTransition(transition);
    }
  }

  dispose(): void {
    this.vadResampler?.dispose();
  }

  private onTransition(transition: VadTransition): void {
    if (transition.kind === 'speech_started') {
      this.speechStartMs = transition.audioStartMs;
      this.streamer.onCallerSpeechStarted(transition.onsetMs);
      return;
    }
    const index = this.turns.length;
    const transcript = this.context.agent.callerTranscripts[index] ?? `Caller turn ${index + 1}.`;
    this.turns.push({ index, audioStartMs: this.speechStartMs, audioEndMs: transition.audioEndMs, transcript, atMs: this.context.sinceConnectMs() });
    this.context.emit('user_transcript', { user_transcript: transcript, event_id: this.context.nextEventId() });
    this.streamer.scheduleAnswer('turn');
  }

  /** The chunk's RMS against the VAD threshold, squashed to 0..1 (0.5 at the threshold), three decimals. */
  private vadScore(samples: Int16Array): number {
    if (samples.length === 0) return 0;
    let sumSquares = 0;
    for (const sample of samples) sumSquares += sample * sample;
    const ratio = Math.sqrt(sumSquares / samples.length) / thresholdToRms(this.context.agent.vad.threshold);
    return Math.round((ratio / (1 + ratio)) * 1000) / 1000;
  }
}
