/**
 * Fuzz run sizes: small and fixed in CI (`npm test`), large with `npm run fuzz`
 * (FUZZ_RUNS=N). FUZZ_SEED replays a failure; fast-check prints the seed and path of any
 * counterexample.
 */
export function fuzzParams(ciRuns: number): { numRuns: number; seed?: number; verbose: 0 | 1 } {
  const runs = Number(process.env.FUZZ_RUNS ?? ciRuns);
  const seed = process.env.FUZZ_SEED === undefined ? undefined : Number(process.env.FUZZ_SEED);
  return { numRuns: Number.isFinite(runs) && runs > 0 ? runs : ciRuns, ...(seed === undefined ? {} : { seed }), verbose: 1 };
}

/** How long one long fuzz file may run (vitest's timeout), from FUZZ_RUNS. */
export function fuzzTimeoutMs(): number {
  return process.env.FUZZ_RUNS === undefined ? 30_000 : 24 * 3600 * 1000;
}
