/** The one retry/backoff policy: exponential from `baseMs`, doubling, capped at `maxMs`, with jitter. */
export interface BackoffPolicy {
  readonly baseMs: number;
  readonly maxMs: number;
  /** Fraction of the delay that is randomised (0 = none, 0.2 = +-20 %). */
  readonly jitter: number;
}

/** Defaults that keep a slow or failing API server from a hot loop. */
export const defaultBackoff: BackoffPolicy = { baseMs: 100, maxMs: 30_000, jitter: 0.2 };

/**
 * The delay before retry number `attempt` (0-based). `random` is injected (0 <= r < 1) so
 * the function stays pure and tests are exact.
 */
export function backoffDelay(policy: BackoffPolicy, attempt: number, random: number): number {
  const exp = Math.min(policy.maxMs, policy.baseMs * 2 ** Math.min(attempt, 30));
  const spread = exp * policy.jitter * (2 * random - 1);
  return Math.max(0, Math.min(policy.maxMs, Math.round(exp + spread)));
}
