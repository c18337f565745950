/**
 * A conversation's log: every message in and out with its server-clock time, and the queries tests use on it.
 * With `logAudio: false`, audio payloads (`user_audio_chunk`, `audio_event.audio_base_64`) are kept as `<n bytes>`.
 */
import {
  eventBody,
  type ConversationLogEntry,
  type ElevenLabsServerEvent,
  type ElevenLabsServerEventOf,
  type InboundMessage,
  type ServerEventBodies,
  type ServerEventType,
} from './types.js';

export class ConversationLog {
  readonly log: ConversationLogEntry[] = [];

  constructor(private readonly logAudio: boolean) {}

  /** Server events sent, optionally of one type, in order. */
  eventsOut<T extends ServerEventType>(type?: T): Array<ElevenLabsServerEventOf<T>> {
    const out: Array<ElevenLabsServerEventOf<T>> = [];
    for (const entry of this.log) {
      if (entry.direction === 'out' && (type === undefined || entry.event['type'] === type)) out.push(entry.event as ElevenLabsServerEventOf<T>);
    }
    return out;
  }

  /** The bodies (`<type>_event`) of the server events of one type, in order. */
  bodiesOut<T extends ServerEventType>(type: T): Array<ServerEventBodies[T]> {
    return this.eventsOut(type).map((event) => eventBody(event));
  }

  /** Client messages received, optionally of one type (`user_audio_chunk` for audio), in order. */
  eventsIn(type?: string): InboundMessage[] {
    return this.log
      .filter((entry) => entry.direction === 'in')
      .map((entry) => entry.event as InboundMessage)
      .filter((event) => type === undefined || event['type'] === type || (type === 'user_audio_chunk' && 'user_audio_chunk' in event));
  }

  protected recordIn(atMs: number, message: InboundMessage): void {
    const audio = message['user_audio_chunk'];
    const logged = typeof audio === 'string' && !this.logAudio ? { ...message, user_audio_chunk: `<${Buffer.from(audio, 'base64').length} bytes>` } : message;
    this.log.push({ direction: 'in', atMs, event: logged });
  }

  protected recordOut(atMs: number, event: ElevenLabsServerEvent): void {
    let logged = event;
    if (event.type === 'audio' && !this.logAudio) {
      const audio = event.audio_event;
      logged = { type: 'audio', audio_event: { ...audio, audio_base_64: `<${Buffer.from(audio.audio_base_64, 'base64').length} bytes>` } };
    }
    this.log.push({ direction: 'out', atMs, event: logged });
  }
}
