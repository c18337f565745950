/** Display formats shared by the console pages. Pure. */

/** 65_000 → "1:05", 3_725_000 → "1:02:05". */
export function formatDuration(ms: number): string {
  const total = Math.max(0, Math.floor(ms / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  const ss = String(s).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}

/** 0.0123 → "$0.0123"; 0.4 → "$0.40"; 12.5 → "$12.50". */
export function formatUsd(usd: number): string {
  if (usd === 0) return '$0';
  return usd >= 0.1 ? `$${usd.toFixed(2)}` : `$${Number(usd.toPrecision(3))}`;
}

/**
 * An interrupted agent line: the part of what the agent meant to say that the caller never heard (the text after
 * the heard part), or null when the heard text is not a prefix of the full text (a provider's own correction).
 */
export function unsaidPart(heard: string, fullText: string): string | null {
  const said = heard.trim();
  const full = fullText.trim();
  if (!full.startsWith(said)) return null;
  return full.slice(said.length);
}

export function formatMs(ms: number | null | undefined): string {
  return ms === null || ms === undefined || !Number.isFinite(ms) ? '—' : `${Math.round(ms)} ms`;
}

/** A call's time of day in the reader's zone, with the date. */
export function formatDateTime(epochMs: number): string {
  const date = new Date(epochMs);
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`;
}

/** ms into the call → "m:ss.s". */
export function formatOffset(ms: number): string {
  const tenths = Math.max(0, Math.round(ms / 100));
  const m = Math.floor(tenths / 600);
  const s = (tenths % 600) / 10;
  return `${m}:${s < 10 ? '0' : ''}${s.toFixed(1)}`;
}

function pad(value: number): string {
  return String(value).padStart(2, '0');
}
