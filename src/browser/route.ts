/**
 * The browser phone's socket after its upgrade was let through (browser/upgrade.ts): the token is used up, a call
 * SID is minted (`WB` + 32 hex digits, the shape of a Twilio SID so records and the API treat both alike), and the
 * call is admitted like a phone call.
 */
import { randomBytes } from 'node:crypto';
import type http from 'node:http';
import type { WebSocket } from 'ws';
import { pcm16ChannelAudio } from '../audio/channel-audio.js';
import type { Logger } from '../logger.js';
import type { CallAdmission } from '../server/admission.js';
import { BrowserChannel } from './channel.js';
import type { PhoneTokens } from './phone-tokens.js';
import { checkPhoneUpgrade } from './upgrade.js';

export function browserCallSid(): string {
  return `WB${randomBytes(16).toString('hex')}`;
}

export function handlePhoneSocket(
  socket: WebSocket,
  req: http.IncomingMessage,
  deps: { tokens: PhoneTokens; admission: CallAdmission; logger: Logger; trustedOrigins: readonly string[] },
): void {
  const verdict = checkPhoneUpgrade(req, deps.tokens, deps.trustedOrigins);
  // verifyClient checked it a moment ago; the token may have been used by a racing upgrade since.
  const info = verdict.ok ? deps.tokens.consume(verdict.token) : null;
  if (!verdict.ok || info === null) {
    socket.close(1008, 'phone token already used');
    return;
  }
  const callSid = browserCallSid();
  const logger = deps.logger.child({ callSid, channel: 'browser' });
  logger.info({ agent: info.agentName, rateHz: verdict.rateHz, issuedTo: info.issuedTo }, 'browser phone call started');
  const channel = new BrowserChannel(socket, { callSid, agentName: info.agentName, audio: pcm16ChannelAudio(verdict.rateHz), logger });
  try {
    deps.admission.acceptBrowserCall(channel, info.agentName, () => undefined);
  } catch (error) {
    // A dial that throws (a configuration the start-up checks did not catch) ends this call, not the process.
    logger.error({ err: error }, 'could not start the browser call');
    channel.close(1011, 'internal error');
  }
}
