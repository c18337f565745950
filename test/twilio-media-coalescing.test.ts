/**
 * The Twilio transport joins the agent audio sent in one tick into one `media` message (src/twilio/media-coalescer.ts),
 * over a real WebSocket: the exact wire messages, frames joined in order, a mark right behind the media it
 * acknowledges, a clear (and a close) flushing the audio sent before it, and the Playout → transport path with the
 * pacer's quantum, wake by wake on a ManualClock (each wake is its own tick: the test awaits a macrotask after each).
 */
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import { Playout } from '../src/call/playout.js';
import { ManualClock } from '../src/clock.js';
import { silentLogger } from '../src/logger.js';
import { clearMessage, markMessage, mediaMessage } from '../src/twilio/builders.js';
import { MediaCoalescer } from '../src/twilio/media-coalescer.js';
import { acceptMediaStream, type MediaStreamSession, type MediaStreamTransportOptions } from '../src/twilio/media-stream.js';
import { connectedWire, frame, startWire, STREAM_SID } from './helpers/twilio-wire.js';

const servers: WebSocketServer[] = [];
const clients: WebSocket[] = [];

afterEach(async () => {
  for (const client of clients.splice(0)) client.terminate();
  await Promise.all(servers.splice(0).map((wss) => new Promise<void>((resolve) => wss.close(() => resolve()))));
});

interface Line {
  session: MediaStreamSession;
  client: WebSocket;
  /** Text messages the client (Twilio) received, in order. */
  received: string[];
  /** Waits until the client has received `count` messages in all. */
  receivedCount(count: number): Promise<void>;
}

async function line(options: Partial<MediaStreamTransportOptions> = {}): Promise<Line> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  servers.push(wss);
  await once(wss, 'listening');
  const session = new Promise<MediaStreamSession>((resolve, reject) => {
    wss.once('connection', (server) => acceptMediaStream(server, { handshakeTimeoutMs: 5_000, logger: silentLogger(), ...options }).then(resolve, reject));
  });
  const client = new WebSocket(`ws://127.0.0.1:${(wss.address() as AddressInfo).port}/media-stream`);
  clients.push(client);
  const received: string[] = [];
  client.on('message', (data) => received.push(String(data)));
  await once(client, 'open');
  client.send(JSON.stringify(connectedWire()));
  client.send(JSON.stringify(startWire()));
  const started = await session;
  started.setHandlers({ onMedia: () => {}, onMark: () => {}, onDtmf: () => {}, onStop: () => {}, onClose: () => {} });
  const receivedCount = async (count: number): Promise<void> => {
    while (received.length < count) await once(client, 'message');
  };
  return { session: started, client, received, receivedCount };
}

/** The next macrotask: every microtask queued before it (the transport's flush) has run. */
const nextTick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** Frame k (1-based) of a test answer: 160 bytes, all k, so a joined payload shows which frames it holds. */
const numbered = (k: number): Uint8Array => frame(k);

/** A wire message as a short string: `media 1-5` (the numbered frames its payload joins), `mark <name>`, `clear`. */
function describeMessage(text: string): string {
  const message = JSON.parse(text) as { event: string; streamSid: string; media?: { payload: string }; mark?: { name: string } };
  expect(message.streamSid).toBe(STREAM_SID);
  if (message.event === 'mark') return `mark ${message.mark!.name}`;
  if (message.event !== 'media') return message.event;
  const bytes = Buffer.from(message.media!.payload, 'base64');
  expect(bytes.length % 160).toBe(0);
  const frames: number[] = [];
  for (let offset = 0; offset < bytes.length; offset += 160) {
    const chunk = bytes.subarray(offset, offset + 160);
    expect(chunk.every((byte) => byte === chunk[0])).toBe(true);
    frames.push(chunk[0]!);
  }
  for (let index = 1; index < frames.length; index++) expect(frames[index]).toBe(frames[index - 1]! + 1);
  return frames.length === 1 ? `media ${frames[0]}` : `media ${frames[0]}-${frames.at(-1)}`;
}

const joined = (...frames: Uint8Array[]): Uint8Array => Uint8Array.from(Buffer.concat(frames));

describe('Twilio transport: media sent in one tick is one message', () => {
  it('joins frames in order; a mark, a clear and a close each flush the media sent before them; exact JSON and counters', async () => {
    const { session, client, received, receivedCount } = await line();
    // Tick 1: two frames, a mark, one more frame.
    expect(session.sendMedia(numbered(1))).toBe(true);
    expect(session.sendMedia(numbered(2))).toBe(true);
    expect(session.stats().mediaMessagesOut).toBe(0); // held until the end of the tick …
    expect(session.sendMark('m1')).toBe(true);
    expect(session.stats()).toMatchObject({ mediaMessagesOut: 1, marksOut: 1 }); // … or until a mark needs them out first
    expect(session.sendMedia(numbered(3))).toBe(true);
    await Promise.resolve();
    await Promise.resolve();
    expect(session.stats().mediaMessagesOut).toBe(2); // flushed at the end of the tick, not later
    // Tick 2: two frames then a clear.
    session.sendMedia(numbered(4));
    session.sendMedia(numbered(5));
    expect(session.sendClear()).toBe(true);
    await nextTick();
    // Tick 3: one frame, then the close.
    session.sendMedia(numbered(6));
    const closed = once(client, 'close');
    session.close(1000, 'done');
    expect(session.sendMedia(numbered(7))).toBe(false);
    await receivedCount(6);
    await closed;

    const expected = [
      mediaMessage(STREAM_SID, joined(numbered(1), numbered(2))),
      markMessage(STREAM_SID, 'm1'),
      mediaMessage(STREAM_SID, numbered(3)),
      mediaMessage(STREAM_SID, joined(numbered(4), numbered(5))),
      clearMessage(STREAM_SID),
      mediaMessage(STREAM_SID, numbered(6)),
    ];
    expect(received).toEqual(expected);
    expect(received.map(describeMessage)).toEqual(['media 1-2', 'mark m1', 'media 3', 'media 4-5', 'clear', 'media 6']);
    expect(session.stats()).toMatchObject({
      mediaMessagesOut: 4,
      mediaBytesOut: 6 * 160,
      marksOut: 1,
      clearsOut: 1,
      bytesOut: expected.reduce((sum, text) => sum + text.length, 0),
    });
  });

  it('coalesceMedia false: one message per sendMedia, exactly as sent (what tests pinning the per-frame wire use)', async () => {
    const { session, received, receivedCount } = await line({ coalesceMedia: false });
    session.sendMedia(numbered(1));
    session.sendMedia(numbered(2));
    expect(session.stats().mediaMessagesOut).toBe(2);
    session.sendMark('m1');
    await receivedCount(3);
    expect(received).toEqual([mediaMessage(STREAM_SID, numbered(1)), mediaMessage(STREAM_SID, numbered(2)), markMessage(STREAM_SID, 'm1')]);
  });

  it('an injected scheduler decides the end of the tick; marks and clears still flush first', async () => {
    const flushes: Array<() => void> = [];
    const { session, received, receivedCount } = await line({ coalesceMedia: (flush) => void flushes.push(flush) });
    session.sendMedia(numbered(1));
    session.sendMedia(numbered(2));
    expect(flushes).toHaveLength(1); // one flush scheduled per pending message, not per frame
    await nextTick();
    expect(session.stats().mediaMessagesOut).toBe(0);
    session.sendMedia(numbered(3));
    flushes.shift()!();
    session.sendMedia(numbered(4));
    session.sendClear();
    flushes.splice(0).forEach((flush) => flush()); // a flush with nothing pending sends nothing
    await receivedCount(3);
    expect(received.map(describeMessage)).toEqual(['media 1-3', 'media 4', 'clear']);
  });

  it('the peer closing with media pending: the media is dropped, nothing throws, later sends return false', async () => {
    const { session, client } = await line({ coalesceMedia: () => {} });
    session.sendMedia(numbered(1));
    const closed = new Promise<void>((resolve) => session.setHandlers({ onMedia: () => {}, onMark: () => {}, onDtmf: () => {}, onStop: () => {}, onClose: () => resolve() }));
    client.close();
    await closed;
    expect(session.sendMedia(numbered(2))).toBe(false);
    expect(session.sendMark('m')).toBe(false);
    expect(session.stats()).toMatchObject({ mediaMessagesOut: 0, marksOut: 0 });
  });
});

describe('MediaCoalescer', () => {
  it('grows its staging buffer and keeps every byte in order; discard forgets what is pending', () => {
    const emitted: Array<[string, number, number]> = [];
    const coalescer = new MediaCoalescer((payload, bytes, frames) => void emitted.push([payload, bytes, frames]), () => {});
    const frames = Array.from({ length: 40 }, (_, index) => Uint8Array.from({ length: 160 }, (_, offset) => (index * 7 + offset) & 0xff));
    for (const bytes of frames) coalescer.add(bytes);
    coalescer.add(new Uint8Array(0));
    expect(coalescer.pendingBytes).toBe(6_400);
    coalescer.flush();
    expect(emitted).toEqual([[Buffer.concat(frames).toString('base64'), 6_400, 41]]);
    coalescer.add(frames[0]!);
    coalescer.discard();
    coalescer.flush();
    expect(emitted).toHaveLength(1);
  });
});

describe('Playout → transport with the pacer quantum (100 ms, lead 200 ms)', () => {
  /** Playout on a ManualClock whose sink is the real transport. */
  async function playoutLine() {
    const wire = await line();
    const clock = new ManualClock(0);
    const frameTimes: number[] = [];
    const playout = new Playout({
      clock,
      leadMs: 200,
      quantumMs: 100,
      markIntervalMs: 100,
      jitterCushionMs: 0,
      logger: silentLogger(),
      sink: {
        sendMedia: (payload) => {
          frameTimes.push(clock.now());
          wire.session.sendMedia(payload);
        },
        sendMark: (name) => void wire.session.sendMark(name),
        sendClear: () => void wire.session.sendClear(),
      },
    });
    /** Advances the clock to `atMs` (firing the pacer's wakes on the way), then lets the transport flush. */
    const at = async (atMs: number): Promise<void> => {
      clock.advance(atMs - clock.now());
      await nextTick();
    };
    return { ...wire, clock, playout, frameTimes, at };
  }

  it('an answer that arrives at once: the lead as two media messages with their marks, then one media + its mark per 100 ms', async () => {
    const { session, received, receivedCount, clock, playout, frameTimes, at } = await playoutLine();
    playout.enqueue('r1', 'A', joined(...Array.from({ length: 30 }, (_, index) => numbered(index + 1))));
    playout.endItem('r1', 'A');
    await nextTick();
    for (const wakeMs of [100, 200, 300, 400]) await at(wakeMs);
    await receivedCount(12);
    expect(received.map(describeMessage)).toEqual([
      // t 0: the lead (200 ms). Each mark sits right behind the media holding the audio it acknowledges.
      'media 1-5', 'mark cb1.1', 'media 6-10', 'mark cb1.2',
      // then one batch per wake: 100 ms of audio as one message, its mark right behind it
      'media 11-15', 'mark cb1.3',
      'media 16-20', 'mark cb1.4',
      'media 21-25', 'mark cb1.5',
      'media 26-30', 'mark cb1.6',
    ]);
    expect(frameTimes).toEqual([...Array(10).fill(0), ...Array(5).fill(100), ...Array(5).fill(200), ...Array(5).fill(300), ...Array(5).fill(400)]);
    // Every frame went through the sequence log and the ledger; the wire carried 6 media messages instead of 30.
    expect(playout.stats()).toMatchObject({ framesSent: 30, marksSent: 6, sequenceErrors: 0, underruns: 0 });
    expect(session.stats()).toMatchObject({ mediaMessagesOut: 6, mediaBytesOut: 30 * 160, marksOut: 6 });
    expect(clock.pendingTimers).toBe(0);
  });

  it('barge-in: the clear goes right after the media sent before it (same tick), and no queued frame ever goes', async () => {
    const { session, received, receivedCount, playout, frameTimes, at } = await playoutLine();
    playout.enqueue('r1', 'A', joined(...Array.from({ length: 30 }, (_, index) => numbered(index + 1))));
    await at(100);
    await at(150);
    // Between wakes nothing is pending: the clear is the next message.
    const first = playout.interrupt();
    expect(first).toMatchObject({ heard: [{ itemId: 'A', heardMs: 150, sentMs: 300 }], droppedFrames: 15 });
    await at(1_000);
    // A new answer and a barge-in in the same tick: its burst is flushed before the clear, never after it.
    playout.enqueue('r2', 'B', joined(...Array.from({ length: 8 }, (_, index) => numbered(100 + index))));
    const second = playout.interrupt();
    expect(second).toMatchObject({ heard: [{ itemId: 'B', heardMs: 0, sentMs: 160 }], droppedFrames: 0 });
    await at(2_000);
    await receivedCount(11);
    expect(received.map(describeMessage)).toEqual([
      'media 1-5', 'mark cb1.1', 'media 6-10', 'mark cb1.2', 'media 11-15', 'mark cb1.3', 'clear',
      // a new mark generation after the first clear
      'media 100-104', 'mark cb2.1', 'media 105-107', 'clear',
    ]);
    expect(frameTimes).toEqual([...Array(10).fill(0), ...Array(5).fill(100), ...Array(8).fill(1_000)]);
    expect(session.stats()).toMatchObject({ mediaMessagesOut: 5, marksOut: 4, clearsOut: 2 });
    expect(playout.stats()).toMatchObject({ framesSent: 23, clears: 2, sequenceErrors: 0 });
  });
});
