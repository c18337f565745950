/**
 * The ElevenLabs conversation socket of one call: dial, initiate, then a typed message pipe.
 *
 * Lifecycle: `connecting` (private agent: the signed-URL request (signed-url.ts), then the handshake on that URL as
 * is; public agent: the handshake on the agent's URL; subprotocol `convai`) → `initiating` (our initiation goes
 * first; wait for `conversation_initiation_metadata`, whose audio formats must be supported) → `ready` → `closed`.
 * One connect timer covers all of it. Every `ping` is answered with its `pong` at once, whoever listens (a
 * pre-dialled session must not be dropped). Nothing else of ours goes out before `ready`: caller audio and messages
 * are held in call order. Failures are reported once as a port fault; a `close()` we asked for reports nothing.
 * The API key goes in one request header and nowhere else: never a log line, a fault message or an error.
 */
import { Buffer } from 'node:buffer';
import type { IncomingMessage } from 'node:http';
import { WebSocket, type RawData } from 'ws';
import { systemClock, type Clock, type TimerHandle } from '../../clock.js';
import type { Logger } from '../../logger.js';
import { AudioBatch, batchBytesFor, DEFAULT_APPEND_BATCH_MS } from '../../net/audio-batch.js';
import { HeldOutbound } from '../../net/held-outbound.js';
import { OncePerKeyLog, rawDataToText, shutDownSocket } from '../../net/socket-plumbing.js';
import type { VoiceAgentFault, VoiceAgentFormats } from '../../voice/port.js';
import {
  CLOSE_HANDSHAKE_TIMEOUT_MS,
  CONVAI_SUBPROTOCOL,
  DEFAULT_CONNECT_TIMEOUT_MS,
  DEFAULT_MAX_HELD_AUDIO_BYTES,
  ConnectionCounters,
  faultForClose,
  faultForError,
  MAX_BUFFERED_SERVER_MESSAGES,
  type ElevenLabsConnection,
  type ElevenLabsConnectionOptions,
  type ElevenLabsConnectionState,
  type ElevenLabsConnectionStats,
  type ElevenLabsHandlers,
} from './connection-types.js';
import { ConnectionDeliveries } from './deliveries.js';
import { errorCode, requestSignedUrl } from './signed-url.js';
import {
  bytesPerMs,
  formatsFromMetadata,
  parseServerMessage,
  publicConversationUrl,
  serializeClientMessage,
  signedUrlEndpoint,
  urlForLog,
  type ElevenLabsClientMessage,
  type ElevenLabsServerMessage,
} from './wire.js';

export * from './connection-types.js';

/** Dials at once (private agent: the signed-URL request starts now). Never throws: every failure is a fault. */
export function openElevenLabsConnection(options: ElevenLabsConnectionOptions): ElevenLabsConnection {
  return new ElevenLabsSocketConnection(options);
}

class ElevenLabsSocketConnection implements ElevenLabsConnection {
  readonly closed: Promise<void>;
  private resolveClosed!: () => void;
  private currentState: ElevenLabsConnectionState = 'connecting';
  private currentFormats: VoiceAgentFormats | null = null;
  private currentConversationId: string | null = null;

  private readonly options: ElevenLabsConnectionOptions;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly dialStartedMs: number;
  private readyAtMs: number | null = null;
  private socket: WebSocket | null = null;
  private signedUrlRequest: AbortController | null = null;

  private readonly deliveries: ConnectionDeliveries;
  private readonly pending: HeldOutbound<ElevenLabsClientMessage>;
  /** Caller audio gathered into bigger chunks, from ready on (null: each chunk as it comes). */
  private batch: AudioBatch | null = null;
  private readonly skipLog = new OncePerKeyLog(() => this.logger);

  private faultEmitted = false;
  private closeRequested = false;
  private connectTimer: TimerHandle | null;
  private closeTimer: TimerHandle | null = null;

  private readonly counters = new ConnectionCounters();

  constructor(options: ElevenLabsConnectionOptions) {
    this.options = options;
    this.clock = options.clock ?? systemClock;
    this.logger = options.logger.child({ component: 'elevenlabs' });
    this.closed = new Promise<void>((resolve) => (this.resolveClosed = resolve));
    const maxHeldAudioBytes = options.maxHeldAudioBytes ?? DEFAULT_MAX_HELD_AUDIO_BYTES;
    this.pending = new HeldOutbound<ElevenLabsClientMessage>(maxHeldAudioBytes, () =>
      this.logger.warn({ maxHeldAudioBytes, state: this.currentState }, 'conversation not ready: dropping the oldest held caller audio (logged once; see stats)'),
    );
    this.deliveries = new ConnectionDeliveries(
      () => this.logger,
      () => {
        if (this.counters.bufferedMessagesDropped++ === 0) this.logger.warn({ limit: MAX_BUFFERED_SERVER_MESSAGES }, 'no handlers: dropping oldest buffered server messages');
      },
    );
    this.dialStartedMs = this.clock.now();
    const connectTimeoutMs = options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
    this.connectTimer = this.clock.setTimeout(() => this.onConnectTimeout(connectTimeoutMs), connectTimeoutMs);
    const { target } = options;
    let endpoint: URL;
    try {
      endpoint = target.kind === 'public' ? publicConversationUrl(target.wsBaseUrl, target.agentId) : signedUrlEndpoint(target.apiBaseUrl, target.agentId);
    } catch {
      this.fail({ kind: 'connect_failed', code: 'invalid_url', message: `malformed ElevenLabs ${target.kind === 'public' ? 'wsBaseUrl' : 'apiBaseUrl'}` });
      return;
    }
    if (target.kind === 'public') this.openSocket(endpoint.href);
    else void this.fetchSignedUrl(endpoint, target.apiKey);
  }

  get state(): ElevenLabsConnectionState {
    return this.currentState;
  }

  get formats(): VoiceAgentFormats | null {
    return this.currentFormats;
  }

  get conversationId(): string | null {
    return this.currentConversationId;
  }

  appendAudio(audio: Uint8Array): void {
    if (this.currentState === 'closed') {
      this.counters.droppedAfterClose++;
      return;
    }
    // Batched once the input format is known (at ready); held audio before it goes chunk by chunk, in order.
    if (this.batch === null) this.appendNow(audio);
    else if (this.batch.add(audio)) this.flushBatch();
  }

  /** Sends what the batch gathered: before every other client message, and on close. */
  private flushBatch(): void {
    const gathered = this.batch?.take() ?? null;
    if (gathered !== null) this.appendNow(gathered);
  }

  private appendNow(audio: Uint8Array): void {
    const message = { user_audio_chunk: Buffer.from(audio.buffer, audio.byteOffset, audio.byteLength).toString('base64') };
    if (this.currentState === 'ready') this.transmit(message, audio.byteLength);
    // A batch still gathered when the socket died: nothing will send it (the hold was discarded on closing).
    else if (this.currentState === 'closed') this.counters.droppedAfterClose++;
    else this.pending.hold(message, audio.byteLength);
  }

  send(message: ElevenLabsClientMessage): void {
    this.flushBatch();
    if (this.currentState === 'ready') this.transmit(message, 0);
    else if (this.currentState === 'closed') this.counters.droppedAfterClose++;
    else this.pending.hold(message, 0);
  }

  setHandlers(handlers: ElevenLabsHandlers): void {
    this.deliveries.attach(handlers);
  }

  close(): void {
    if (this.closeRequested) return;
    this.flushBatch(); // the caller's last words go before the close frame
    this.closeRequested = true;
    this.deliveries.discard();
    if (this.currentState !== 'closed') {
      this.logger.info({ state: this.currentState, ...this.counters.summary() }, 'closing elevenlabs connection');
      this.enterClosed();
    }
    this.shutDownSocket();
  }

  stats(): ElevenLabsConnectionStats {
    return this.counters.stats(this.pending);
  }

  // ---- dialling ------------------------------------------------------------------------------------------------

  private async fetchSignedUrl(endpoint: URL, apiKey: string): Promise<void> {
    const request = new AbortController();
    this.signedUrlRequest = request;
    this.logger.info({ url: urlForLog(endpoint) }, 'requesting elevenlabs signed URL');
    const outcome = await requestSignedUrl(endpoint, apiKey, request.signal);
    if (this.signedUrlRequest === request) this.signedUrlRequest = null;
    if (outcome.kind === 'aborted' || this.currentState !== 'connecting') return;
    if (outcome.kind === 'fault') this.fail(outcome.fault);
    else this.openSocket(outcome.signedUrl);
  }

  private openSocket(url: string): void {
    this.logger.info({ url: urlForLog(url), elapsedMs: this.elapsedMs() }, 'dialing elevenlabs');
    let socket: WebSocket;
    try {
      // Compression is off: base64 audio gains little from deflate and would cost CPU on every chunk of every call.
      socket = new WebSocket(url, [CONVAI_SUBPROTOCOL], { perMessageDeflate: false });
    } catch (error) {
      this.fail({ kind: 'connect_failed', code: 'invalid_url', message: `cannot dial ${urlForLog(url)}: ${error instanceof Error ? error.message : String(error)}` });
      return;
    }
    this.socket = socket;
    socket.on('open', () => this.onOpen());
    socket.on('message', (data, isBinary) => this.onMessage(data, isBinary));
    socket.on('unexpected-response', (_request, response) => this.onUnexpectedResponse(response));
    socket.on('error', (error) => this.onSocketError(error));
    socket.on('close', (code, reason) => this.onSocketClose(code, reason.toString('utf8')));
  }

  private onOpen(): void {
    if (this.currentState !== 'connecting') return;
    this.currentState = 'initiating';
    this.transmit(this.options.initiation, 0);
    this.logger.debug({ elapsedMs: this.elapsedMs() }, 'elevenlabs socket open, initiation sent, awaiting metadata');
  }

  private onUnexpectedResponse(response: IncomingMessage): void {
    const status = response.statusCode ?? 0;
    response.resume();
    const kind = status === 401 || status === 403 ? 'unauthorized' : 'handshake_failed';
    this.fail({ kind, status, message: `upgrade answered HTTP ${status}${response.statusMessage ? ` ${response.statusMessage}` : ''}` });
  }

  /** Before the handshake it is the failure; after it a socket error is always followed by 'close', which reports. */
  private onSocketError(error: Error): void {
    const code = errorCode(error);
    if (this.currentState === 'connecting') this.fail({ kind: 'connect_failed', message: error.message, ...(code === undefined ? {} : { code }) });
    else this.logger.debug({ err: error.message }, 'elevenlabs socket error');
  }

  private onSocketClose(closeCode: number, closeReason: string): void {
    if (this.closeTimer !== null) {
      this.clock.clearTimeout(this.closeTimer);
      this.closeTimer = null;
    }
    if (!this.closeRequested && !this.faultEmitted) {
      const readyForMs = this.readyAtMs === null ? null : this.clock.now() - this.readyAtMs;
      this.fail(faultForClose(closeCode, closeReason, { state: this.currentState, readyForMs, maxDurationMs: this.options.maxDurationMs ?? null }));
    }
    this.enterClosed();
    this.resolveClosed();
    this.logger.debug({ closeCode, closeReason }, 'elevenlabs socket closed');
  }

  private onConnectTimeout(connectTimeoutMs: number): void {
    this.connectTimer = null;
    const waitingFor =
      this.currentState === 'initiating' ? 'conversation_initiation_metadata' : this.socket === null ? 'signed URL' : 'WebSocket handshake';
    this.fail({ kind: 'connect_timeout', message: `no ${waitingFor} within ${connectTimeoutMs} ms` });
  }

  // ---- messages ------------------------------------------------------------------------------------------------

  private onMessage(data: RawData, isBinary: boolean): void {
    if (this.currentState === 'closed') return;
    if (isBinary) {
      this.skip('binary', 'BINARY_FRAME', 'binary frame');
      return;
    }
    const parsed = parseServerMessage(rawDataToText(data));
    if (!parsed.ok) {
      this.skip(parsed.code === 'UNKNOWN_TYPE' ? `type:${parsed.detail}` : parsed.code, parsed.code, parsed.detail);
      return;
    }
    const message = parsed.message;
    const countAs = message.type === 'ignored' ? message.wireType : message.type;
    this.counters.countIn(countAs);
    switch (message.type) {
      case 'ping':
        this.transmit({ type: 'pong', event_id: message.eventId }, 0);
        return;
      case 'ignored':
        return;
      case 'error':
        this.onErrorMessage(message);
        return;
      case 'conversation_initiation_metadata':
        this.onMetadata(message);
        return;
      default:
        if (this.currentState !== 'ready') {
          this.skip(`early:${message.type}`, 'BEFORE_METADATA', message.type);
          return;
        }
        this.deliveries.message(message);
    }
  }

  private onMetadata(message: Extract<ElevenLabsServerMessage, { type: 'conversation_initiation_metadata' }>): void {
    if (this.currentState !== 'initiating') {
      this.skip('metadata-again', 'UNEXPECTED_METADATA', `metadata while ${this.currentState}`);
      return;
    }
    const formats = formatsFromMetadata(message.inputFormat, message.outputFormat);
    if (typeof formats === 'string') {
      this.fail({ kind: 'protocol', code: 'unsupported_audio_format', message: formats });
      return;
    }
    this.currentState = 'ready';
    this.currentFormats = formats;
    const batchBytes = batchBytesFor(this.options.appendBatchMs ?? DEFAULT_APPEND_BATCH_MS, bytesPerMs(formats.input) * 1_000);
    if (batchBytes !== null) this.batch = new AudioBatch(batchBytes);
    this.currentConversationId = message.conversationId;
    this.readyAtMs = this.clock.now();
    this.clearConnectTimer();
    const heldMessages = this.pending.length;
    const heldAudioBytes = this.pending.audioBytes;
    this.pending.release((held, audioBytes) => this.transmit(held, audioBytes));
    this.logger.info(
      { elapsedMs: this.elapsedMs(), conversationId: message.conversationId, input: message.inputFormat, output: message.outputFormat, heldMessages, heldAudioBytes },
      'elevenlabs conversation ready',
    );
    this.deliveries.ready({ conversationId: message.conversationId, formats });
  }

  private onErrorMessage(error: Extract<ElevenLabsServerMessage, { type: 'error' }>): void {
    const fault = faultForError(error, this.currentState);
    const fields = { code: error.code, errorType: error.errorType, apiMessage: error.message, state: this.currentState };
    if (fault === null) {
      this.logger.warn(fields, 'elevenlabs error (conversation continues)');
      return;
    }
    this.logger.error(fields, 'elevenlabs error ends the conversation');
    this.fail(fault);
  }

  private skip(logKey: string, code: string, detail: string): void {
    this.counters.skippedIn++;
    this.skipLog.log(logKey, { code, detail }, 'skipped elevenlabs server frame');
  }

  // ---- ending --------------------------------------------------------------------------------------------------

  /** Reports `fault` once, then closes. Nothing is reported after a close we asked for. */
  private fail(fault: VoiceAgentFault): void {
    if (this.faultEmitted || this.closeRequested) return;
    this.faultEmitted = true;
    this.logger.warn({ fault, state: this.currentState, ...this.counters.summary() }, 'elevenlabs connection fault');
    this.enterClosed();
    this.shutDownSocket();
    this.deliveries.fault(fault);
  }

  private enterClosed(): void {
    this.currentState = 'closed';
    this.clearConnectTimer();
    this.signedUrlRequest?.abort();
    this.counters.droppedAfterClose += this.pending.discard();
    if (this.socket === null) this.resolveClosed();
  }

  private shutDownSocket(): void {
    if (this.socket !== null) this.closeTimer = shutDownSocket(this.socket, this.clock, CLOSE_HANDSHAKE_TIMEOUT_MS, this.closeTimer);
  }

  private clearConnectTimer(): void {
    if (this.connectTimer !== null) {
      this.clock.clearTimeout(this.connectTimer);
      this.connectTimer = null;
    }
  }

  private transmit(message: ElevenLabsClientMessage, audioBytes: number): void {
    const socket = this.socket;
    if (socket === null || socket.readyState !== WebSocket.OPEN) {
      this.counters.droppedAfterClose++;
      return;
    }
    socket.send(serializeClientMessage(message));
    this.counters.countOut('type' in message ? message.type : 'user_audio_chunk', audioBytes);
  }

  private elapsedMs(): number {
    return Math.round(this.clock.now() - this.dialStartedMs);
  }
}
