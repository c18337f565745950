/**
 * A scripted browser phone for tests, speaking docs/console.md's socket protocol on a real socket: it plays agent
 * frames on a wall-clock playout (as the page's playback worklet does), echoes each mark once everything before it
 * has played, and on `clear` drops what has not played and echoes the pending marks. Caller audio goes out in real
 * time, silence unless `speak()` queued a tone.
 */
import WebSocket from 'ws';

export interface PlayedFrame {
  readonly bytes: Uint8Array;
  /** Wall-clock ms (Date.now()) when it starts playing. */
  readonly startsAtMs: number;
}

export interface PhoneClientResult {
  start: Record<string, unknown> | null;
  frames: PlayedFrame[];
  marksEchoed: string[];
  clears: number[];
  transcripts: Array<{ speaker: string; itemId: string; text: string; final: boolean }>;
  end: Record<string, unknown> | null;
  closeCode: number | null;
}

export class BrowserPhoneClient {
  readonly result: PhoneClientResult = { start: null, frames: [], marksEchoed: [], clears: [], transcripts: [], end: null, closeCode: null };
  readonly socket: WebSocket;
  readonly closed: Promise<number>;
  private playoutEndMs = 0;
  private readonly pendingMarks: Array<{ name: string; timer: NodeJS.Timeout }> = [];
  private sender: NodeJS.Timeout | null = null;
  private toSpeak: Int16Array[] = [];
  private readonly frameSamples: number;

  constructor(
    url: string,
    readonly rateHz = 24_000,
    headers: Record<string, string> = {},
  ) {
    this.frameSamples = (rateHz / 1000) * 20;
    this.socket = new WebSocket(url, { headers });
    this.closed = new Promise((resolve) => {
      this.socket.on('close', (code) => {
        this.result.closeCode = code;
        if (this.sender !== null) clearInterval(this.sender);
        for (const mark of this.pendingMarks.splice(0)) clearTimeout(mark.timer);
        resolve(code);
      });
    });
    this.socket.on('message', (data, isBinary) => this.onMessage(data as Buffer, isBinary));
    this.socket.on('open', () => {
      // Real time, 20 ms at a time (setInterval drifts a little; the server takes whole samples of any count).
      this.sender = setInterval(() => this.sendFrame(), 20);
    });
  }

  /** Queues a loud tone (speech to the simulator's VAD) of `ms`, sent in real time instead of silence. */
  speak(ms: number, frequencyHz = 700, amplitude = 8_000): void {
    const samples = new Int16Array((ms * this.rateHz) / 1000);
    for (let index = 0; index < samples.length; index++) samples[index] = Math.round(amplitude * Math.sin((2 * Math.PI * frequencyHz * index) / this.rateHz));
    for (let offset = 0; offset < samples.length; offset += this.frameSamples) this.toSpeak.push(samples.subarray(offset, offset + this.frameSamples));
  }

  send(message: Record<string, unknown>): void {
    this.socket.send(JSON.stringify(message));
  }

  /** Agent audio that has played by now, ms. */
  playedMs(nowMs = Date.now()): number {
    let played = 0;
    for (const frame of this.result.frames) {
      const frameMs = frame.bytes.length / 2 / (this.rateHz / 1000);
      if (frame.startsAtMs >= nowMs) break;
      played += Math.min(frameMs, nowMs - frame.startsAtMs);
    }
    return played;
  }

  close(): void {
    this.socket.close();
  }

  private sendFrame(): void {
    if (this.socket.readyState !== WebSocket.OPEN) return;
    const next = this.toSpeak.shift() ?? new Int16Array(this.frameSamples);
    this.socket.send(Buffer.from(next.buffer, next.byteOffset, next.byteLength));
  }

  private onMessage(data: Buffer, isBinary: boolean): void {
    const nowMs = Date.now();
    if (isBinary) {
      const startsAtMs = Math.max(nowMs, this.playoutEndMs);
      this.playoutEndMs = startsAtMs + data.length / 2 / (this.rateHz / 1000);
      this.result.frames.push({ bytes: new Uint8Array(data), startsAtMs });
      return;
    }
    const message = JSON.parse(data.toString('utf8')) as Record<string, unknown>;
    switch (message['type']) {
      case 'start':
        this.result.start = message;
        return;
      case 'mark': {
        const name = String(message['name']);
        const timer = setTimeout(() => this.echo(name), Math.max(0, this.playoutEndMs - nowMs));
        this.pendingMarks.push({ name, timer });
        return;
      }
      case 'clear': {
        this.result.clears.push(nowMs);
        // What has not started playing is dropped; the frame playing now is cut where it is.
        this.result.frames = this.result.frames.filter((frame) => frame.startsAtMs <= nowMs);
        this.playoutEndMs = nowMs;
        for (const mark of this.pendingMarks.splice(0)) {
          clearTimeout(mark.timer);
          this.echo(mark.name, false);
        }
        return;
      }
      case 'transcript':
        this.result.transcripts.push(message as unknown as PhoneClientResult['transcripts'][number]);
        return;
      case 'end':
        this.result.end = message;
        return;
    }
  }

  private echo(name: string, remove = true): void {
    if (remove) {
      const index = this.pendingMarks.findIndex((mark) => mark.name === name);
      if (index !== -1) this.pendingMarks.splice(index, 1);
    }
    this.result.marksEchoed.push(name);
    if (this.socket.readyState === WebSocket.OPEN) this.send({ type: 'mark', name });
  }
}
