import { describe, expect, it } from 'vitest';
import { PlaybackLedger } from '../src/call/playback-ledger.js';
import type { FrameEntry, MarkEntry } from '../src/call/out-queue.js';

let frameId = 0;
function frame(itemId: string, itemOffsetMs: number, audioMs = 20): FrameEntry {
  return { kind: 'frame', responseId: 'r1', itemId, payload: new Uint8Array(160), itemOffsetMs, audioMs, frameId: ++frameId };
}
function mark(itemId: string, itemOffsetMs: number, endOfItem = false): MarkEntry {
  return { kind: 'mark', responseId: 'r1', itemId, itemOffsetMs, endOfItem };
}
/** Sends `count` frames of `itemId` from `fromOffsetMs`, contiguous in the model from `playStartMs`. */
function sendRun(ledger: PlaybackLedger, itemId: string, fromOffsetMs: number, count: number, sentAtMs: number, playStartMs: number): void {
  for (let index = 0; index < count; index++) ledger.onFrameSent(frame(itemId, fromOffsetMs + index * 20), sentAtMs, playStartMs + index * 20);
}

describe('PlaybackLedger', () => {
  it('names marks as opaque keys per generation and ignores unknown and old-generation echoes', () => {
    const ledger = new PlaybackLedger();
    sendRun(ledger, 'A', 0, 10, 0, 0);
    const first = mark('A', 100);
    expect(ledger.nameMark(first)).toBe('cb1.1');
    expect(ledger.nameMark(mark('A', 200))).toBe('cb1.2');
    expect(ledger.onMarkEchoed('cb1.1', 100)).toBe(first);
    expect(ledger.onMarkEchoed('cb1.1', 101)).toBeNull(); // echoed twice
    expect(ledger.onMarkEchoed('cb9.1', 101)).toBeNull(); // never named
    ledger.clear(150);
    expect(ledger.generation).toBe(2);
    expect(ledger.nameMark(mark('B', 100))).toBe('cb2.1');
    // Twilio echoes pending marks on clear: proof of nothing.
    expect(ledger.onMarkEchoed('cb1.2', 151)).toBeNull();
    expect(ledger.heardMs('A', 500)).toBe(150);
  });

  it('with no mark echoed, heard ms follows the playback model and never exceeds what was sent', () => {
    const ledger = new PlaybackLedger();
    sendRun(ledger, 'A', 0, 10, 1_000, 1_000);
    expect(ledger.heardMs('A', 999)).toBe(0);
    expect(ledger.heardMs('A', 1_000)).toBe(0);
    expect(ledger.heardMs('A', 1_137.9)).toBe(137);
    expect(ledger.heardMs('A', 5_000)).toBe(200);
    expect(ledger.heardMs('unknown', 5_000)).toBe(0);
  });

  it('accounts for modelled gaps (underruns) instead of assuming continuous playback', () => {
    const ledger = new PlaybackLedger();
    sendRun(ledger, 'A', 0, 5, 0, 0); // plays 0..100
    sendRun(ledger, 'A', 100, 5, 150, 150); // ran dry; plays 150..250
    expect(ledger.heardMs('A', 120)).toBe(100);
    expect(ledger.heardMs('A', 200)).toBe(150);
  });

  it('extrapolates from the last echoed mark in real time, capped at the next unechoed mark', () => {
    const ledger = new PlaybackLedger();
    sendRun(ledger, 'A', 0, 15, 0, 0);
    ledger.nameMark(mark('A', 100));
    ledger.nameMark(mark('A', 200));
    ledger.onMarkEchoed('cb1.1', 140); // echoed 40 ms after the model expected it
    expect(ledger.heardMs('A', 170)).toBe(130);
    // Twilio stalls: no echo of the 200 mark, so the estimate stops there rather than running on.
    expect(ledger.heardMs('A', 400)).toBe(200);
  });

  it('floors and caps at the real (unpadded) audio sent, so a truncate never overshoots', () => {
    const ledger = new PlaybackLedger();
    sendRun(ledger, 'A', 0, 5, 0, 0);
    ledger.onFrameSent(frame('A', 100, 12.5), 0, 100);
    ledger.nameMark(mark('A', 100));
    ledger.nameMark(mark('A', 112.5, true));
    ledger.onMarkEchoed('cb1.1', 100);
    expect(ledger.sentMs('A')).toBe(112.5);
    expect(ledger.heardMs('A', 111.9)).toBe(111);
    expect(ledger.heardMs('A', 119)).toBe(112);
    // Once the end mark is echoed nothing is unechoed: only the sent audio bounds the extrapolation.
    ledger.onMarkEchoed('cb1.2', 120);
    expect(ledger.heardMs('A', 10_000)).toBe(112);
  });

  it('caps the playback model at the real audio too: the padded tail plays 20 ms but carries 12.5', () => {
    const ledger = new PlaybackLedger();
    sendRun(ledger, 'A', 0, 5, 0, 0);
    ledger.onFrameSent(frame('A', 100, 12.5), 0, 100);
    expect(ledger.heardMs('A', 110)).toBe(110);
    expect(ledger.heardMs('A', 119)).toBe(112);
  });

  it("anchors the next item's start to the previous item's end echo when it was already buffered", () => {
    const ledger = new PlaybackLedger();
    sendRun(ledger, 'A', 0, 5, 0, 0); // A modelled 0..100
    ledger.nameMark(mark('A', 100, true));
    sendRun(ledger, 'B', 0, 5, 0, 100); // B buffered behind A, modelled 100..200
    ledger.onMarkEchoed('cb1.1', 130); // A really ended at 130
    expect(ledger.heardMs('B', 160)).toBe(30);
    expect(ledger.inPlay(160).map((item) => item.itemId)).toEqual(['B']);
  });

  it('does not anchor an item sent after the echo: its own modelled start stands', () => {
    const ledger = new PlaybackLedger();
    sendRun(ledger, 'A', 0, 5, 0, 0);
    ledger.nameMark(mark('A', 100, true));
    ledger.onMarkEchoed('cb1.1', 130);
    sendRun(ledger, 'B', 0, 5, 300, 300);
    expect(ledger.heardMs('B', 350)).toBe(50);
  });

  it('clear() freezes the heard ms of unfinished items at the clear time', () => {
    const ledger = new PlaybackLedger();
    sendRun(ledger, 'A', 0, 10, 0, 0);
    ledger.clear(73);
    expect(ledger.heardMs('A', 1_000)).toBe(73);
    expect(ledger.inPlay(1_000)).toEqual([]);
  });
});
