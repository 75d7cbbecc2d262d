/**
 * Coalesces change notifications into serial runs of one async step: informer callbacks only
 * call `poke()`; at most one run is in flight and at most one more is queued.
 */
export interface ReconcileLoop {
  poke(): void;
  /** Resolves when no run is in flight or queued. */
  idle(): Promise<void>;
}

/** Creates the loop; nothing runs until the first `poke`. Errors go to `onError`, the next poke retries. */
export function createReconcileLoop(step: () => Promise<void>, onError: (e: unknown) => void): ReconcileLoop {
  let running: Promise<void> | undefined;
  let dirty = false;
  const drain = async (): Promise<void> => {
    while (dirty) {
      dirty = false;
      try {
        await step();
      } catch (e: unknown) {
        onError(e);
      }
    }
    running = undefined;
  };
  return {
    poke() {
      dirty = true;
      running ??= drain();
    },
    idle: () => running ?? Promise.resolve(),
  };
}
