/**
 * What one upstream Realtime connection sends: the outbound half of connection.ts, owner of everything on the way to
 * the socket.
 *
 * - Event ids (`cb_<n>`), one sequence for the connection.
 * - Caller audio gathered into `input_audio_buffer.append`s of the batch size (AudioBatch), a part-filled batch going
 *   out before any other client event and before the close, so the wire keeps call order.
 * - Before `ready`, everything held in call order (HeldOutbound; audio bounded, oldest dropped); released on ready,
 *   discarded (and counted) on close.
 * - The outbound counters, and the type of each recent non-audio event so an API error can name what it answers.
 */
import { Buffer } from 'node:buffer';
import { WebSocket } from 'ws';
import type { Logger } from '../../logger.js';
import { AudioBatch } from '../../net/audio-batch.js';
import { HeldOutbound } from '../../net/held-outbound.js';
import { REMEMBERED_EVENT_IDS, type RealtimeConnectionState } from './connection-types.js';
import type { RealtimeClientEvent } from './events.js';
import { base64DecodedLength, BoundedMap, serializeClientEvent } from './wire.js';

export interface ClientEventsOptions {
  socket: WebSocket;
  /** The connection's state: `ready` sends, `closed` drops, anything else holds. */
  state: () => RealtimeConnectionState;
  logger: Logger;
  maxHeldAudioBytes: number;
  /** Bytes of caller audio per append; null = each chunk as it comes. */
  batchBytes: number | null;
}

export class ClientEvents {
  private readonly socket: WebSocket;
  private readonly state: () => RealtimeConnectionState;
  private readonly logger: Logger;
  private readonly pending: HeldOutbound<RealtimeClientEvent>;
  private readonly batch: AudioBatch | null;
  private nextEventNumber = 1;
  /** Client event ids remembered so an API error can name the event type it answers. */
  private readonly recentEventTypes = new BoundedMap<string, string>(REMEMBERED_EVENT_IDS);
  readonly eventsOut = new Map<string, number>();
  audioBytesAppended = 0;
  droppedAfterClose = 0;

  constructor(options: ClientEventsOptions) {
    this.socket = options.socket;
    this.state = options.state;
    this.logger = options.logger;
    const { logger, maxHeldAudioBytes } = options;
    this.pending = new HeldOutbound<RealtimeClientEvent>(maxHeldAudioBytes, () =>
      logger.warn({ maxHeldAudioBytes, state: this.state() }, 'upstream not ready: dropping the oldest held caller audio (logged once; see stats)'),
    );
    this.batch = options.batchBytes === null ? null : new AudioBatch(options.batchBytes);
  }

  get heldAudioDroppedChunks(): number {
    return this.pending.droppedChunks;
  }

  get heldAudioDroppedBytes(): number {
    return this.pending.droppedBytes;
  }

  appendAudio(audio: Uint8Array | string): void {
    if (this.batch === null || typeof audio === 'string') {
      this.flushBatch();
      this.appendNow(audio);
    } else if (this.state() === 'closed') {
      this.droppedAfterClose++;
    } else if (this.batch.add(audio)) {
      this.flushBatch();
    }
  }

  /** Stamps `event_id` when missing, sends or holds by state (after any gathered audio); returns the id. */
  send(event: RealtimeClientEvent): string {
    this.flushBatch();
    const eventId = event.event_id ?? this.newEventId();
    const stamped: RealtimeClientEvent = event.event_id === undefined ? { ...event, event_id: eventId } : event;
    this.offer(stamped, 0, () => this.logger.debug({ type: event.type, eventId }, 'client event dropped: connection closed'));
    return eventId;
  }

  /** Sent at once whatever the state (our session.update, while configuring); returns its id. */
  sendNow(event: RealtimeClientEvent): string {
    const eventId = event.event_id ?? this.newEventId();
    this.transmit({ ...event, event_id: eventId }, 0);
    return eventId;
  }

  /** Sends what the batch gathered (nothing when empty): before every other client event, and on close. */
  flushBatch(): void {
    const gathered = this.batch?.take() ?? null;
    if (gathered !== null) this.appendNow(gathered);
  }

  /** On ready: everything held goes out in call order. Returns what was held, for the log line. */
  releaseHeld(): { heldEvents: number; heldAudioBytes: number } {
    const held = { heldEvents: this.pending.length, heldAudioBytes: this.pending.audioBytes };
    this.pending.release((event, audioBytes) => this.transmit(event, audioBytes));
    return held;
  }

  /** On close: what is still held will never be sent (counted). */
  discardHeld(): void {
    this.droppedAfterClose += this.pending.discard();
  }

  /** The type of a recent non-audio client event, by id (for API errors). */
  typeOf(eventId: string): string | undefined {
    return this.recentEventTypes.get(eventId);
  }

  private appendNow(audio: Uint8Array | string): void {
    const base64 = typeof audio === 'string' ? audio : Buffer.from(audio.buffer, audio.byteOffset, audio.byteLength).toString('base64');
    const audioBytes = typeof audio === 'string' ? base64DecodedLength(audio) : audio.byteLength;
    this.offer({ type: 'input_audio_buffer.append', audio: base64, event_id: this.newEventId() }, audioBytes, null);
  }

  private offer(event: RealtimeClientEvent, audioBytes: number, onDropped: (() => void) | null): void {
    const state = this.state();
    if (state === 'ready') {
      this.transmit(event, audioBytes);
    } else if (state === 'closed') {
      this.droppedAfterClose++;
      onDropped?.();
    } else {
      this.pending.hold(event, audioBytes);
    }
  }

  private transmit(event: RealtimeClientEvent, audioBytes: number): void {
    if (this.socket.readyState !== WebSocket.OPEN) {
      this.droppedAfterClose++;
      return;
    }
    this.socket.send(serializeClientEvent(event));
    this.eventsOut.set(event.type, (this.eventsOut.get(event.type) ?? 0) + 1);
    this.audioBytesAppended += audioBytes;
    if (audioBytes === 0 && event.event_id !== undefined) this.recentEventTypes.set(event.event_id, event.type);
  }

  private newEventId(): string {
    return `cb_${this.nextEventNumber++}`;
  }
}
