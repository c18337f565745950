/**
 * The simulated ElevenLabs Agents (Conversational AI) server: a real HTTP server with the signed-URL endpoint
 * (`GET /v1/convai/conversation/get-signed-url`, see http.ts) and the conversation WebSocket
 * (`/v1/convai/conversation?agent_id=…`), standing in for ElevenLabs in tests, benchmarks and the demo.
 *
 * The upgrade is checked as the platform checks it: a private agent needs a valid, unused `conversation_signature`
 * from a signed URL; a public agent also accepts none; anything else is refused with HTTP 403 before the handshake.
 * The subprotocol `convai` is agreed when offered. Each accepted connection becomes a `SimulatedConversation`
 * (conversation.ts) that speaks the protocol and records everything.
 */
import { closeSimulatedServer, IndexedArrivals, listenLocally, rejectUpgrade } from '../plumbing.js';
import { createServer, type IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { systemClock, type Clock } from '../../clock.js';
import { silentLogger, type Logger } from '../../logger.js';
import { loadSpeechBundle } from '../realtime/replies.js';
import { resolveAgent } from './context.js';
import { SimulatedConversation } from './conversation.js';
import {
  CONVERSATION_PATH,
  DEFAULT_SIGNED_URL_TTL_MS,
  handleHttpRequest,
  SignatureStore,
  signatureRefusal,
  type SignedUrlRequest,
} from './http.js';
import type { SimulatedAgentConfig } from './types.js';

export { SimulatedConversation } from './conversation.js';
export type { SignedUrlRequest } from './http.js';
export * from './types.js';
export { ELEVENLABS_AUDIO_FORMATS, formatInfo, type AudioFormatInfo } from './formats.js';
export { decodeToneTimeline, generateToneTimeline, TONE_SEGMENT_MS, type DecodedToneSegment } from '../realtime/tones.js';

export interface SimulatedElevenLabsServerOptions {
  host?: string;
  /** 0 (default) picks a free port. */
  port?: number;
  /** The key the signed-URL endpoint expects in `xi-api-key`. */
  apiKey: string;
  /** The agents this account has. Each conversation takes a snapshot of its agent's config at connect time. */
  agents: SimulatedAgentConfig[];
  clock?: Clock;
  logger?: Logger;
  /** Keep base64 audio in conversation logs (default true); false logs only sizes. */
  logAudio?: boolean;
  /** Keep closed conversations in `conversations` (default true); false forgets them (long-running embedded backend). */
  retainClosedConversations?: boolean;
  /** How long a signed URL stays usable. Default 15 minutes. */
  signedUrlTtlMs?: number;
}

export interface UpgradeAttempt {
  /** ms since the server started (server clock). */
  atMs: number;
  path: string;
  agentId: string | null;
  /** 101 when the WebSocket was accepted, else the HTTP status sent. */
  status: number;
}

export interface SimulatedElevenLabsServer {
  /** `http://127.0.0.1:<port>`: the REST base (signed URLs). */
  readonly url: string;
  /** `ws://127.0.0.1:<port>/v1/convai/conversation` (append `?agent_id=…` for a public agent). */
  readonly wsUrl: string;
  readonly port: number;
  /** Every accepted conversation, in connection order. */
  readonly conversations: SimulatedConversation[];
  readonly signedUrlRequests: SignedUrlRequest[];
  readonly upgradeAttempts: UpgradeAttempt[];
  /** The live agent configs by id: edits (and new agents) apply to conversations that connect afterwards. */
  readonly agents: Map<string, SimulatedAgentConfig>;
  /** Resolves with the conversation at `index` (default 0) once it has connected. */
  waitForConversation(index?: number): Promise<SimulatedConversation>;
  /** Drops every connection and stops listening. */
  close(): Promise<void>;
}

export async function startSimulatedElevenLabsServer(options: SimulatedElevenLabsServerOptions): Promise<SimulatedElevenLabsServer> {
  const clock = options.clock ?? systemClock;
  const logger = (options.logger ?? silentLogger()).child({ component: 'simulated-elevenlabs' });
  const startedAtMs = clock.now();
  const agents = new Map(options.agents.map((agent) => [agent.agentId, agent]));
  const conversations: SimulatedConversation[] = [];
  const signedUrlRequests: SignedUrlRequest[] = [];
  const upgradeAttempts: UpgradeAttempt[] = [];
  const signatures = new SignatureStore(options.signedUrlTtlMs ?? DEFAULT_SIGNED_URL_TTL_MS);
  const sockets = new Set<WebSocket>();
  const arrivals = new IndexedArrivals<SimulatedConversation>((index) => conversations.find((conversation) => conversation.index === index));
  let conversationCount = 0;
  let closing = false;

  const httpServer = createServer((request, response) =>
    handleHttpRequest(request, response, {
      apiKey: options.apiKey,
      hasAgent: (agentId) => agents.has(agentId),
      signatures,
      wsUrl: () => server.wsUrl,
      nowMs: () => clock.now() - startedAtMs,
      record: (entry) => signedUrlRequests.push(entry),
    }),
  );
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: 16 * 1024 * 1024,
    handleProtocols: (protocols) => (protocols.has('convai') ? 'convai' : false),
  });

  const server: SimulatedElevenLabsServer = {
    url: '',
    wsUrl: '',
    port: 0,
    conversations,
    signedUrlRequests,
    upgradeAttempts,
    agents,
    waitForConversation(index = 0) {
      return arrivals.waitFor(index);
    },
    async close() {
      closing = true;
      await closeSimulatedServer(sockets, wss, httpServer);
    },
  };

  const onConnection = (socket: WebSocket, config: SimulatedAgentConfig, signed: boolean): void => {
    sockets.add(socket);
    const index = conversationCount++;
    const conversation = new SimulatedConversation({
      index,
      agent: resolveAgent(config),
      clock,
      logger,
      logAudio: options.logAudio ?? true,
      signed,
      subprotocol: socket.protocol === '' ? null : socket.protocol,
    });
    conversations.push(conversation);
    socket.on('message', (data) => {
      conversation.receive(Buffer.isBuffer(data) ? data.toString('utf8') : Buffer.concat(data as Buffer[]).toString('utf8'));
    });
    socket.on('close', (code, reason) => {
      sockets.delete(socket);
      conversation.onSocketClosed(code, reason.toString('utf8'));
      if (options.retainClosedConversations === false) conversations.splice(conversations.indexOf(conversation), 1);
    });
    socket.on('error', (error) => logger.debug({ err: error, conversation: conversation.conversationId }, 'simulated elevenlabs socket error'));
    conversation.attach(socket);
    arrivals.arrive(index, conversation);
  };

  httpServer.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    const url = new URL(request.url ?? '/', 'http://simulated.invalid');
    const agentId = url.searchParams.get('agent_id');
    const attempt: UpgradeAttempt = { atMs: clock.now() - startedAtMs, path: url.pathname, agentId, status: 101 };
    upgradeAttempts.push(attempt);
    const reject = (status: number, body: object): void => {
      attempt.status = status;
      rejectUpgrade(socket, status, body);
    };
    if (closing) return reject(503, { detail: 'The server is shutting down.' });
    if (url.pathname !== CONVERSATION_PATH) return reject(404, { detail: 'Not Found' });
    const config = agentId === null ? undefined : agents.get(agentId);
    if (agentId === null || config === undefined) {
      return reject(403, { detail: { status: 'agent_not_found', message: 'The agent does not exist or you do not have access to it.' } });
    }
    const signature = url.searchParams.get('conversation_signature');
    let signed = false;
    if (signature !== null) {
      const verdict = signatures.consume(signature, agentId, clock.now() - startedAtMs);
      if (verdict !== 'ok') return reject(403, signatureRefusal(verdict));
      signed = true;
    }
    if (!signed && config.public !== true) {
      return reject(403, { detail: { status: 'authorization_required', message: 'This agent requires a signed URL.' } });
    }
    wss.handleUpgrade(request, socket, head, (ws) => onConnection(ws, config, signed));
  });

  const { port, authority } = await listenLocally(httpServer, options);
  Object.assign(server, { port, url: `http://${authority}`, wsUrl: `ws://${authority}${CONVERSATION_PATH}` });
  logger.debug({ port }, 'simulated elevenlabs server listening');
  return server;
}

export interface EmbeddedElevenLabsBackendOptions {
  apiKey: string;
  logger: Logger;
  host?: string;
  port?: number;
  /** Default `EMBEDDED_AGENT_ID`. */
  agentId?: string;
}

export const EMBEDDED_AGENT_ID = 'agent_simulated';

/**
 * The default ElevenLabs backend for the demo and `npm start` without an ElevenLabs key: one private agent with
 * mu-law 8 kHz both ways (as ElevenLabs' Twilio guide configures it), bundled espeak-ng speech (the greeting as its
 * first message, then answers round-robin) streamed at 1.5× in 100 ms chunks after a 250 ms "thinking" pause, every
 * override allowed. Closed conversations are not retained and audio is not logged.
 */
export function startEmbeddedElevenLabsBackend(options: EmbeddedElevenLabsBackendOptions): Promise<SimulatedElevenLabsServer> {
  return startSimulatedElevenLabsServer({
    apiKey: options.apiKey,
    logger: options.logger,
    host: options.host ?? '127.0.0.1',
    port: options.port ?? 0,
    logAudio: false,
    retainClosedConversations: false,
    agents: [
      {
        agentId: options.agentId ?? EMBEDDED_AGENT_ID,
        inputFormat: 'ulaw_8000',
        outputFormat: 'ulaw_8000',
        firstMessage: loadSpeechBundle().greeting.transcript,
        reply: { kind: 'speech' },
        speedFactor: 1.5,
        chunkMs: 100,
        responseLatencyMs: 250,
        allowOverrides: { prompt: true, firstMessage: true, language: true, voice: true },
      },
    ],
  });
}
