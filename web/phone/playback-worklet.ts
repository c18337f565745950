/**
 * The browser phone's speaker side, in the AudioWorklet scope: a PlaybackFifo of the agent's PCM16 frames and mark
 * names in arrival order, played to the first output (mono, copied to every channel).
 *
 * Main thread → worklet: `{type: 'frame', samples: Int16Array}`, `{type: 'mark', name}`, `{type: 'clear'}`.
 * Worklet → main thread: `{type: 'marks', names, cleared, samplesPlayed?}` (marks the playhead passed, or every
 * pending mark on a clear, with the samples played by then) and `{type: 'played', framesPlayed, queued}` whenever a frame finished playing or a clear emptied the queue.
 */
import { PlaybackFifo } from './playback-fifo.js';

type Command = { type: 'frame'; samples: Int16Array } | { type: 'mark'; name: string } | { type: 'clear' };

class PlaybackProcessor extends AudioWorkletProcessor {
  private readonly fifo = new PlaybackFifo();
  private reportedFrames = 0;

  constructor(options?: AudioWorkletNodeOptions) {
    super(options);
    this.port.onmessage = (event: MessageEvent<Command>) => {
      const command = event.data;
      if (command.type === 'frame') this.fifo.pushFrame(command.samples);
      else if (command.type === 'mark') this.fifo.pushMark(command.name);
      else if (command.type === 'clear') {
        const names = this.fifo.clear();
        // What had played when the clear came: the page's own account of what the caller heard.
        this.port.postMessage({ type: 'marks', names, cleared: true, samplesPlayed: this.fifo.samplesPlayed });
        this.report(true);
      }
    };
  }

  process(_inputs: Float32Array[][], outputs: Float32Array[][]): boolean {
    const output = outputs[0];
    const first = output?.[0];
    if (output === undefined || first === undefined) return true;
    const names = this.fifo.pull(first);
    for (let channel = 1; channel < output.length; channel++) output[channel]!.set(first);
    if (names.length > 0) this.port.postMessage({ type: 'marks', names, cleared: false });
    this.report(false);
    return true;
  }

  private report(always: boolean): void {
    if (!always && this.fifo.framesPlayed === this.reportedFrames) return;
    this.reportedFrames = this.fifo.framesPlayed;
    this.port.postMessage({ type: 'played', framesPlayed: this.fifo.framesPlayed, queued: this.fifo.queued });
  }
}

registerProcessor('playback-processor', PlaybackProcessor);
