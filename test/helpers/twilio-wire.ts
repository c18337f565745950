/** Inbound Twilio messages as Twilio sends them (numbers as strings), for tests. */

export const STREAM_SID = 'MZ00000000000000000000000000000001';
export const CALL_SID = 'CA00000000000000000000000000000001';
export const ACCOUNT_SID = 'AC00000000000000000000000000000001';

export function connectedWire(): Record<string, unknown> {
  return { event: 'connected', protocol: 'Call', version: '1.0.0' };
}

export function startWire(
  options: { streamSid?: string; callSid?: string; customParameters?: Record<string, string>; sequenceNumber?: number } = {},
): Record<string, unknown> {
  const streamSid = options.streamSid ?? STREAM_SID;
  return {
    event: 'start',
    sequenceNumber: String(options.sequenceNumber ?? 1),
    streamSid,
    start: {
      accountSid: ACCOUNT_SID,
      streamSid,
      callSid: options.callSid ?? CALL_SID,
      tracks: ['inbound'],
      customParameters: options.customParameters ?? {},
      mediaFormat: { encoding: 'audio/x-mulaw', sampleRate: 8000, channels: 1 },
    },
  };
}

export function mediaWire(
  sequenceNumber: number,
  chunk: number,
  timestampMs: number,
  payload: Uint8Array,
  streamSid = STREAM_SID,
): Record<string, unknown> {
  return {
    event: 'media',
    sequenceNumber: String(sequenceNumber),
    streamSid,
    media: { track: 'inbound', chunk: String(chunk), timestamp: String(timestampMs), payload: Buffer.from(payload).toString('base64') },
  };
}

export function markWire(sequenceNumber: number, name: string, streamSid = STREAM_SID): Record<string, unknown> {
  return { event: 'mark', sequenceNumber: String(sequenceNumber), streamSid, mark: { name } };
}

export function dtmfWire(sequenceNumber: number, digit: string, streamSid = STREAM_SID): Record<string, unknown> {
  return { event: 'dtmf', sequenceNumber: String(sequenceNumber), streamSid, dtmf: { track: 'inbound_track', digit } };
}

export function stopWire(sequenceNumber: number, streamSid = STREAM_SID): Record<string, unknown> {
  return { event: 'stop', sequenceNumber: String(sequenceNumber), streamSid, stop: { accountSid: ACCOUNT_SID, callSid: CALL_SID } };
}

/** A 20 ms frame whose every byte is `fill`, so frames are told apart in assertions. */
export function frame(fill: number, byteCount = 160): Uint8Array {
  return new Uint8Array(byteCount).fill(fill);
}
