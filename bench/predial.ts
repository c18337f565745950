/**
 * Pre-dial gain: time from the Media Stream `start` to the first agent audio the caller hears (the greeting), with
 * the upstream session opened while the webhook is answered versus opened when the stream starts. The simulated
 * Realtime server delays every WebSocket handshake by --handshake-delay-ms (default 300, a slow real-world dial).
 *
 *   npm run bench:predial -- [--handshake-delay-ms 300] [--twilio-setup-ms 250] [--calls 5]
 */
import { parseArgs } from 'node:util';
import { loadConfig } from '../src/config.js';
import { silentLogger } from '../src/logger.js';
import { startServer } from '../src/server/app.js';
import { startSimulatedRealtimeServer } from '../src/simulator/realtime/server.js';
import { placeCall } from '../src/simulator/twilio-caller.js';

const { values } = parseArgs({
  options: {
    'handshake-delay-ms': { type: 'string', default: '300' },
    'twilio-setup-ms': { type: 'string', default: '250' },
    calls: { type: 'string', default: '5' },
  },
});
const handshakeDelayMs = Number(values['handshake-delay-ms']);
/** Time Twilio takes between reading the TwiML and opening the stream: the window pre-dial uses. */
const twilioSetupMs = Number(values['twilio-setup-ms']);
const calls = Number(values.calls);
const apiKey = 'sim-predial-bench';
const authToken = 'predial-bench-token';
const publicBaseUrl = 'https://callbridge.bench';

async function firstAudioMs(predial: boolean): Promise<number[]> {
  const sim = await startSimulatedRealtimeServer({ apiKey, handshakeDelayMs, reply: { kind: 'tone', frequencyHz: 440, durationMs: 500 }, speedFactor: 4, logAudio: false });
  const config = loadConfig({ PORT: '0', HOST: '127.0.0.1', PUBLIC_BASE_URL: publicBaseUrl, TWILIO_AUTH_TOKEN: authToken, OPENAI_API_KEY: apiKey, AGENT_GREETING: 'Hello.' });
  const server = await startServer({ config, logger: silentLogger(), predial, upstream: { url: sim.url, model: 'gpt-realtime', apiKey, authMode: 'bearer' } });
  const results: number[] = [];
  for (let index = 0; index < calls; index++) {
    const call = await placeCall({ baseUrl: `http://127.0.0.1:${server.port}`, publicBaseUrl, authToken, audio: { kind: 'silence', durationMs: 1_500 }, connectDelayMs: twilioSetupMs });
    const first = await call.waitForMessage((message) => (message as { event?: string }).event === 'media', 10_000);
    results.push(first.atMs);
    await call.closed;
  }
  await server.close();
  await sim.close();
  return results;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const without = await firstAudioMs(false);
const withPredial = await firstAudioMs(true);
console.log(`pre-dial benchmark: simulated OpenAI handshake delay ${handshakeDelayMs} ms, Twilio TwiML→stream setup ${twilioSetupMs} ms, ${calls} calls each`);
console.log(`  stream start → first agent audio, dialled at stream start: median ${median(without).toFixed(1)} ms`);
console.log(`  stream start → first agent audio, pre-dialled at webhook:  median ${median(withPredial).toFixed(1)} ms`);
console.log(`  gain: ${(median(without) - median(withPredial)).toFixed(1)} ms`);
