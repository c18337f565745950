/** Log hygiene for simulated sessions (`logAudio: false`). */

/** Replaces base64 audio payloads by their decoded size, for logs of long sessions. */
export function elideAudio<T extends object>(event: T): T {
  const record = event as Record<string, unknown>;
  for (const key of ['audio', 'delta'] as const) {
    const value = record[key];
    if (typeof value === 'string' && (record['type'] === 'input_audio_buffer.append' || record['type'] === 'response.output_audio.delta')) {
      return { ...event, [key]: `[${Math.floor((value.length * 3) / 4)} bytes elided]` };
    }
  }
  return event;
}
