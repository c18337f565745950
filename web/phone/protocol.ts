/**
 * The browser-phone socket's messages (docs/console.md, "The browser-phone socket"). Pure (no DOM).
 */
export const PHONE_RATE = 24000;
export const FRAME_MS = 20;

export type ServerMessage =
  | { readonly type: 'start'; readonly callSid: string; readonly agent: string }
  | { readonly type: 'mark'; readonly name: string }
  | { readonly type: 'clear' }
  | { readonly type: 'transcript'; readonly speaker: 'caller' | 'agent'; readonly itemId: string; readonly text: string; readonly final: boolean }
  | { readonly type: 'end'; readonly reason: string };

/** `/phone/ws?token=…` (relative or absolute, http(s) or ws(s)) → `ws(s)://host/phone/ws?token=…&rate=24000`. */
export function phoneSocketUrl(url: string, pageUrl: string): string {
  const absolute = new URL(url, pageUrl);
  absolute.protocol = absolute.protocol === 'https:' || absolute.protocol === 'wss:' ? 'wss:' : 'ws:';
  return `${absolute.href}&rate=${PHONE_RATE}`;
}

const isString = (value: unknown): value is string => typeof value === 'string';

/** A text message from the server, or null when it is not one we know (ignored, never fatal). */
export function parseServerMessage(text: string): ServerMessage | null {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof data !== 'object' || data === null) return null;
  const m = data as Record<string, unknown>;
  switch (m['type']) {
    case 'start':
      return isString(m['callSid']) ? { type: 'start', callSid: m['callSid'], agent: isString(m['agent']) ? m['agent'] : '' } : null;
    case 'mark':
      return isString(m['name']) ? { type: 'mark', name: m['name'] } : null;
    case 'clear':
      return { type: 'clear' };
    case 'transcript':
      if ((m['speaker'] !== 'caller' && m['speaker'] !== 'agent') || !isString(m['itemId']) || !isString(m['text'])) return null;
      return { type: 'transcript', speaker: m['speaker'], itemId: m['itemId'], text: m['text'], final: m['final'] === true };
    case 'end':
      return { type: 'end', reason: isString(m['reason']) ? m['reason'] : 'ended' };
    default:
      return null;
  }
}
