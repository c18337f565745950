/**
 * A simulated Twilio phone call against the bridge, as Twilio does it:
 *
 *   1. POST the Voice webhook (form-encoded, `X-Twilio-Signature` over the public URL plus the params);
 *   2. read the TwiML: `<Connect><Stream url>` with `<Parameter>`s, or no stream at all (busy);
 *   3. open the WebSocket, the upgrade signed over the exact stream URL with no params;
 *   4. send `connected`, `start`, then 20 ms media frames paced on the clock (plus `dtmf`), a phone's continued
 *      silence, then `stop` and close;
 *   5. play what the bridge sends through a {@link TwilioPlaybackEmulator} and echo its marks back on the socket.
 *
 * Used by tests, benchmarks, the CLI and the demo alike. Every time reported is ms since `start` was sent.
 * This module places the call; the steps live in twilio-webhook-client (1), twilio-twiml (2), twilio-caller-script
 * (what is sent when) and twilio-live-call (3–5). Their public names are re-exported here.
 */
import { randomBytes } from 'node:crypto';
import { systemClock } from '../clock.js';
import { buildScript } from './twilio-caller-script.js';
import type { CallResult, PlaceCallOptions, SimulatedCall } from './twilio-caller-types.js';
import { LiveCall, openStreamSocket } from './twilio-live-call.js';
import type { TwilioPlaybackEmulator } from './twilio-playback.js';
import type { ParsedTwiml } from './twilio-twiml.js';
import { postVoiceWebhook, twilioSignatureHeader, webhookParams } from './twilio-webhook-client.js';

export {
  TwilioCallerError,
  type CallerAudio,
  type CallerErrorCode,
  type CallResult,
  type PlaceCallOptions,
  type ProtocolErrorCounts,
  type ReceivedMessage,
  type SentMessage,
  type SimulatedCall,
} from './twilio-caller-types.js';
export { resampleTo8k } from './twilio-caller-script.js';
export { parseTwiml, type ParsedTwiml } from './twilio-twiml.js';
export { webhookParams } from './twilio-webhook-client.js';

/** Places one call. Resolves once `start` has been sent (or at once with outcome `busy`); rejects with TwilioCallerError. */
export async function placeCall(options: PlaceCallOptions): Promise<SimulatedCall> {
  const clock = options.clock ?? systemClock;
  const baseUrl = stripSlash(options.baseUrl);
  const publicBaseUrl = stripSlash(options.publicBaseUrl ?? baseUrl);
  const callSid = options.callSid ?? randomSid('CA');
  const accountSid = options.accountSid ?? randomSid('AC');
  // Load and encode the audio first: a bad file must fail before the phone rings.
  const script = buildScript(options);

  const webhookPath = options.webhookPath ?? '/incoming-call';
  const { twiml, parsedTwiml } = await postVoiceWebhook({
    url: baseUrl + webhookPath,
    signedUrl: publicBaseUrl + webhookPath,
    params: webhookParams({ callSid, accountSid, from: options.from ?? '+15005550006', to: options.to ?? '+15005550001' }),
    authToken: options.authToken,
  });
  if (parsedTwiml.streamUrl === null) return busyCall({ callSid, accountSid, twiml, parsedTwiml });

  const streamUrl = parsedTwiml.streamUrl;
  const dialUrl = options.connectUrl ?? (publicBaseUrl === baseUrl ? streamUrl : rebaseUrl(streamUrl, baseUrl));
  const headers = options.signUpgrade === false ? {} : twilioSignatureHeader(options.authToken, streamUrl, {});
  if ((options.connectDelayMs ?? 0) > 0) {
    await new Promise<void>((resolve) => clock.setTimeout(resolve, options.connectDelayMs ?? 0));
  }
  const socket = await openStreamSocket(dialUrl, headers);
  const streamSid = randomSid('MZ');
  return new LiveCall({ clock, socket, callSid, accountSid, streamSid, twiml, parsedTwiml, streamUrl, script, options }).publicView();
}

function busyCall(details: { callSid: string; accountSid: string; twiml: string; parsedTwiml: ParsedTwiml }): SimulatedCall {
  const result: CallResult = {
    outcome: 'busy',
    callSid: details.callSid,
    accountSid: details.accountSid,
    streamSid: null,
    streamUrl: null,
    twiml: details.twiml,
    parsedTwiml: details.parsedTwiml,
    endedBy: null,
    serverClosedFirst: false,
    closeCode: null,
    closeReason: '',
    durationMs: 0,
    heardAudio: new Uint8Array(0),
    heardSegments: [],
    heardMsTotal: 0,
    unplayedBytesAtEnd: 0,
    marks: [],
    clears: [],
    underruns: [],
    underrunCount: 0,
    underrunMs: 0,
    received: [],
    sent: [],
    protocolErrors: { invalidJson: 0, binaryMessages: 0, wrongStreamSid: 0, invalidPayloads: 0, invalidMarks: 0, unknownEvents: 0, afterStop: 0 },
  };
  const closed = Promise.resolve(result);
  const noStream = () => new Error('busy call has no stream');
  return {
    outcome: 'busy',
    callSid: details.callSid,
    accountSid: details.accountSid,
    streamSid: null,
    streamUrl: null,
    parsedTwiml: details.parsedTwiml,
    playback: null,
    received: [],
    sent: [],
    protocolErrors: result.protocolErrors,
    elapsedMs: () => 0,
    pressDigit: () => {
      throw noStream();
    },
    waitForMessage: () => Promise.reject(noStream()),
    hangUp: () => closed,
    closed,
  };
}

function randomSid(prefix: 'CA' | 'AC' | 'MZ'): string {
  return prefix + randomBytes(16).toString('hex');
}

function stripSlash(url: string): string {
  return url.endsWith('/') ? url.slice(0, -1) : url;
}

/** Same path on another origin: `wss://public.example/media-stream` + `http://127.0.0.1:9` → `ws://127.0.0.1:9/media-stream`. */
function rebaseUrl(streamUrl: string, baseUrl: string): string {
  const stream = new URL(streamUrl);
  const base = new URL(baseUrl);
  return `${base.protocol === 'https:' ? 'wss:' : 'ws:'}//${base.host}${stream.pathname}${stream.search}`;
}
