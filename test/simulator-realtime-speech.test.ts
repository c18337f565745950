/**
 * Bundled speech replies (assets/speech) and the embedded backend used by the demo and `npm start` without a key:
 * the greeting answers a greeting request, answers then go round-robin, and the audio is the committed WAV's.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { base64ToBytes, pcm16ToBytes } from '../src/audio/pcm.js';
import { silentLogger } from '../src/logger.js';
import { startEmbeddedRealtimeBackend } from '../src/simulator/realtime/server.js';
import { readWav } from '../src/audio/wav.js';
import {
  concatSamples,
  RawRealtimeClient,
  SIM_API_KEY as API_KEY,
  SIM_AUTH as AUTH,
  silence,
  toneBurst,
  useSimulatedServer,
} from './helpers/realtime-sim-client.js';

const manifest = JSON.parse(readFileSync(new URL('../assets/speech/manifest.json', import.meta.url), 'utf8')) as {
  phrases: Array<{ file: string; role: string; text: string }>;
};

const sims = useSimulatedServer();

describe('speech replies', () => {
  it('greets on a greeting request, then answers round-robin, streaming the bundled WAV audio exactly', async () => {
    await sims.start({ apiKey: API_KEY, speedFactor: Infinity, reply: { kind: 'speech' } });
    const client = await RawRealtimeClient.connect(sims.current.url, AUTH);
    await client.waitFor('session.created');
    client.send({ type: 'response.create', response: { instructions: 'Greet the caller.' } });
    await client.waitFor('response.done');
    for (let turn = 2; turn <= 6; turn++) {
      client.appendPcm(concatSamples(toneBurst(300), silence(600)));
      await client.waitFor('response.done', turn);
    }
    const transcripts = client.ofType('response.output_audio_transcript.done').map((event) => event.transcript);
    const greeting = manifest.phrases.find((phrase) => phrase.role === 'greeting')!;
    const answers = manifest.phrases.filter((phrase) => phrase.role === 'answer');
    expect(transcripts).toEqual([greeting.text, ...answers.map((phrase) => phrase.text), answers[0]!.text]);

    const firstResponseId = client.ofType('response.created')[0]!.response.id;
    const audio = Buffer.concat(
      client.ofType('response.output_audio.delta').filter((delta) => delta.response_id === firstResponseId).map((delta) => base64ToBytes(delta.delta)),
    );
    const wav = readWav(readFileSync(new URL(`../assets/speech/${greeting.file}`, import.meta.url)));
    expect(audio).toEqual(Buffer.from(pcm16ToBytes(wav.samples)));
  });
});

describe('embedded backend', () => {
  it('listens on 127.0.0.1, waits its thinking pause, then speaks the greeting at a real-time-ish pace', async () => {
    sims.adopt(await startEmbeddedRealtimeBackend({ apiKey: API_KEY, logger: silentLogger() }));
    expect(sims.current.url).toMatch(/^ws:\/\/127\.0\.0\.1:\d+\/v1\/realtime$/);
    const client = await RawRealtimeClient.connect(sims.current.url, AUTH);
    await client.waitFor('session.created');
    const session = await sims.current.waitForSession();
    const sentAt = performance.now();
    client.send({ type: 'response.create', response: { instructions: 'Greet the caller.' } });
    await client.waitFor('response.output_audio.delta', 4);
    const elapsedMs = performance.now() - sentAt;
    // 250 ms pause, then 100 ms deltas at 1.5× real time: the 4th is due ~450 ms after the request.
    expect(elapsedMs).toBeGreaterThanOrEqual(430);
    expect(elapsedMs).toBeLessThan(1_500);
    expect(base64ToBytes(client.ofType('response.output_audio.delta')[0]!.delta).length).toBe(4_800);
    client.close();
    await session.closed;
    expect(sims.current.sessions).toHaveLength(0);
  });
});
