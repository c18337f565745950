/**
 * The browser phone's text messages (docs/console.md): parsed without ever throwing, built as exact JSON.
 * Audio travels as binary frames and is not parsed here.
 */
import { parseJsonObject } from '../net/socket-plumbing.js';

/** Longest typed line taken (a pasted page is not a turn). */
export const MAX_TYPED_LINE_CHARS = 2_000;

export type BrowserClientMessage =
  | { readonly type: 'mark'; readonly name: string }
  | { readonly type: 'text'; readonly text: string }
  | { readonly type: 'dtmf'; readonly digit: string }
  | { readonly type: 'hangup' };

export type ParsedClientMessage = { ok: true; message: BrowserClientMessage } | { ok: false; code: string; detail: string };

const DTMF = /^[0-9*#A-D]$/;

export function parseClientMessage(text: string): ParsedClientMessage {
  const parsed = parseJsonObject(text);
  if (!parsed.ok) return parsed;
  const value = parsed.value;
  switch (value['type']) {
    case 'mark':
      return typeof value['name'] === 'string' && value['name'].length > 0 && value['name'].length <= 64
        ? { ok: true, message: { type: 'mark', name: value['name'] } }
        : { ok: false, code: 'BAD_MARK', detail: 'mark: name must be a string of 1–64 characters' };
    case 'text': {
      const line = typeof value['text'] === 'string' ? value['text'].trim() : '';
      if (line.length === 0 || line.length > MAX_TYPED_LINE_CHARS) return { ok: false, code: 'BAD_TEXT', detail: `text: a line of 1–${MAX_TYPED_LINE_CHARS} characters` };
      return { ok: true, message: { type: 'text', text: line } };
    }
    case 'dtmf':
      return typeof value['digit'] === 'string' && DTMF.test(value['digit'])
        ? { ok: true, message: { type: 'dtmf', digit: value['digit'] } }
        : { ok: false, code: 'BAD_DTMF', detail: 'dtmf: digit must be one of 0-9 * # A-D' };
    case 'hangup':
      return { ok: true, message: { type: 'hangup' } };
    default:
      return { ok: false, code: 'UNKNOWN_TYPE', detail: `type: ${JSON.stringify(value['type'] ?? null)?.slice(0, 40)} is not a message this socket takes` };
  }
}

export function startMessage(callSid: string, agent: string, sampleRateHz: number): string {
  return JSON.stringify({ type: 'start', callSid, agent, format: { encoding: 'pcm16', sampleRateHz }, frameMs: 20 });
}

export function markMessage(name: string): string {
  return JSON.stringify({ type: 'mark', name });
}

export const CLEAR_MESSAGE = '{"type":"clear"}';

export function transcriptMessage(line: { speaker: string; itemId: string; text: string; final: boolean }): string {
  return JSON.stringify({ type: 'transcript', speaker: line.speaker, itemId: line.itemId, text: line.text, final: line.final });
}

export function endMessage(reason: string): string {
  return JSON.stringify({ type: 'end', reason });
}
