/**
 * Helpers for end-to-end tests of agents and call control: the caller's speech, what was heard (tone-coded), Twilio's
 * signed `<Connect action>` / `<Dial action>` requests, and connecting the stream of a TwiML the bridge answered to
 * one of them (a failed transfer back to the agent) as Twilio would.
 */
import { randomBytes } from 'node:crypto';
import { MULAW_SAMPLE_RATE_HZ, mulawSilence } from '../../src/audio/frames.js';
import { decodeMulaw, encodeMulaw } from '../../src/audio/mulaw.js';
import { concatBytes } from '../../src/audio/pcm.js';
import { systemClock } from '../../src/clock.js';
import { decodeToneTimeline } from '../../src/simulator/realtime/server.js';
import { parseTwiml, webhookParams, type CallerAudio, type SimulatedCall } from '../../src/simulator/twilio-caller.js';
import { buildScript } from '../../src/simulator/twilio-caller-script.js';
import { LiveCall, openStreamSocket } from '../../src/simulator/twilio-live-call.js';
import { twilioSignatureHeader } from '../../src/simulator/twilio-webhook-client.js';
import { signTwilioRequest } from '../../src/twilio/signature.js';
import { ACCOUNT_SID, AUTH_TOKEN, PUBLIC_BASE_URL, type Bridge, type WebhookResponse } from './e2e.js';
import { sineInt16 } from './signal.js';

export const XML_HEAD = '<?xml version="1.0" encoding="UTF-8"?>';
export const HANG_UP_TWIML = `${XML_HEAD}<Response><Hangup/></Response>`;
export const CONNECT_ACTION_URL = 'https://callbridge.test/connect-action';
export const DIAL_ACTION_URL = 'https://callbridge.test/dial-action';

/** The (responseIndex, segmentIndex) pairs heard, in order. */
export function heardToneSegments(mulaw: Uint8Array): Array<[number, number]> {
  return decodeToneTimeline(decodeMulaw(mulaw)).map((segment) => [segment.responseIndex, segment.segmentIndex]);
}

/** Every segment of one response, once each, in order. */
export function wholeResponse(responseIndex: number, durationMs: number): Array<[number, number]> {
  return Array.from({ length: durationMs / 100 }, (_, index) => [responseIndex, index]);
}

/**
 * The caller's audio: silence with loud 300 Hz bursts (speech to the simulated VAD) at the given times, `totalMs` long.
 */
export function callerSpeech(bursts: ReadonlyArray<{ atMs: number; durationMs: number }>, totalMs: number): CallerAudio {
  const parts: Uint8Array[] = [];
  let cursorMs = 0;
  for (const burst of bursts) {
    parts.push(mulawSilence(((burst.atMs - cursorMs) * MULAW_SAMPLE_RATE_HZ) / 1000));
    parts.push(encodeMulaw(sineInt16(300, MULAW_SAMPLE_RATE_HZ, (burst.durationMs * MULAW_SAMPLE_RATE_HZ) / 1000, 8_000)));
    cursorMs = burst.atMs + burst.durationMs;
  }
  parts.push(mulawSilence(((totalMs - cursorMs) * MULAW_SAMPLE_RATE_HZ) / 1000));
  return { kind: 'mulaw', bytes: concatBytes(parts) };
}

/** The params Twilio posts to an action URL for a call (the Voice webhook's, plus e.g. `DialCallStatus`). */
export function actionParams(call: { callSid: string; from?: string; to?: string }, extra: Record<string, string> = {}): Record<string, string> {
  return { ...webhookParams({ callSid: call.callSid, accountSid: ACCOUNT_SID, from: call.from ?? '+15005550006', to: call.to ?? '+15005550001' }), ...extra };
}

/**
 * POSTs `params` to `path` (`/connect-action`, `/dial-action`) as Twilio would: signed over the public URL with the
 * auth token (default), another token, or not at all (null).
 */
export async function postAction(
  bridge: Pick<Bridge, 'baseUrl'>,
  path: string,
  params: Record<string, string>,
  options: { signWith?: string | null } = {},
): Promise<WebhookResponse> {
  const headers: Record<string, string> = { 'Content-Type': 'application/x-www-form-urlencoded' };
  const signWith = options.signWith === undefined ? AUTH_TOKEN : options.signWith;
  if (signWith !== null) headers['X-Twilio-Signature'] = signTwilioRequest(signWith, PUBLIC_BASE_URL + path, params);
  const response = await fetch(bridge.baseUrl + path, { method: 'POST', headers, body: new URLSearchParams(params).toString() });
  return { status: response.status, contentType: response.headers.get('content-type') ?? '', body: await response.text() };
}

/**
 * Connects the `<Connect><Stream>` of `twiml` (an action route's answer) as Twilio does after executing it: the signed
 * upgrade to the bridge, `start` with the TwiML's `<Parameter>`s, then `audio` paced in real time.
 */
export async function connectTwimlStream(
  bridge: Pick<Bridge, 'baseUrl'>,
  twiml: string,
  options: { callSid: string; audio: CallerAudio; hangUpAfterMs?: number },
): Promise<SimulatedCall> {
  const parsedTwiml = parseTwiml(twiml);
  if (parsedTwiml.streamUrl === null) throw new Error(`no <Connect><Stream> in ${twiml}`);
  const streamUrl = parsedTwiml.streamUrl;
  const placeOptions = {
    baseUrl: bridge.baseUrl,
    publicBaseUrl: PUBLIC_BASE_URL,
    authToken: AUTH_TOKEN,
    callSid: options.callSid,
    audio: options.audio,
    ...(options.hangUpAfterMs === undefined ? {} : { hangUpAfterMs: options.hangUpAfterMs }),
  };
  const script = buildScript(placeOptions);
  const dialUrl = `ws://${new URL(bridge.baseUrl).host}${new URL(streamUrl).pathname}`;
  const socket = await openStreamSocket(dialUrl, twilioSignatureHeader(AUTH_TOKEN, streamUrl, {}));
  const streamSid = `MZ${randomBytes(16).toString('hex')}`;
  return new LiveCall({
    clock: systemClock,
    socket,
    callSid: options.callSid,
    accountSid: ACCOUNT_SID,
    streamSid,
    twiml,
    parsedTwiml,
    streamUrl,
    script,
    options: placeOptions,
  }).publicView();
}
