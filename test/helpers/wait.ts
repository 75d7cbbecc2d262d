/** How long to poll, and how often. */
export interface WaitOptions {
  readonly timeoutMs?: number;
  readonly intervalMs?: number;
}

/**
 * Polls `probe` until `accept` likes its value and returns that value; after `timeoutMs`
 * (default 10 s) rejects with an Error naming `what` and the last value seen. The one polling
 * helper of the tests (real processes and servers, where there is no fake clock to advance).
 */
export async function waitFor<T, U extends T>(what: string, probe: () => T | Promise<T>, accept: (v: T) => v is U, options?: WaitOptions): Promise<U>;
export async function waitFor<T>(what: string, probe: () => T | Promise<T>, accept: (v: T) => boolean, options?: WaitOptions): Promise<T>;
export async function waitFor<T>(what: string, probe: () => T | Promise<T>, accept: (v: T) => boolean, options: WaitOptions = {}): Promise<T> {
  const deadline = Date.now() + (options.timeoutMs ?? 10_000);
  for (;;) {
    const last = await probe();
    if (accept(last)) return last;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; last: ${JSON.stringify(last)}`);
    await new Promise((r) => setTimeout(r, options.intervalMs ?? 50));
  }
}

/** `waitFor` on a condition: resolves once `cond()` holds. */
export async function waitUntilTrue(what: string, cond: () => boolean, options?: WaitOptions): Promise<void> {
  await waitFor(what, cond, (v) => v, options);
}

/**
 * `waitFor` on a probe that answers `undefined` until the thing is there: resolves with the
 * first other value (polling every 100 ms, 15 s by default).
 */
export async function waitForValue<T>(what: string, probe: () => Promise<T | undefined>, options: WaitOptions = {}): Promise<T> {
  return waitFor<T | undefined, T>(what, probe, (v): v is T => v !== undefined, { timeoutMs: 15_000, intervalMs: 100, ...options });
}
