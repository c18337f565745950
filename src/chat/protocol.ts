/**
 * The browser-phone socket's messages as the terminal client sees them (docs/console.md), and the transcript lines
 * it prints. Pure.
 */

export type ServerMessage =
  | { readonly type: 'start'; readonly callSid: string; readonly agent: string; readonly sampleRateHz: number | null }
  | { readonly type: 'mark'; readonly name: string }
  | { readonly type: 'clear' }
  | { readonly type: 'transcript'; readonly speaker: 'agent' | 'caller'; readonly itemId: string; readonly text: string; readonly final: boolean }
  | { readonly type: 'end'; readonly reason: string };

const str = (value: unknown): string | null => (typeof value === 'string' ? value : null);

/** A text message from the server, or null when it is not one the client knows (ignored, like the server does). */
export function parseServerMessage(text: string): ServerMessage | null {
  let message: Record<string, unknown>;
  try {
    const parsed = JSON.parse(text) as unknown;
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return null;
    message = parsed as Record<string, unknown>;
  } catch {
    return null;
  }
  switch (message['type']) {
    case 'start': {
      const rate = (message['format'] as { sampleRateHz?: unknown } | undefined)?.sampleRateHz;
      return {
        type: 'start',
        callSid: str(message['callSid']) ?? '?',
        agent: str(message['agent']) ?? '?',
        sampleRateHz: typeof rate === 'number' && Number.isInteger(rate) && rate > 0 ? rate : null,
      };
    }
    case 'mark': {
      const name = str(message['name']);
      return name === null ? null : { type: 'mark', name };
    }
    case 'clear':
      return { type: 'clear' };
    case 'transcript': {
      const speaker = message['speaker'];
      const text = str(message['text']);
      if ((speaker !== 'agent' && speaker !== 'caller') || text === null) return null;
      return { type: 'transcript', speaker, itemId: str(message['itemId']) ?? '', text, final: message['final'] === true };
    }
    case 'end':
      return { type: 'end', reason: str(message['reason']) ?? 'unknown' };
    default:
      return null;
  }
}

/** Client → server text messages. */
export const clientMessage = {
  text: (text: string): string => JSON.stringify({ type: 'text', text }),
  mark: (name: string): string => JSON.stringify({ type: 'mark', name }),
  dtmf: (digit: string): string => JSON.stringify({ type: 'dtmf', digit }),
  hangup: (): string => JSON.stringify({ type: 'hangup' }),
};

const LABEL = { agent: 'agent', caller: 'you' } as const;

/**
 * Which transcript lines to print: each final line once (`agent: …`, `you: …`), again only if a later final for the
 * same item says something else; at the end of the call, lines that never became final, marked with `…`.
 */
export class TranscriptView {
  private readonly printed = new Map<string, string>();
  private readonly interim = new Map<string, { speaker: 'agent' | 'caller'; text: string }>();

  update(message: Extract<ServerMessage, { type: 'transcript' }>): string[] {
    const key = `${message.speaker}:${message.itemId}`;
    const text = message.text.trim();
    if (!message.final) {
      if (text !== '') this.interim.set(key, { speaker: message.speaker, text });
      return [];
    }
    this.interim.delete(key);
    if (text === '' || this.printed.get(key) === text) return [];
    this.printed.set(key, text);
    return [`${LABEL[message.speaker]}: ${text}`];
  }

  /** The end of the call: what was still interim. */
  finish(): string[] {
    const lines = [...this.interim.values()].map((line) => `${LABEL[line.speaker]}: ${line.text}…`);
    this.interim.clear();
    return lines;
  }
}

/** A typed line → the messages to send, `quit`, or nothing (an empty line). `/dtmf 12#` presses keys. */
export type InputAction = { readonly kind: 'send'; readonly messages: readonly string[] } | { readonly kind: 'quit' } | { readonly kind: 'none' } | { readonly kind: 'error'; readonly message: string };

export function inputAction(line: string): InputAction {
  const trimmed = line.trim();
  if (trimmed === '') return { kind: 'none' };
  if (trimmed === '/quit' || trimmed === '/hangup') return { kind: 'quit' };
  const dtmf = /^\/dtmf\s+(.+)$/.exec(trimmed);
  if (dtmf !== null) {
    const digits = dtmf[1]!.replace(/\s+/g, '');
    if (!/^[0-9*#]+$/.test(digits)) return { kind: 'error', message: '/dtmf takes digits, * and #, like /dtmf 12#' };
    return { kind: 'send', messages: [...digits].map((digit) => clientMessage.dtmf(digit)) };
  }
  return { kind: 'send', messages: [clientMessage.text(line)] };
}
