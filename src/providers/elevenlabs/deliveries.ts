/**
 * What the connection hands its handlers, in order: held (bounded) until the handlers are set (a pre-dialled
 * session waiting for its call), then each call guarded so a throwing handler never unwinds into the socket.
 */
import type { Logger } from '../../logger.js';
import { GuardedHandlers, HeldDeliveries } from '../../net/socket-plumbing.js';
import type { VoiceAgentFault } from '../../voice/port.js';
import { MAX_BUFFERED_SERVER_MESSAGES, type ElevenLabsHandlers, type ElevenLabsReady } from './connection-types.js';
import type { ElevenLabsServerMessage } from './wire.js';

type Delivery = { kind: 'message'; message: ElevenLabsServerMessage } | { kind: 'ready'; ready: ElevenLabsReady } | { kind: 'fault'; fault: VoiceAgentFault };

export class ConnectionDeliveries {
  private handlers: ElevenLabsHandlers | null = null;
  private discarded = false;
  private readonly held: HeldDeliveries<Delivery>;
  private readonly guard: GuardedHandlers;

  /** `onDrop`: a message was dropped because no handlers were set and the hold was full (readiness and faults never are). */
  constructor(logger: () => Logger, onDrop: () => void) {
    this.guard = new GuardedHandlers(logger, 'elevenlabs handler threw');
    this.held = new HeldDeliveries<Delivery>({
      limit: MAX_BUFFERED_SERVER_MESSAGES,
      drop: 'oldest',
      droppable: (delivery) => delivery.kind === 'message',
      onDrop,
    });
  }

  message(message: ElevenLabsServerMessage): void {
    this.held.deliver({ kind: 'message', message });
  }

  ready(ready: ElevenLabsReady): void {
    this.held.deliver({ kind: 'ready', ready });
  }

  fault(fault: VoiceAgentFault): void {
    this.held.deliver({ kind: 'fault', fault });
  }

  /** Everything held is handed over now, in order; later deliveries go straight through. */
  attach(handlers: ElevenLabsHandlers): void {
    this.handlers = handlers;
    this.held.attach((delivery) => this.dispatch(delivery));
  }

  /** The owner closed: nothing held or later is delivered. */
  discard(): void {
    this.discarded = true;
    this.held.discard();
  }

  private dispatch(delivery: Delivery): void {
    const handlers = this.handlers;
    if (handlers === null || this.discarded) return;
    this.guard.run(delivery.kind, () => {
      if (delivery.kind === 'message') handlers.onMessage(delivery.message);
      else if (delivery.kind === 'ready') handlers.onReady(delivery.ready);
      else handlers.onFault(delivery.fault);
    });
  }
}
