/**
 * AudioWorkletGlobalScope, which TypeScript's DOM lib leaves out (web/phone/*-worklet.ts run there).
 */
declare abstract class AudioWorkletProcessor {
  readonly port: MessagePort;
  constructor(options?: AudioWorkletNodeOptions);
  abstract process(inputs: Float32Array[][], outputs: Float32Array[][], parameters: Record<string, Float32Array>): boolean;
}

declare function registerProcessor(name: string, processorCtor: new (options?: AudioWorkletNodeOptions) => AudioWorkletProcessor): void;

/** The worklet scope's rendering rate (the AudioContext's). */
declare const sampleRate: number;

interface Window {
  /** The browser phone's counters, for automated tests (web/phone/phone-session.ts). */
  __phone?: import('./phone/phone-session.js').PhoneCounters;
}
