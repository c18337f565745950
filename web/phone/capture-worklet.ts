/**
 * The browser phone's microphone side, in the AudioWorklet scope: takes the first input channel (128-sample render
 * quanta at the context rate), batches 20 ms (`frameMs` of the node options, default 20) into PCM16 and posts each
 * batch's buffer to the main thread, which sends it on the socket. No input (or muted) still posts silence: the
 * line is never quiet by omission.
 *
 * Main thread → worklet: `{type: 'mute', muted: boolean}`. Worklet → main thread: an ArrayBuffer per batch.
 */
import { CaptureBatcher } from './pcm.js';

const RENDER_QUANTUM = 128;

class CaptureProcessor extends AudioWorkletProcessor {
  private readonly batcher: CaptureBatcher;
  private muted = false;

  constructor(options?: AudioWorkletNodeOptions) {
    super(options);
    const frameMs = Number((options?.processorOptions as { frameMs?: number } | undefined)?.frameMs ?? 20);
    this.batcher = new CaptureBatcher(Math.round((sampleRate * frameMs) / 1000));
    this.port.onmessage = (event: MessageEvent<{ type: string; muted?: boolean }>) => {
      if (event.data.type === 'mute') this.muted = event.data.muted === true;
    };
  }

  process(inputs: Float32Array[][]): boolean {
    const channel = inputs[0]?.[0];
    const batches = this.muted || channel === undefined ? this.batcher.push(null, channel?.length ?? RENDER_QUANTUM) : this.batcher.push(channel);
    for (const batch of batches) this.port.postMessage(batch.buffer, [batch.buffer]);
    return true;
  }
}

registerProcessor('capture-processor', CaptureProcessor);
