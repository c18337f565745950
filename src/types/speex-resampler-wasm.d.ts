// The package ships an Emscripten module factory with no typings; this declares the part we call.
declare module '@echogarden/speex-resampler-wasm/simd' {
  export interface SpeexResamplerWasmModule {
    HEAP16: Int16Array;
    HEAPU32: Uint32Array;
    _malloc(byteCount: number): number;
    _free(pointer: number): void;
    _speex_resampler_init(
      channelCount: number,
      inputRateHz: number,
      outputRateHz: number,
      quality: number,
      errorPointer: number,
    ): number;
    _speex_resampler_process_int(
      state: number,
      channelIndex: number,
      inputPointer: number,
      inputLengthPointer: number,
      outputPointer: number,
      outputLengthPointer: number,
    ): number;
    _speex_resampler_skip_zeros(state: number): number;
    _speex_resampler_reset_mem(state: number): number;
    _speex_resampler_get_input_latency(state: number): number;
    _speex_resampler_get_output_latency(state: number): number;
    _speex_resampler_destroy(state: number): void;
  }
  const createModule: (moduleArg?: object) => Promise<SpeexResamplerWasmModule>;
  export default createModule;
}
