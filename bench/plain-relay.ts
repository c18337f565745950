/**
 * The reference for bench/calls.ts: a plain mu-law relay, a faithful minimal equivalent of the official Twilio + OpenAI
 * Node sample (twilio-samples/speech-assistant-openai-realtime-api-node, index.js, GA Realtime API version). Per call it
 * does what the sample does and nothing else:
 *
 *   - `/incoming-call` (any method) answers the sample's TwiML: `<Say>`, `<Pause>`, then
 *     `<Connect><Stream url="wss://{Host header}/media-stream"/>`; `/` answers a JSON "running" message;
 *   - `/media-stream` (WebSocket): per connection, one `ws` client to the Realtime server (`?model=gpt-realtime&
 *     temperature=0.8`, `Authorization: Bearer`), and 100 ms after it opens one GA `session.update` with `audio/pcmu`
 *     both ways and default `server_vad`;
 *   - Twilio `media` → `input_audio_buffer.append` with the same base64 payload (only while the upstream socket is
 *     open: frames before that are dropped, as in the sample); `latestMediaTimestamp` kept from `media.timestamp`;
 *   - `response.output_audio.delta` → a Twilio `media` message with the delta as payload, then one `mark`
 *     (`responsePart`, queued until Twilio echoes it); the first delta of a response sets the response start to
 *     `latestMediaTimestamp`; the delta's `item_id` is remembered;
 *   - `input_audio_buffer.speech_started` while marks are pending → `conversation.item.truncate` at
 *     `latestMediaTimestamp − response start` (the sample's elapsed-time estimate) and a Twilio `clear`, then reset;
 *   - Twilio `start` takes the streamSid; `mark` pops the queue; closing the Twilio socket closes the upstream one.
 *
 * Deliberately left out (not part of what is measured): the sample's console logging of selected events and of every
 * non-media Twilio event (the bridge is measured at LOG_LEVEL=warn; errors are still reported), dotenv, and Fastify
 * itself — `node:http` + `ws` stand in for Fastify + @fastify/formbody + @fastify/websocket, which wrap the same `ws`
 * library, so the per-frame path (JSON.parse, JSON.stringify, ws send) is the sample's. Like the sample it has no
 * signature checks, no pacing, no transcoding, no sequence checks, no admission control and no reconnects.
 *
 * Started by bench/bridge-process.ts when BENCH_SERVER=relay; not a product feature.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import WebSocket, { WebSocketServer, type RawData } from 'ws';

/** The sample's constants (its system message is long; its length is what matters for one session.update per call). */
const SYSTEM_MESSAGE =
  'You are a helpful and bubbly AI assistant who loves to chat about anything the user is interested about and is prepared to offer them facts. ' +
  'You have a penchant for dad jokes, owl jokes, and rickrolling – subtly. Always stay positive, but work in a joke when appropriate.';
const VOICE = 'alloy';
const TEMPERATURE = 0.8;

export interface PlainRelayOptions {
  host: string;
  /** 0 picks a free port. */
  port: number;
  /** The Realtime endpoint, e.g. `ws://127.0.0.1:1234/v1/realtime` (the sample: `wss://api.openai.com/v1/realtime`). */
  realtimeUrl: string;
  apiKey: string;
  /** Where the sample's console.error lines go (default: stderr). */
  onError?: (message: string) => void;
}

export interface PlainRelay {
  readonly port: number;
  /** Media-stream connections currently open. */
  readonly activeCalls: number;
  close(): Promise<void>;
}

interface TwilioMessage {
  event?: string;
  media?: { payload?: string; timestamp?: string };
  start?: { streamSid?: string };
}

interface RealtimeMessage {
  type?: string;
  delta?: string;
  item_id?: string;
}

export async function startPlainRelay(options: PlainRelayOptions): Promise<PlainRelay> {
  const reportError = options.onError ?? ((message: string) => process.stderr.write(`${message}\n`));
  const realtimeUrl = `${options.realtimeUrl}?model=gpt-realtime&temperature=${TEMPERATURE}`;
  let activeCalls = 0;

  const httpServer = createServer((request: IncomingMessage, reply: ServerResponse) => {
    const path = (request.url ?? '/').split('?')[0];
    // @fastify/formbody reads and parses the form body; nothing uses it.
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      void new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
      if (path === '/incoming-call') {
        const twimlResponse = `<?xml version="1.0" encoding="UTF-8"?>
                          <Response>
                              <Say voice="Google.en-US-Chirp3-HD-Aoede">Please wait while we connect your call to the A. I. voice assistant, powered by Twilio and the Open A I Realtime API</Say>
                              <Pause length="1"/>
                              <Say voice="Google.en-US-Chirp3-HD-Aoede">O.K. you can start talking!</Say>
                              <Connect>
                                  <Stream url="wss://${request.headers.host ?? ''}/media-stream" />
                              </Connect>
                          </Response>`;
        reply.writeHead(200, { 'content-type': 'text/xml' }).end(twimlResponse);
      } else if (path === '/' && request.method === 'GET') {
        reply.writeHead(200, { 'content-type': 'application/json; charset=utf-8' }).end(JSON.stringify({ message: 'Twilio Media Stream Server is running!' }));
      } else {
        reply.writeHead(404, { 'content-type': 'application/json; charset=utf-8' }).end(JSON.stringify({ message: 'Not Found', statusCode: 404 }));
      }
    });
  });
  const wss = new WebSocketServer({ server: httpServer, path: '/media-stream' });

  wss.on('connection', (connection: WebSocket) => {
    activeCalls++;
    // Connection-specific state
    let streamSid: string | null = null;
    let latestMediaTimestamp = 0;
    let lastAssistantItem: string | null = null;
    let markQueue: string[] = [];
    let responseStartTimestampTwilio: number | null = null;

    const openAiWs = new WebSocket(realtimeUrl, { headers: { Authorization: `Bearer ${options.apiKey}` } });

    // Control initial session with OpenAI
    const initializeSession = (): void => {
      const sessionUpdate = {
        type: 'session.update',
        session: {
          type: 'realtime',
          model: 'gpt-realtime',
          output_modalities: ['audio'],
          audio: {
            input: { format: { type: 'audio/pcmu' }, turn_detection: { type: 'server_vad' } },
            output: { format: { type: 'audio/pcmu' }, voice: VOICE },
          },
          instructions: SYSTEM_MESSAGE,
        },
      };
      // The sample also console.logs the update here.
      if (openAiWs.readyState === WebSocket.OPEN) openAiWs.send(JSON.stringify(sessionUpdate));
    };

    // Handle interruption when the caller's speech starts
    const handleSpeechStartedEvent = (): void => {
      if (markQueue.length > 0 && responseStartTimestampTwilio != null) {
        const elapsedTime = latestMediaTimestamp - responseStartTimestampTwilio;
        if (lastAssistantItem) {
          const truncateEvent = { type: 'conversation.item.truncate', item_id: lastAssistantItem, content_index: 0, audio_end_ms: elapsedTime };
          openAiWs.send(JSON.stringify(truncateEvent));
        }
        connection.send(JSON.stringify({ event: 'clear', streamSid: streamSid }));
        // Reset
        markQueue = [];
        lastAssistantItem = null;
        responseStartTimestampTwilio = null;
      }
    };

    // Send mark messages to Media Streams so we know if and when AI response playback is finished
    const sendMark = (): void => {
      if (streamSid) {
        connection.send(JSON.stringify({ event: 'mark', streamSid: streamSid, mark: { name: 'responsePart' } }));
        markQueue.push('responsePart');
      }
    };

    openAiWs.on('open', () => {
      setTimeout(initializeSession, 100);
    });

    // Listen for messages from the OpenAI WebSocket (and send to Twilio if necessary)
    openAiWs.on('message', (data: RawData) => {
      try {
        const response = JSON.parse(data.toString()) as RealtimeMessage;
        if (response.type === 'response.output_audio.delta' && response.delta) {
          const audioDelta = { event: 'media', streamSid: streamSid, media: { payload: response.delta } };
          connection.send(JSON.stringify(audioDelta));
          // First delta from a new response starts the elapsed time counter
          if (!responseStartTimestampTwilio) responseStartTimestampTwilio = latestMediaTimestamp;
          if (response.item_id) lastAssistantItem = response.item_id;
          sendMark();
        }
        if (response.type === 'input_audio_buffer.speech_started') handleSpeechStartedEvent();
      } catch (error) {
        reportError(`Error processing OpenAI message: ${String(error)}`);
      }
    });

    // Handle incoming messages from Twilio
    connection.on('message', (message: RawData) => {
      try {
        const data = JSON.parse(message.toString()) as TwilioMessage;
        switch (data.event) {
          case 'media':
            // The sample keeps the string (`latestMediaTimestamp = data.media.timestamp`); its subtraction coerces it.
            latestMediaTimestamp = Number(data.media?.timestamp);
            if (openAiWs.readyState === WebSocket.OPEN) {
              const audioAppend = { type: 'input_audio_buffer.append', audio: data.media?.payload };
              openAiWs.send(JSON.stringify(audioAppend));
            }
            break;
          case 'start':
            streamSid = data.start?.streamSid ?? null;
            // Reset start and media timestamp on a new stream
            responseStartTimestampTwilio = null;
            latestMediaTimestamp = 0;
            break;
          case 'mark':
            if (markQueue.length > 0) markQueue.shift();
            break;
          default:
            // The sample logs every other event ('connected', 'stop').
            break;
        }
      } catch (error) {
        reportError(`Error parsing message: ${String(error)}`);
      }
    });

    // Handle connection close
    connection.on('close', () => {
      activeCalls--;
      if (openAiWs.readyState === WebSocket.OPEN) openAiWs.close();
    });

    openAiWs.on('error', (error: Error) => {
      reportError(`Error in the OpenAI WebSocket: ${error.message}`);
    });
  });

  await new Promise<void>((resolve, reject) => {
    httpServer.once('error', reject);
    httpServer.listen(options.port, options.host, () => resolve());
  });
  const port = (httpServer.address() as AddressInfo).port;

  return {
    port,
    get activeCalls() {
      return activeCalls;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const client of wss.clients) client.terminate();
        wss.close();
        httpServer.close(() => resolve());
        httpServer.closeAllConnections();
      }),
  };
}
