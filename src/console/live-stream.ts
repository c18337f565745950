/**
 * `GET /console/api/live` as server-sent events: `snapshot` first, then every live update in order, and a comment
 * line every 15 s so proxies (and the browser) do not take an idle stream for a dead one.
 *
 * Subscribing and taking the snapshot happen in one synchronous turn, so no update falls between them or is sent
 * twice. Each update's JSON was encoded once by LiveCalls for every stream. A stream ends (the browser's EventSource
 * reconnects by itself and gets a fresh snapshot) when its session is no longer valid (checked at each keepalive),
 * when the client reads too slowly (more than `maxBufferedBytes` waiting: better a reconnect than unbounded memory),
 * or when the client goes away; each end unsubscribes and stops the timer.
 */
import type express from 'express';
import type { Clock, TimerHandle } from '../clock.js';
import type { Logger } from '../logger.js';
import type { LiveCalls, LiveMessage } from './live-calls.js';

export const KEEPALIVE_MS = 15_000;
export const MAX_BUFFERED_BYTES = 4 * 1024 * 1024;

export interface LiveStreamOptions {
  liveCalls: LiveCalls;
  clock: Clock;
  logger: Logger;
  /** Re-checked at each keepalive: false ends the stream (session expired or signed out). */
  stillValid(): boolean;
  /** Called once when the stream has ended, whatever ended it. */
  onEnd?(): void;
  keepaliveMs?: number;
  maxBufferedBytes?: number;
}

/** One SSE message; the data is one line (JSON escapes line breaks). */
function frame(event: string, json: string): string {
  return `event: ${event}\ndata: ${json}\n\n`;
}

export function serveLiveStream(req: express.Request, res: express.Response, options: LiveStreamOptions): void {
  const { liveCalls, clock, logger } = options;
  const keepaliveMs = options.keepaliveMs ?? KEEPALIVE_MS;
  const maxBuffered = options.maxBufferedBytes ?? MAX_BUFFERED_BYTES;
  let ended = false;
  let timer: TimerHandle | null = null;

  res.status(200).set({
    'Content-Type': 'text/event-stream; charset=utf-8',
    'Cache-Control': 'no-store',
    // nginx buffers responses by default, which would hold events back until its buffer fills.
    'X-Accel-Buffering': 'no',
  });
  res.flushHeaders();
  // Small writes should leave at once, not wait for Nagle.
  req.socket.setNoDelay(true);

  const end = (why: string | null): void => {
    if (ended) return;
    ended = true;
    unsubscribe();
    if (timer !== null) clock.clearTimeout(timer);
    if (why !== null) logger.info({ why }, 'console: live stream ended by the server');
    if (!res.writableEnded) res.end();
    options.onEnd?.();
  };

  const write = (chunk: string): void => {
    if (ended) return;
    res.write(chunk);
    if (res.writableLength > maxBuffered) end('the client reads too slowly');
  };

  const unsubscribe = liveCalls.subscribe((message: LiveMessage) => write(frame(message.update.kind, message.json)));
  write(frame('snapshot', JSON.stringify({ calls: liveCalls.snapshot() })));

  const keepalive = (): void => {
    timer = null;
    if (ended) return;
    if (!options.stillValid()) {
      end('the session is no longer valid');
      return;
    }
    write(': keepalive\n\n');
    if (!ended) timer = clock.setTimeout(keepalive, keepaliveMs);
  };
  timer = clock.setTimeout(keepalive, keepaliveMs);

  res.on('close', () => end(null));
}
