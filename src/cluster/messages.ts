/**
 * What instances tell each other on the PostgreSQL channel `callbridge_<schema>` (NOTIFY payloads, at most 8000 bytes
 * each): batches of live-call updates, hang-up requests for a call another instance serves, and calls found lost.
 * Parsing never throws: a payload from another version or a broken peer is ignored.
 */
import type { CallEvent } from '../call/call-events.js';
import { parseJsonObject } from '../net/socket-plumbing.js';
import type { CallInfo } from '../observers/hub.js';

/**
 * The channel of the cluster whose tables live in `schema`: NOTIFY is database-wide, so two deployments (or two test
 * runs) sharing a database in different schemas must not hear each other.
 */
export function clusterChannel(schema: string): string {
  return `callbridge_${schema.toLowerCase().replace(/[^a-z0-9_]/g, '_')}`.slice(0, 63);
}
/** Room left under PostgreSQL's 8000-byte NOTIFY limit for the envelope. */
export const MAX_PAYLOAD_BYTES = 7_600;
/** A transcript line longer than this is cut for the live view (the record keeps it whole). */
const MAX_LIVE_TEXT_CHARS = 2_000;

export type RemoteUpdate =
  | { readonly kind: 'call_started'; readonly call: CallInfo }
  | { readonly kind: 'call_event'; readonly callSid: string; readonly event: CallEvent }
  | { readonly kind: 'call_ended'; readonly callSid: string; readonly endReason: string; readonly durationMs: number };

export type ClusterMessage =
  | { readonly k: 'live'; readonly from: string; readonly u: readonly RemoteUpdate[] }
  | { readonly k: 'hangup'; readonly from: string; readonly to: string; readonly callSid: string; readonly reason: string }
  | { readonly k: 'lost'; readonly from: string; readonly instanceId: string; readonly callSids: readonly string[] };

/**
 * `updates` as `live` payloads of at most MAX_PAYLOAD_BYTES each, in order. An update too big on its own (a very long
 * transcript line) has its text cut; one still too big is left out and counted in `dropped`.
 */
export function encodeLiveBatches(from: string, updates: readonly RemoteUpdate[]): { payloads: string[]; dropped: number } {
  const head = `{"k":"live","from":${JSON.stringify(from)},"u":[`;
  const payloads: string[] = [];
  let dropped = 0;
  let parts: string[] = [];
  let size = head.length + 2;
  for (const update of updates) {
    let json = JSON.stringify(update);
    if (Buffer.byteLength(json) + head.length + 2 > MAX_PAYLOAD_BYTES) json = JSON.stringify(shortened(update));
    const bytes = Buffer.byteLength(json);
    if (bytes + head.length + 2 > MAX_PAYLOAD_BYTES) {
      dropped++;
      continue;
    }
    if (size + bytes + 1 > MAX_PAYLOAD_BYTES) {
      payloads.push(`${head}${parts.join(',')}]}`);
      parts = [];
      size = head.length + 2;
    }
    parts.push(json);
    size += bytes + 1;
  }
  if (parts.length > 0) payloads.push(`${head}${parts.join(',')}]}`);
  return { payloads, dropped };
}

function shortened(update: RemoteUpdate): RemoteUpdate {
  if (update.kind !== 'call_event' || update.event.type !== 'transcript') return update;
  return { ...update, event: { ...update.event, text: `${update.event.text.slice(0, MAX_LIVE_TEXT_CHARS)}…` } };
}

const isString = (value: unknown): value is string => typeof value === 'string';

/** A payload from the channel, or null when it is not one this version understands. */
export function parseClusterMessage(payload: string): ClusterMessage | null {
  const parsed = parseJsonObject(payload);
  if (!parsed.ok) return null;
  const message = parsed.value;
  if (!isString(message['from'])) return null;
  switch (message['k']) {
    case 'live': {
      const updates = message['u'];
      if (!Array.isArray(updates)) return null;
      return { k: 'live', from: message['from'], u: updates.filter(isRemoteUpdate) };
    }
    case 'hangup':
      return isString(message['to']) && isString(message['callSid']) && isString(message['reason'])
        ? { k: 'hangup', from: message['from'], to: message['to'], callSid: message['callSid'], reason: message['reason'] }
        : null;
    case 'lost': {
      const callSids = message['callSids'];
      return isString(message['instanceId']) && Array.isArray(callSids) && callSids.every(isString)
        ? { k: 'lost', from: message['from'], instanceId: message['instanceId'], callSids }
        : null;
    }
    default:
      return null;
  }
}

function isRemoteUpdate(value: unknown): value is RemoteUpdate {
  if (value === null || typeof value !== 'object') return false;
  const update = value as Record<string, unknown>;
  switch (update['kind']) {
    case 'call_started': {
      const call = update['call'] as Record<string, unknown> | null;
      return call !== null && typeof call === 'object' && isString(call['callSid']) && isString(call['agent']) && typeof call['startedAtEpochMs'] === 'number';
    }
    case 'call_event': {
      const event = update['event'] as Record<string, unknown> | null;
      return isString(update['callSid']) && event !== null && typeof event === 'object' && isString(event['type']);
    }
    case 'call_ended':
      return isString(update['callSid']) && isString(update['endReason']) && typeof update['durationMs'] === 'number';
    default:
      return false;
  }
}
