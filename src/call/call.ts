/**
 * One phone call: the only object that touches both the Twilio Media Stream and the OpenAI Realtime session.
 *
 * It composes parts that each own one slice of state and are tested alone:
 *   - Playout (out-queue, pacer, playback ledger, sequence log): agent audio → exact 20 ms frames → Twilio, paced,
 *     with marks, and the milliseconds the caller really heard;
 *   - ResponseGate: never a second `response.create` while one is in flight;
 *   - one stateful transcoder per direction (none in `audio/pcmu` pass-through mode).
 *
 * Rules it enforces:
 *   - only `response.output_audio.delta` feeds the out-queue; deltas of an interrupted/cancelled response are dropped;
 *   - with server VAD + create_response the model answers each turn itself: the bridge sends `response.create` only
 *     for the greeting and after function-call outputs (and per committed turn when it must);
 *   - on barge-in: one Twilio `clear`, one truncate per item at what the caller heard, measured on our clock.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { ConversationItemCreateEvent, RealtimeServerEvent, ResponseDoneEvent } from 'openai/resources/realtime/realtime';
import { MULAW_BYTES_PER_MS, MULAW_SAMPLE_RATE_HZ, pcmBytesToMs } from '../audio/frames.js';
import { encodeMulaw } from '../audio/mulaw.js';
import { base64ToBytes } from '../audio/pcm.js';
import { resampleClip } from '../audio/resampler.js';
import { InboundTranscoder, OutboundTranscoder } from '../audio/transcoder.js';
import { readWav } from '../audio/wav.js';
import type { Clock, TimerHandle } from '../clock.js';
import type { Config } from '../config.js';
import type { Logger } from '../logger.js';
import type { RealtimeConnection, RealtimeFault } from '../realtime/client.js';
import type { MediaStreamSession } from '../twilio/media-stream.js';
import { DtmfCollector } from './dtmf.js';
import { Playout } from './playout.js';
import { ResponseGate } from './response-gate.js';
import { runTool, type ToolDefinition } from './tools.js';

export interface CallOptions {
  config: Readonly<Config>;
  clock: Clock;
  /** Child logger already bound to callSid and streamSid. */
  logger: Logger;
  stream: MediaStreamSession;
  upstream: RealtimeConnection;
  tools?: readonly ToolDefinition[];
  /** The upstream was opened while answering the webhook. */
  predialled?: boolean;
  /** Opens a fresh upstream session (used when config.openai.redialAttempts > 0). */
  redial?: () => RealtimeConnection;
}

export interface TokenUsage {
  inputTokens: number;
  outputTokens: number;
  inputAudioTokens: number;
  outputAudioTokens: number;
  cachedTokens: number;
}

export interface CallSummary {
  callSid: string;
  streamSid: string;
  durationMs: number;
  endReason: string;
  turns: number;
  responses: number;
  bargeIns: number;
  truncates: number;
  framesIn: number;
  framesOut: number;
  gaps: number;
  gapMs: number;
  underruns: number;
  underrunMs: number;
  sequenceErrors: number;
  lateDeltasDropped: number;
  upstreamFaults: number;
  usage: TokenUsage;
}

/** How long after the apology started we close the stream even if Twilio never acknowledges its end. */
const APOLOGY_GRACE_MS = 2_000;

export class Call {
  readonly ended: Promise<CallSummary>;
  private resolveEnded!: (summary: CallSummary) => void;
  private readonly options: CallOptions;
  private readonly logger: Logger;
  private readonly clock: Clock;
  private readonly playout: Playout;
  private readonly gate: ResponseGate;
  private readonly transcoding: boolean;
  private readonly inbound: InboundTranscoder | null;
  private readonly outbound: OutboundTranscoder | null;
  private upstream: RealtimeConnection;
  private redialsLeft: number;
  private state: 'idle' | 'live' | 'apologising' | 'ended' = 'idle';
  private readonly startedAtMs: number;
  private greeted = false;
  private apologyTimer: TimerHandle | null = null;
  private readonly dtmf: DtmfCollector;
  /** The agent item whose audio is arriving, until its `output_audio.done`. */
  private openItem: { responseId: string; itemId: string } | null = null;
  /** Output-format bytes received per assistant item: truncates are capped at what the API actually sent. */
  private readonly receivedBytesByItem = new Map<string, number>();
  private readonly counters = { turns: 0, responses: 0, bargeIns: 0, truncates: 0, framesIn: 0, lateDeltasDropped: 0, upstreamFaults: 0 };
  private readonly usage: TokenUsage = { inputTokens: 0, outputTokens: 0, inputAudioTokens: 0, outputAudioTokens: 0, cachedTokens: 0 };

  constructor(options: CallOptions) {
    this.options = options;
    this.logger = options.logger;
    this.clock = options.clock;
    this.upstream = options.upstream;
    this.redialsLeft = options.config.openai.redialAttempts;
    this.startedAtMs = this.clock.now();
    this.transcoding = options.config.openai.audioFormat === 'pcm';
    this.inbound = this.transcoding ? new InboundTranscoder() : null;
    this.outbound = this.transcoding ? new OutboundTranscoder() : null;
    this.ended = new Promise((resolve) => (this.resolveEnded = resolve));
    const { stream } = options;
    this.playout = new Playout({
      clock: this.clock,
      leadMs: options.config.call.playbackLeadMs,
      markIntervalMs: options.config.call.markIntervalMs,
      logger: this.logger,
      sink: {
        sendMedia: (payload) => void stream.sendMedia(payload),
        sendMark: (name) => void stream.sendMark(name),
        sendClear: () => void stream.sendClear(),
      },
    });
    this.gate = new ResponseGate({ send: (event) => this.upstream.send(event), logger: this.logger });
    this.dtmf = new DtmfCollector({ clock: this.clock, onBurst: (digits) => this.onDtmfBurst(digits) });
  }

  /** Wires both sockets. Call once, right after construction. */
  start(): void {
    if (this.state !== 'idle') return;
    this.state = 'live';
    // The stream token is spent by now, but it is a credential: keep it out of the logs.
    const { streamToken: _spent, ...customParameters } = this.options.stream.start.customParameters;
    this.logger.info({ predialled: this.options.predialled ?? false, audioFormat: this.options.config.openai.audioFormat, customParameters }, 'call started');
    this.options.stream.setHandlers({
      onMedia: (payload) => this.onCallerAudio(payload),
      onMark: (name) => this.onMarkEchoed(name),
      onDtmf: (digit) => this.onDtmf(digit),
      onStop: () => this.end('caller hung up'),
      onClose: ({ code }) => this.end(`stream closed (${code})`),
    });
    this.attachUpstream(this.upstream);
  }

  /** Ends the call from our side (server shutdown). */
  hangUp(reason: string): void {
    if (this.state === 'ended') return;
    this.options.stream.close(1000, reason);
    this.end(reason);
  }

  private attachUpstream(upstream: RealtimeConnection): void {
    upstream.setHandlers({
      onReady: () => this.greetOnce(),
      onEvent: (event) => this.onUpstreamEvent(upstream, event),
      onApiError: (error) => {
        if (upstream === this.upstream) this.gate.onError({ code: error.code ?? null, eventId: error.eventId ?? null });
      },
      onFault: (fault) => this.onUpstreamFault(upstream, fault),
    });
    // A pre-dialled session may have become ready before the call existed.
    if (upstream.state === 'ready') this.greetOnce();
  }

  private greetOnce(): void {
    const greeting = this.options.config.openai.greeting;
    if (this.greeted || this.state !== 'live' || greeting === null) return;
    this.greeted = true;
    this.gate.requestCreate({ instructions: greeting, reason: 'greeting' });
  }

  // ---- caller → agent -------------------------------------------------------------------------------------------

  private onCallerAudio(payload: Uint8Array): void {
    this.counters.framesIn++;
    if (this.state !== 'live') return;
    this.upstream.appendAudio(this.inbound === null ? payload : this.inbound.transcode(payload));
  }

  private onDtmf(digit: string): void {
    if (this.state !== 'live') return;
    this.logger.info({ digit }, 'caller pressed a key');
    if (this.options.config.openai.turnDetection.type === 'none' && digit === '#') {
      // Push-to-talk without VAD: '#' ends the caller's spoken turn.
      this.dtmf.flush();
      this.upstream.send({ type: 'input_audio_buffer.commit' });
      return;
    }
    if (this.options.config.call.forwardDtmf) this.dtmf.press(digit);
  }

  /** One text message and one response per burst of key presses. */
  private onDtmfBurst(digits: string): void {
    if (this.state !== 'live') return;
    const spelled = digits.split('').join(', ');
    const item: ConversationItemCreateEvent = {
      type: 'conversation.item.create',
      item: { type: 'message', role: 'user', content: [{ type: 'input_text', text: `The caller pressed ${spelled} on the keypad.` }] },
    };
    this.upstream.send(item);
    this.gate.requestCreate({ reason: 'dtmf' });
  }

  // ---- agent → caller -------------------------------------------------------------------------------------------

  private onUpstreamEvent(upstream: RealtimeConnection, event: RealtimeServerEvent): void {
    if (upstream !== this.upstream || this.state === 'ended') return;
    switch (event.type) {
      case 'response.created':
        this.counters.responses++;
        this.gate.onResponseCreated(event.response.id ?? '');
        break;
      case 'response.output_audio.delta':
        this.onAudioDelta(event.response_id, event.item_id, event.delta);
        break;
      case 'response.output_audio.done':
        this.onAudioDone(event.response_id, event.item_id);
        break;
      case 'response.done':
        this.onResponseDone(event);
        break;
      case 'input_audio_buffer.speech_started':
        this.onSpeechStarted(event.audio_start_ms);
        break;
      case 'input_audio_buffer.committed':
        this.onTurnCommitted(event.item_id);
        break;
      case 'conversation.item.truncated':
        this.logger.debug({ itemId: event.item_id, audioEndMs: event.audio_end_ms }, 'upstream confirmed truncate');
        break;
      default:
        break;
    }
  }

  private onAudioDelta(responseId: string, itemId: string, deltaBase64: string): void {
    if (this.state !== 'live' || this.gate.isStale(responseId)) {
      this.counters.lateDeltasDropped++;
      return;
    }
    const bytes = base64ToBytes(deltaBase64);
    this.openItem = { responseId, itemId };
    this.receivedBytesByItem.set(itemId, (this.receivedBytesByItem.get(itemId) ?? 0) + bytes.length);
    const mulaw = this.outbound === null ? bytes : this.outbound.transcode(bytes);
    if (mulaw.length > 0) this.playout.enqueue(responseId, itemId, mulaw);
  }

  private onAudioDone(responseId: string, itemId: string): void {
    if (this.state !== 'live' || this.gate.isStale(responseId)) return;
    this.finishItem(responseId, itemId);
  }

  /** Releases the resampler's tail and closes the item in the out-queue (padded last frame, end mark). */
  private finishItem(responseId: string, itemId: string): void {
    if (this.outbound !== null) {
      const tail = this.outbound.drain();
      if (tail.length > 0) this.playout.enqueue(responseId, itemId, tail);
    }
    this.playout.endItem(responseId, itemId);
    this.openItem = null;
  }

  private onResponseDone(event: ResponseDoneEvent): void {
    const { response } = event;
    const responseId = response.id ?? '';
    this.gate.onResponseDone(responseId, response.status ?? 'completed');
    const usage = response.usage;
    if (usage !== undefined) {
      this.usage.inputTokens += usage.input_tokens ?? 0;
      this.usage.outputTokens += usage.output_tokens ?? 0;
      this.usage.inputAudioTokens += usage.input_token_details?.audio_tokens ?? 0;
      this.usage.outputAudioTokens += usage.output_token_details?.audio_tokens ?? 0;
      this.usage.cachedTokens += usage.input_token_details?.cached_tokens ?? 0;
    }
    const functionCalls = (response.output ?? []).filter((item) => item.type === 'function_call');
    if (functionCalls.length > 0 && response.status === 'completed') void this.runFunctionCalls(functionCalls);
  }

  /** Adds every output of the response's function calls, then asks for exactly one follow-up response. */
  private async runFunctionCalls(items: ReadonlyArray<{ call_id?: string; name?: string; arguments?: string }>): Promise<void> {
    const upstream = this.upstream;
    const context = { callSid: this.options.stream.start.callSid, streamSid: this.options.stream.start.streamSid };
    const outputs = await Promise.all(
      items.map(async (item) => ({ item, result: await runTool(this.options.tools ?? [], item.name ?? '', item.arguments ?? '', context) })),
    );
    if (this.state !== 'live' || upstream !== this.upstream) return;
    for (const { item, result } of outputs) {
      this.logger.info({ tool: item.name, callId: item.call_id, ok: result.ok }, 'function call answered');
      upstream.send({ type: 'conversation.item.create', item: { type: 'function_call_output', call_id: item.call_id ?? '', output: result.output } });
    }
    this.gate.requestCreate({ reason: 'function_call_output' });
  }

  private onTurnCommitted(itemId: string): void {
    this.counters.turns++;
    const detection = this.options.config.openai.turnDetection;
    const modelAnswersItself = detection.type !== 'none' && detection.createResponse;
    this.logger.debug({ itemId, modelAnswersItself }, 'caller turn committed');
    if (!modelAnswersItself) this.gate.requestCreate({ reason: 'turn' });
  }

  private onMarkEchoed(name: string): void {
    this.playout.onMarkEchoed(name);
    if (this.state === 'apologising' && !this.playout.isActive()) this.finishApology();
  }

  // ---- barge-in -------------------------------------------------------------------------------------------------

  private onSpeechStarted(audioStartMs: number): void {
    if (this.state !== 'live') return;
    const activeResponseId = this.gate.activeResponseId;
    const interrupted = this.playout.interrupt();
    if (activeResponseId !== null) this.gate.markInterrupted(activeResponseId);
    if (interrupted !== null) {
      this.counters.bargeIns++;
      this.outbound?.reset();
      this.openItem = null;
      for (const { itemId, heardMs } of interrupted.heard) {
        // Only items this session sent: after a re-dial, the old session's items are unknown to the new one.
        if (!this.receivedBytesByItem.has(itemId)) continue;
        const receivedMs = Math.floor(this.receivedMs(itemId));
        const audioEndMs = Math.max(0, Math.min(heardMs, receivedMs));
        this.upstream.send({ type: 'conversation.item.truncate', item_id: itemId, content_index: 0, audio_end_ms: audioEndMs });
        this.counters.truncates++;
        this.receivedBytesByItem.delete(itemId);
      }
      this.logger.info({ audioStartMs, heard: interrupted.heard, droppedFrames: interrupted.droppedFrames }, 'barge-in: caller interrupted the agent');
    }
    const detection = this.options.config.openai.turnDetection;
    const serverInterrupts = detection.type !== 'none' && detection.interruptResponse;
    if (activeResponseId !== null && !serverInterrupts) this.gate.cancelActive();
  }

  private receivedMs(itemId: string): number {
    const bytes = this.receivedBytesByItem.get(itemId) ?? 0;
    return this.transcoding ? pcmBytesToMs(bytes) : bytes / MULAW_BYTES_PER_MS;
  }

  // ---- faults and lifecycle -------------------------------------------------------------------------------------

  private onUpstreamFault(upstream: RealtimeConnection, fault: RealtimeFault): void {
    if (upstream !== this.upstream || this.state !== 'live') return;
    this.counters.upstreamFaults++;
    this.logger.error({ fault: fault.kind, code: fault.code, status: fault.status, detail: fault.message }, 'upstream session lost');
    if (this.redialsLeft > 0 && this.options.redial !== undefined) {
      this.redialsLeft--;
      // The answer that was arriving will never be finished: let what came play out, ended cleanly.
      if (this.openItem !== null) this.finishItem(this.openItem.responseId, this.openItem.itemId);
      this.logger.warn({ redialsLeft: this.redialsLeft }, 're-dialling the upstream session');
      this.gate.reset();
      this.receivedBytesByItem.clear();
      this.upstream = this.options.redial();
      this.greeted = true; // a re-dialled session continues the call: no second greeting
      this.attachUpstream(this.upstream);
      return;
    }
    this.apologise();
  }

  /** Plays a short apology, then closes the stream so Twilio continues with the next TwiML verb (or hangs up). */
  private apologise(): void {
    this.state = 'apologising';
    this.playout.interrupt();
    this.outbound?.reset();
    this.openItem = null;
    this.playout.enqueue('callbridge-apology', 'callbridge-apology', apologyMulaw());
    this.playout.endItem('callbridge-apology', 'callbridge-apology');
    const durationMs = apologyMulaw().length / MULAW_BYTES_PER_MS;
    this.apologyTimer = this.clock.setTimeout(() => this.finishApology(), durationMs + APOLOGY_GRACE_MS);
  }

  private finishApology(): void {
    if (this.state !== 'apologising') return;
    this.options.stream.close(1000, 'upstream lost');
    this.end('upstream lost');
  }

  private end(reason: string): void {
    if (this.state === 'ended') return;
    this.state = 'ended';
    if (this.apologyTimer !== null) this.clock.clearTimeout(this.apologyTimer);
    this.dtmf.dispose();
    this.upstream.close();
    const playoutStats = this.playout.stats();
    this.playout.dispose();
    this.inbound?.dispose();
    this.outbound?.dispose();
    const streamStats = this.options.stream.stats();
    const summary: CallSummary = {
      callSid: this.options.stream.start.callSid,
      streamSid: this.options.stream.start.streamSid,
      durationMs: Math.round(this.clock.now() - this.startedAtMs),
      endReason: reason,
      turns: this.counters.turns,
      responses: this.counters.responses,
      bargeIns: this.counters.bargeIns,
      truncates: this.counters.truncates,
      framesIn: this.counters.framesIn,
      framesOut: playoutStats.framesSent,
      gaps: streamStats.gaps,
      gapMs: streamStats.gapMs,
      underruns: playoutStats.underruns,
      underrunMs: playoutStats.underrunMs,
      sequenceErrors: playoutStats.sequenceErrors,
      lateDeltasDropped: this.counters.lateDeltasDropped,
      upstreamFaults: this.counters.upstreamFaults,
      usage: { ...this.usage },
    };
    // callSid and streamSid are already bound to this logger.
    const { callSid: _callSid, streamSid: _streamSid, ...fields } = summary;
    this.logger.info(fields, 'call ended');
    this.resolveEnded(summary);
  }
}

let apologyCache: Uint8Array | null = null;

/** "Sorry, we lost the connection…" as 8 kHz mu-law, decoded once per process from the bundled WAV. */
function apologyMulaw(): Uint8Array {
  if (apologyCache !== null) return apologyCache;
  const wav = readWav(readFileSync(fileURLToPath(new URL('../../assets/apology.wav', import.meta.url))));
  apologyCache = encodeMulaw(resampleClip(wav.samples, wav.sampleRateHz, MULAW_SAMPLE_RATE_HZ));
  return apologyCache;
}

