/**
 * One browser-phone call on the main thread: the AudioContext (24 kHz), the microphone → capture worklet → socket,
 * socket → playback worklet → speakers, marks and clears, the transcript, and `window.__phone` (counters for
 * automated tests, updated in place as things happen). Protocol: docs/console.md, "The browser-phone socket".
 */
import { mergePhoneTranscript, type TranscriptEntry } from '../lib/live-merge.js';
import { FRAME_MS, PHONE_RATE, parseServerMessage } from './protocol.js';

export type PhoneState = 'idle' | 'connecting' | 'in-call' | 'ended' | 'error';

export interface PhoneCounters {
  state: PhoneState;
  framesReceived: number;
  framesPlayed: number;
  marksEchoed: string[];
  clears: number;
  /** Agent audio played (all answers so far) when each clear arrived, ms: what the page reported as heard. */
  playedMsAtClears: number[];
  transcript: Array<{ speaker: 'caller' | 'agent'; text: string; final: boolean }>;
  callSid: string | null;
}

export interface PhoneView {
  readonly state: PhoneState;
  readonly callSid: string | null;
  readonly agent: string | null;
  readonly detail: string;
  readonly transcript: readonly TranscriptEntry[];
  readonly muted: boolean;
}

type WorkletMessage = { type: 'marks'; names: string[]; cleared: boolean; samplesPlayed?: number } | { type: 'played'; framesPlayed: number; queued: number };

export function freshCounters(): PhoneCounters {
  return { state: 'idle', framesReceived: 0, framesPlayed: 0, marksEchoed: [], clears: 0, playedMsAtClears: [], transcript: [], callSid: null };
}

export class PhoneSession {
  readonly counters: PhoneCounters = freshCounters();
  private view: PhoneView = { state: 'idle', callSid: null, agent: null, detail: '', transcript: [], muted: false };
  private context: AudioContext | null = null;
  private stream: MediaStream | null = null;
  private capture: AudioWorkletNode | null = null;
  private playback: AudioWorkletNode | null = null;
  private socket: WebSocket | null = null;
  private queued = 0;
  private closing = false;

  constructor(
    private readonly getSocketUrl: (agent: string) => Promise<string>,
    private readonly onChange: (view: PhoneView) => void,
    private readonly assetBase: string,
  ) {
    window.__phone = this.counters;
  }

  get current(): PhoneView {
    return this.view;
  }

  /** Starts a call; call it from the click handler (the AudioContext and the microphone need the user's gesture). */
  async call(agent: string): Promise<void> {
    if (this.view.state === 'connecting' || this.view.state === 'in-call') return;
    Object.assign(this.counters, freshCounters());
    this.closing = false;
    this.update({ state: 'connecting', callSid: null, agent, detail: 'Starting audio…', transcript: [], muted: false });
    try {
      const context = new AudioContext({ sampleRate: PHONE_RATE, latencyHint: 'interactive' });
      this.context = context;
      if (context.sampleRate !== PHONE_RATE) throw new Error(`this browser runs audio at ${context.sampleRate} Hz, not ${PHONE_RATE} Hz`);
      await Promise.all([context.audioWorklet.addModule(`${this.assetBase}capture-worklet.js`), context.audioWorklet.addModule(`${this.assetBase}playback-worklet.js`)]);
      this.update({ detail: 'Asking for the microphone…' });
      this.stream = await navigator.mediaDevices.getUserMedia({ audio: { echoCancellation: true, noiseSuppression: true } });
      if (this.closing) return this.teardown();
      this.update({ detail: 'Connecting…' });
      const url = await this.getSocketUrl(agent);
      if (this.closing) return this.teardown();
      this.connect(context, url);
    } catch (error) {
      this.fail(error instanceof Error ? error.message : String(error));
    }
  }

  /** Hangs up: tells the server, closes the socket, stops the audio. */
  hangUp(): void {
    this.closing = true;
    if (this.view.state !== 'connecting' && this.view.state !== 'in-call') return this.teardown();
    const socket = this.socket;
    if (socket !== null && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify({ type: 'hangup' }));
    if (socket !== null && socket.readyState !== WebSocket.CLOSED) socket.close(1000);
    this.update({ state: 'ended', detail: 'You hung up.' });
    this.teardown();
  }

  setMuted(muted: boolean): void {
    this.capture?.port.postMessage({ type: 'mute', muted });
    this.update({ muted });
  }

  sendText(text: string): void {
    if (text.trim() !== '') this.sendJson({ type: 'text', text });
  }

  sendDigit(digit: string): void {
    this.sendJson({ type: 'dtmf', digit });
  }

  private connect(context: AudioContext, url: string): void {
    const capture = new AudioWorkletNode(context, 'capture-processor', { numberOfInputs: 1, numberOfOutputs: 1, outputChannelCount: [1], processorOptions: { frameMs: FRAME_MS } });
    const playback = new AudioWorkletNode(context, 'playback-processor', { numberOfInputs: 0, numberOfOutputs: 1, outputChannelCount: [1] });
    this.capture = capture;
    this.playback = playback;
    playback.connect(context.destination);
    // The capture node writes nothing to its output; connecting it keeps it rendering in every browser.
    capture.connect(context.destination);
    if (this.stream !== null) context.createMediaStreamSource(this.stream).connect(capture);
    playback.port.onmessage = (event: MessageEvent<WorkletMessage>) => this.onWorklet(event.data);

    const socket = new WebSocket(url);
    socket.binaryType = 'arraybuffer';
    this.socket = socket;
    capture.port.onmessage = (event: MessageEvent<ArrayBuffer>) => {
      if (socket.readyState === WebSocket.OPEN) socket.send(event.data);
    };
    socket.onopen = () => {
      void context.resume();
      this.update({ detail: 'Connected, waiting for the agent…' });
    };
    socket.onmessage = (event: MessageEvent<ArrayBuffer | string>) => this.onSocket(event.data);
    socket.onerror = () => {
      if (this.view.state === 'connecting') this.fail('The call could not be connected.');
    };
    socket.onclose = (event) => {
      this.socket = null;
      if (this.view.state === 'connecting') this.fail(`The call was refused (${event.code}${event.reason === '' ? '' : `: ${event.reason}`}).`);
      else if (this.view.state === 'in-call') this.update({ state: 'ended', detail: 'The call ended.' });
      this.drainThenTeardown();
    };
  }

  private onSocket(data: ArrayBuffer | string): void {
    if (typeof data !== 'string') {
      this.counters.framesReceived++;
      const samples = new Int16Array(data, 0, data.byteLength >> 1);
      this.playback?.port.postMessage({ type: 'frame', samples }, [data]);
      return;
    }
    const message = parseServerMessage(data);
    if (message === null) return;
    switch (message.type) {
      case 'start':
        this.counters.callSid = message.callSid;
        this.update({ state: 'in-call', callSid: message.callSid, agent: message.agent, detail: 'In call.' });
        break;
      case 'mark':
        this.playback?.port.postMessage({ type: 'mark', name: message.name });
        break;
      case 'clear':
        this.counters.clears++;
        this.playback?.port.postMessage({ type: 'clear' });
        break;
      case 'transcript': {
        const transcript = mergePhoneTranscript(this.view.transcript, message);
        this.counters.transcript = transcript.map(({ speaker, text, final }) => ({ speaker, text, final }));
        this.update({ transcript });
        break;
      }
      case 'end':
        this.closing = true;
        this.update({ state: 'ended', detail: `The call ended (${message.reason}).` });
        break;
      default:
        break;
    }
  }

  private onWorklet(message: WorkletMessage): void {
    if (message.type === 'played') {
      this.counters.framesPlayed = message.framesPlayed;
      this.queued = message.queued;
      return;
    }
    if (message.cleared && message.samplesPlayed !== undefined) this.counters.playedMsAtClears.push(message.samplesPlayed / (PHONE_RATE / 1000));
    for (const name of message.names) {
      if (this.sendJson({ type: 'mark', name })) this.counters.marksEchoed.push(name);
    }
  }

  private sendJson(message: object): boolean {
    const socket = this.socket;
    if (socket === null || socket.readyState !== WebSocket.OPEN) return false;
    socket.send(JSON.stringify(message));
    return true;
  }

  private fail(detail: string): void {
    this.update({ state: 'error', detail });
    this.closing = true;
    this.socket?.close();
    this.teardown();
  }

  /** The server ended the call: let the agent's last words play (up to 5 s), then stop the audio. */
  private drainThenTeardown(): void {
    const deadline = Date.now() + 5000;
    const wait = (): void => {
      if (this.context === null) return;
      if (this.queued > 0 && Date.now() < deadline) setTimeout(wait, 100);
      else this.teardown();
    };
    wait();
  }

  private teardown(): void {
    for (const track of this.stream?.getTracks() ?? []) track.stop();
    this.stream = null;
    this.capture?.disconnect();
    this.playback?.disconnect();
    this.capture = null;
    this.playback = null;
    const context = this.context;
    this.context = null;
    if (context !== null && context.state !== 'closed') void context.close();
  }

  private update(patch: Partial<PhoneView>): void {
    this.view = { ...this.view, ...patch };
    this.counters.state = this.view.state;
    this.onChange(this.view);
  }
}
