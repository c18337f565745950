/**
 * TwiML as a verb list: a small, strict XML reader (elements, attributes, text, CDATA, comments, the declaration)
 * that keeps document order, which the caller-side `parseTwiml` does not need and so does not keep. A document Twilio
 * could not parse is a TwimlParseError with Twilio's code (12100 parse failure, 12102 root is not `<Response>`).
 */
import { decodeXml } from '../twilio-twiml.js';

export interface TwimlElement {
  name: string;
  attributes: Record<string, string>;
  children: TwimlElement[];
  /** The element's own text (not its children's), entities decoded, trimmed. */
  text: string;
}

export class TwimlParseError extends Error {
  override name = 'TwimlParseError';
  constructor(
    readonly code: 12100 | 12102,
    message: string,
  ) {
    super(message);
  }
}

// One token per match: comment | declaration/PI | CDATA | doctype | end tag | start or empty tag | text | stray '<'.
const TOKEN =
  /<!--[\s\S]*?-->|<\?[\s\S]*?\?>|<!\[CDATA\[([\s\S]*?)\]\]>|<!DOCTYPE[^>]*>|<\/\s*([A-Za-z_][\w:.-]*)\s*>|<([A-Za-z_][\w:.-]*)((?:\s+[^\s=/>]+\s*=\s*(?:"[^"]*"|'[^']*'))*)\s*(\/?)>|([^<]+)|(<)/g;
const ATTRIBUTE = /([^\s=/>]+)\s*=\s*(?:"([^"]*)"|'([^']*)')/g;

/** The verbs of a `<Response>` document, in order. */
export function parseTwimlVerbs(xml: string): TwimlElement[] {
  const root = parseXml(xml);
  if (root.name !== 'Response') throw new TwimlParseError(12102, `the root element must be <Response>, not <${root.name}>`);
  return root.children;
}

function parseXml(xml: string): TwimlElement {
  const stack: Array<{ element: TwimlElement; textParts: string[] }> = [];
  // A holder, not a `let`: it is assigned inside `open`, where control-flow narrowing cannot see it.
  const document: { root: TwimlElement | null } = { root: null };
  const open = (element: TwimlElement): void => {
    const parent = stack.at(-1);
    if (parent !== undefined) parent.element.children.push(element);
    else if (document.root !== null) throw new TwimlParseError(12100, `a second root element <${element.name}>`);
    else document.root = element;
  };
  const close = (): void => {
    const top = stack.pop()!;
    top.element.text = top.textParts.join('').trim();
  };

  for (const match of xml.matchAll(TOKEN)) {
    const [token, cdata, endName, startName, attributeText, selfClosing, text, stray] = match;
    if (stray !== undefined) throw new TwimlParseError(12100, `malformed markup at offset ${match.index}`);
    if (text !== undefined || cdata !== undefined) {
      const value = cdata ?? decodeXml(text!);
      const top = stack.at(-1);
      if (top !== undefined) top.textParts.push(value);
      else if (value.trim() !== '') throw new TwimlParseError(12100, 'text outside the root element');
      continue;
    }
    if (endName !== undefined) {
      if (stack.at(-1)?.element.name !== endName) throw new TwimlParseError(12100, `unexpected </${endName}>`);
      close();
      continue;
    }
    if (startName !== undefined) {
      const element: TwimlElement = { name: startName, attributes: parseAttributes(attributeText ?? ''), children: [], text: '' };
      open(element);
      if (selfClosing === '/') continue;
      stack.push({ element, textParts: [] });
      continue;
    }
    void token; // comment, declaration or doctype: nothing to keep
  }
  if (stack.length > 0) throw new TwimlParseError(12100, `<${stack.at(-1)!.element.name}> is never closed`);
  if (document.root === null) throw new TwimlParseError(12100, 'the document has no root element');
  return document.root;
}

function parseAttributes(text: string): Record<string, string> {
  const attributes: Record<string, string> = {};
  for (const match of text.matchAll(ATTRIBUTE)) attributes[match[1]!] = decodeXml(match[2] ?? match[3] ?? '');
  return attributes;
}
