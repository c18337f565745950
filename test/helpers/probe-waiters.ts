/**
 * Waits for a condition over what a test client has received: each `notify()` (a message arrived, the socket
 * closed) re-checks every pending probe. Shared by the raw Realtime and ElevenLabs test clients.
 */
export class ProbeWaiters {
  private readonly listeners = new Set<() => void>();

  /** Something arrived: re-check every pending probe. */
  notify(): void {
    for (const listener of [...this.listeners]) listener();
  }

  /** Resolves with the first defined `probe()`; rejects after `timeoutMs`, saying what did arrive (`got()`). */
  waitUntil<T>(probe: () => T | undefined, what: string, got: () => string, timeoutMs = 5_000): Promise<T> {
    return new Promise((resolve, reject) => {
      const check = (): void => {
        const value = probe();
        if (value !== undefined) {
          this.listeners.delete(check);
          clearTimeout(timer);
          resolve(value);
        }
      };
      const timer = setTimeout(() => {
        this.listeners.delete(check);
        reject(new Error(`timed out waiting for ${what}; got ${got()}`));
      }, timeoutMs);
      this.listeners.add(check);
      check();
    });
  }
}
