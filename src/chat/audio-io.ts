/**
 * The terminal client's audio devices, through SoX when it is installed: `play` for the agent's voice, `rec` for
 * the microphone; without `play` (or with --no-play) each answer is saved as a WAV file instead.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Clock } from '../clock.js';
import { bytesToPcm16, Pcm16Reassembler, pcm16ToBytes } from '../audio/pcm.js';
import { writeWav } from '../audio/wav.js';
import { AnswerCollector } from './answer-collector.js';

/** The raw format SoX reads and writes here: PCM16 LE mono at `rateHz`. */
export function soxRawArgs(rateHz: number): string[] {
  return ['-q', '-t', 'raw', '-r', String(rateHz), '-e', 'signed', '-b', '16', '-c', '1', '-'];
}

/**
 * Keeps the last few hundred characters `child` writes on stderr; the returned function says how the child stopped,
 * in one line: `<what> stopped (exit N): <its last stderr line>`.
 */
function exitLine(child: ChildProcess, what: string): (code: number | null) => string {
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-300)));
  return (code) => {
    const last = stderr.trim();
    return `chat: ${what} stopped (exit ${code ?? 'signal'})${last === '' ? '' : `: ${last.split('\n').pop()}`}`;
  };
}

/** The executable `name` on PATH, or null. */
export function findOnPath(name: string, pathVariable = process.env['PATH'] ?? ''): string | null {
  for (const dir of pathVariable.split(path.delimiter)) {
    if (dir === '') continue;
    const candidate = path.join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return null;
}

/** How early `play` gets each frame: a little audio ahead keeps it from running dry between frames. */
export const PLAY_LEAD_MS = 80;

/** Where the agent's audio goes, frame by frame as it plays (see PlayoutModel). */
export interface AudioSink {
  /** How early the sink wants frames (ms before they play). */
  readonly leadMs: number;
  frame(bytes: Uint8Array, startMs: number, endMs: number): void;
  /** A clear: what is being collected ends here. */
  cut(): void;
  /** The end of the call: finish (play out, write the last file). */
  close(): Promise<void>;
}

/** Pipes frames to `play`. A `play` that fails (no audio device, say) is reported once through `onFail`. */
export class PlaySink implements AudioSink {
  readonly leadMs = PLAY_LEAD_MS;
  private readonly child: ChildProcess;
  private dead = false;
  private readonly exited: Promise<void>;

  constructor(playPath: string, rateHz: number, onFail: (why: string) => void) {
    this.child = spawn(playPath, soxRawArgs(rateHz), { stdio: ['pipe', 'ignore', 'pipe'] });
    const stoppedLine = exitLine(this.child, 'play');
    this.child.stdin?.on('error', () => undefined);
    const fail = (why: string) => {
      if (this.dead) return;
      this.dead = true;
      onFail(why);
    };
    this.exited = new Promise((resolve) => {
      this.child.once('error', (error) => {
        fail(`chat: play failed: ${error.message}`);
        resolve();
      });
      this.child.once('exit', (code) => {
        if (code !== 0) fail(stoppedLine(code));
        this.dead = true;
        resolve();
      });
    });
  }

  frame(bytes: Uint8Array): void {
    if (!this.dead) this.child.stdin?.write(bytes);
  }

  cut(): void {
    // What play has buffered (at most leadMs) plays out.
  }

  async close(): Promise<void> {
    this.child.stdin?.end();
    const timeout = new Promise<void>((resolve) => setTimeout(resolve, 10_000).unref());
    await Promise.race([this.exited, timeout]);
    if (!this.dead) {
      // Still playing after 10 s: stop it, quietly.
      this.dead = true;
      this.child.kill();
    }
  }
}

/** `play`, and when it fails, the sink `fallback` makes (WAV files): the answers are not lost on a silent machine. */
export class PlayOrFallbackSink implements AudioSink {
  readonly leadMs = PLAY_LEAD_MS;
  private readonly play: PlaySink;
  private fallback: AudioSink | null = null;

  constructor(playPath: string, rateHz: number, makeFallback: (why: string) => AudioSink) {
    this.play = new PlaySink(playPath, rateHz, (why) => (this.fallback = makeFallback(why)));
  }

  frame(bytes: Uint8Array, startMs: number, endMs: number): void {
    if (this.fallback !== null) this.fallback.frame(bytes, startMs, endMs);
    else this.play.frame(bytes);
  }

  cut(): void {
    this.fallback?.cut();
  }

  async close(): Promise<void> {
    await this.play.close();
    await this.fallback?.close();
  }
}

/** Saves each answer (AnswerCollector) as `<callSid>-<n>.wav` in `dir` and prints `♪ saved <path> (<ms> ms)`. */
export class WavSink implements AudioSink {
  readonly leadMs = 0;
  private readonly collector: AnswerCollector;
  private count = 0;

  constructor(options: { clock: Clock; rateHz: number; dir: string; prefix: string; print: (line: string) => void; warn: (line: string) => void }) {
    mkdirSync(options.dir, { recursive: true });
    this.collector = new AnswerCollector({
      clock: options.clock,
      sampleRateHz: options.rateHz,
      onAnswer: (pcm, durationMs) => {
        this.count++;
        const file = path.join(options.dir, `${options.prefix}-${String(this.count).padStart(2, '0')}.wav`);
        try {
          writeFileSync(file, writeWav(bytesToPcm16(pcm), options.rateHz));
          options.print(`♪ saved ${file} (${durationMs} ms)`);
        } catch (error) {
          options.warn(`chat: cannot save ${file}: ${error instanceof Error ? error.message : String(error)}`);
        }
      },
    });
  }

  frame(bytes: Uint8Array, startMs: number, endMs: number): void {
    this.collector.add(bytes, startMs, endMs);
  }

  cut(): void {
    this.collector.cut();
  }

  async close(): Promise<void> {
    this.collector.cut();
  }
}

/** The microphone through `rec`: whole PCM16 samples, as they come. */
export class MicSource {
  private readonly child: ChildProcess;
  private readonly samples = new Pcm16Reassembler();
  private stopped = false;

  constructor(recPath: string, rateHz: number, handlers: { onAudio: (bytes: Uint8Array) => void; onStop: (line: string) => void }) {
    this.child = spawn(recPath, soxRawArgs(rateHz), { stdio: ['ignore', 'pipe', 'pipe'] });
    const stoppedLine = exitLine(this.child, 'rec');
    this.child.stdout?.on('data', (chunk: Buffer) => {
      const whole = pcm16ToBytes(this.samples.push(chunk));
      if (whole.length > 0 && !this.stopped) handlers.onAudio(whole);
    });
    this.child.once('error', (error) => {
      if (!this.stopped) handlers.onStop(`chat: rec failed: ${error.message}`);
      this.stopped = true;
    });
    this.child.once('exit', (code) => {
      if (!this.stopped) handlers.onStop(stoppedLine(code));
      this.stopped = true;
    });
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.child.kill();
  }
}
