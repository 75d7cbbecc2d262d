/** Time as a port: the real clock lives in sys/, tests use a fake one. */
export interface Clock {
  /** Milliseconds on a monotonic scale (for durations and timeouts). */
  now(): number;
  /** Wall-clock time (for timestamps written to the API). */
  wallTime(): Date;
  /** Resolves after `ms`, or rejects with the signal's reason when it aborts first. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}
