/**
 * One terminal call over the browser-phone socket (docs/console.md): opens `/phone/ws`, keeps the caller's line
 * going (silence in real time, or the microphone), sends typed lines, plays the agent through the PlayoutModel into
 * an AudioSink and echoes marks as they play, prints the transcript, and hangs up on /quit, end of input or Ctrl-C
 * (a second Ctrl-C leaves at once). The logic lives in the pure modules (playout-model, frame-ticker, protocol); this file only wires sockets to them.
 */
import readline from 'node:readline';
import WebSocket from 'ws';
import type { Clock } from '../clock.js';
import { ChatError, EXIT } from './args.js';
import type { AudioSink } from './audio-io.js';
import { MicSource } from './audio-io.js';
import { FrameTicker } from './frame-ticker.js';
import { PlayoutModel } from './playout-model.js';
import { clientMessage, inputAction, parseServerMessage, TranscriptView } from './protocol.js';

export const FRAME_MS = 20;
/** After a hangup, how long to wait for the server's end before closing the socket ourselves. */
const HANGUP_GRACE_MS = 5_000;
const HANDSHAKE_TIMEOUT_MS = 15_000;

export interface ChatSessionOptions {
  /** ws(s)://…/phone/ws?token=…&rate=… (holds a one-time token: never printed). */
  readonly socketUrl: string;
  /** The base URL, for messages. */
  readonly baseUrl: string;
  /** Sent as the upgrade's Origin. */
  readonly origin: string;
  readonly rateHz: number;
  readonly clock: Clock;
  /** The microphone (`rec`'s path), or null for real-time silence. */
  readonly recPath: string | null;
  /** The agent's audio goes here; called once, at the start message. */
  readonly makeSink: (call: { callSid: string; rateHz: number }) => AudioSink;
  readonly input: NodeJS.ReadableStream;
  readonly output: NodeJS.WritableStream & { isTTY?: boolean };
  /** One line on stderr. */
  readonly warn: (line: string) => void;
}

export class ChatSession {
  private readonly options: ChatSessionOptions;
  private ws: WebSocket | null = null;
  private rl: readline.Interface | null = null;
  private readonly transcript = new TranscriptView();
  private model: PlayoutModel | null = null;
  private sink: AudioSink | null = null;
  private ticker: FrameTicker | null = null;
  private mic: MicSource | null = null;
  private ended = false;
  private hungUp = false;
  private opened = false;
  private finished = false;
  /** A second Ctrl-C: leave without waiting for anything. */
  private forced = false;
  private hangupTimer: ReturnType<typeof setTimeout> | null = null;

  constructor(options: ChatSessionOptions) {
    this.options = options;
  }

  /** Prints one line to stdout (keeping a terminal's prompt below it). */
  print(line: string): void {
    const { output } = this.options;
    if (this.rl !== null && output.isTTY === true) {
      readline.clearLine(output, 0);
      readline.cursorTo(output, 0);
      output.write(`${line}\n`);
      this.rl.prompt(true);
    } else output.write(`${line}\n`);
  }

  /**
   * Opens the socket (a ChatError when refused or unreachable), then runs the call; resolves with the exit status.
   * Every listener is on before the handshake: the server's first message can arrive with the upgrade's answer.
   */
  run(): Promise<number> {
    const { socketUrl, origin, baseUrl } = this.options;
    return new Promise<number>((resolve, reject) => {
      const ws = new WebSocket(socketUrl, { headers: { Origin: origin }, handshakeTimeout: HANDSHAKE_TIMEOUT_MS, perMessageDeflate: false });
      this.ws = ws;
      ws.on('message', (data, isBinary) => this.onMessage(data as Buffer, isBinary));
      ws.once('open', () => {
        this.opened = true;
        this.startLine();
        this.startInput();
      });
      ws.on('error', (error: Error & { code?: string }) => {
        if (this.opened) return;
        if (this.forced) return reject(new ChatError(EXIT.interrupted, 'chat: interrupted'));
        const refused = /Unexpected server response: (\d+)/.exec(error.message);
        if (refused !== null) reject(new ChatError(EXIT.refused, `chat: the phone socket was refused (HTTP ${refused[1]})`));
        else reject(new ChatError(EXIT.refused, `chat: cannot reach callbridge at ${baseUrl}: ${error.code ?? error.message}`));
      });
      ws.on('close', (code) => {
        if (this.opened) resolve(this.finish(code));
      });
    });
  }

  /** Says goodbye: `{"type":"hangup"}`, then waits (a while) for the server's end. */
  hangup(): void {
    const ws = this.ws;
    if (this.hungUp || this.finished || ws === null) return;
    this.hungUp = true;
    if (ws.readyState === WebSocket.OPEN) ws.send(clientMessage.hangup());
    this.hangupTimer = setTimeout(() => ws.close(1000), HANGUP_GRACE_MS);
  }

  /** Ctrl-C: the first hangs up politely, the second drops the call at once (exit 130). */
  interrupt(): void {
    if (!this.hungUp && this.opened) return this.hangup();
    if (this.finished || this.ws === null) return;
    this.forced = true;
    this.ws.terminate();
  }

  /** The caller's line: the microphone, or silence in real time (the protocol wants a continuous line). */
  private startLine(): void {
    const { rateHz, clock, recPath } = this.options;
    const silence = Buffer.alloc(((rateHz * FRAME_MS) / 1000) * 2);
    const startSilence = () => {
      this.ticker = new FrameTicker({
        clock,
        frameMs: FRAME_MS,
        onFrames: (count) => {
          for (let index = 0; index < count; index++) this.sendBinary(silence);
        },
      });
      this.ticker.start();
    };
    if (recPath === null) return startSilence();
    this.mic = new MicSource(recPath, rateHz, {
      onAudio: (bytes) => this.sendBinary(bytes),
      onStop: (line) => {
        if (this.finished) return;
        this.options.warn(`${line}; sending silence instead`);
        startSilence();
      },
    });
  }

  private startInput(): void {
    const { input, output } = this.options;
    const terminal = output.isTTY === true && (input as { isTTY?: boolean }).isTTY === true;
    const rl = readline.createInterface({ input, ...(terminal ? { output, terminal: true } : { terminal: false }) });
    this.rl = rl;
    rl.setPrompt('> ');
    rl.on('line', (line) => {
      if (this.finished) return;
      const action = inputAction(line);
      if (action.kind === 'quit') this.hangup();
      else if (action.kind === 'error') this.options.warn(`chat: ${action.message}`);
      else if (action.kind === 'send' && !this.hungUp) for (const message of action.messages) this.sendText(message);
      if (terminal && !this.hungUp) rl.prompt();
    });
    // End of input (Ctrl-D, a closed pipe) hangs up; so does Ctrl-C at a terminal prompt.
    rl.on('close', () => this.hangup());
    rl.on('SIGINT', () => this.interrupt());
    if (terminal) rl.prompt();
  }

  private onMessage(data: Buffer, isBinary: boolean): void {
    if (this.finished) return;
    if (isBinary) {
      this.ensureAudio(null, null).audio(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
      return;
    }
    const message = parseServerMessage(data.toString('utf8'));
    if (message === null) return;
    switch (message.type) {
      case 'start':
        this.ensureAudio(message.callSid, message.sampleRateHz);
        this.print(`connected to agent "${message.agent}" (call ${message.callSid}); type a line and press Enter, /quit hangs up`);
        break;
      case 'mark':
        this.ensureAudio(null, null).mark(message.name);
        break;
      case 'clear':
        this.model?.clear();
        this.sink?.cut();
        break;
      case 'transcript':
        for (const line of this.transcript.update(message)) this.print(line);
        break;
      case 'end':
        this.ended = true;
        this.print(`call ended: ${message.reason}`);
        break;
    }
  }

  /** The playout model and the sink, made at the start message (or the first frame, should it come first). */
  private ensureAudio(callSid: string | null, rateHz: number | null): PlayoutModel {
    if (this.model !== null) return this.model;
    const rate = rateHz ?? this.options.rateHz;
    const sink = this.options.makeSink({ callSid: callSid ?? 'call', rateHz: rate });
    this.sink = sink;
    this.model = new PlayoutModel({
      clock: this.options.clock,
      sampleRateHz: rate,
      leadMs: sink.leadMs,
      onFrame: (bytes, startMs, endMs) => sink.frame(bytes, startMs, endMs),
      onMark: (name) => this.sendText(clientMessage.mark(name)),
    });
    return this.model;
  }

  private sendBinary(bytes: Uint8Array): void {
    if (this.ws?.readyState === WebSocket.OPEN) this.ws.send(bytes, { binary: true });
  }

  private sendText(text: string): void {
    if (this.ws?.readyState === WebSocket.OPEN) this.ws.send(text);
  }

  /** The socket closed: stop the line, hand the rest of the audio to the sink, print what was left. */
  private async finish(code: number): Promise<number> {
    this.finished = true;
    if (this.hangupTimer !== null) clearTimeout(this.hangupTimer);
    this.ticker?.stop();
    this.mic?.stop();
    if (this.forced) {
      this.model?.close();
      void this.sink?.close();
      this.closeInput();
      return EXIT.interrupted;
    }
    this.model?.flushAndClose();
    for (const line of this.transcript.finish()) this.print(line);
    this.closeInput();
    await this.sink?.close();
    if (this.ended || this.hungUp) return EXIT.ok;
    this.options.warn(`chat: the call's socket closed without an end (code ${code})`);
    return EXIT.lost;
  }

  /** Stops reading input, leaving no prompt behind on a terminal. */
  private closeInput(): void {
    if (this.rl === null) return;
    const { output } = this.options;
    if (output.isTTY === true) {
      readline.clearLine(output, 0);
      readline.cursorTo(output, 0);
    }
    this.rl.close();
    this.rl = null;
  }
}
