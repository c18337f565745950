/**
 * Cutting an agent's transcript to what the caller heard: the share of its audio they heard, at a word boundary.
 * Shared by providers that correct their own transcript (ElevenLabs) and by the call records (OpenAI, whose
 * truncate leaves the text whole).
 */

/** The first `share` of `text`, ending at a word boundary (never mid-word), trimmed. */
export function cutAtWord(text: string, share: number): string {
  const target = Math.floor(text.length * Math.min(1, Math.max(0, share)));
  if (target >= text.length) return text;
  if (/\s/.test(text[target] ?? ' ')) return text.slice(0, target).trimEnd();
  const boundary = text.slice(0, target).search(/\s\S*$/);
  return boundary === -1 ? '' : text.slice(0, boundary).trimEnd();
}
