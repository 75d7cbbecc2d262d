import fc from 'fast-check';

/**
 * Fuzz run sizes: small and fixed in CI (`npm test`), large with `npm run fuzz`
 * (FUZZ_RUNS=N cases per property, or FUZZ_SECONDS=S seconds per property). FUZZ_SEED replays
 * a failure; fast-check prints the seed and path of any counterexample.
 */
interface FuzzSize {
  readonly numRuns: number;
  readonly interruptAfterTimeLimit?: number;
}

function envNumber(name: string): number | undefined {
  const raw = process.env[name];
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${name}=${raw}: want a positive number`);
  return n;
}

function size(ciRuns: number): FuzzSize {
  const seconds = envNumber('FUZZ_SECONDS');
  if (seconds !== undefined) return { numRuns: Number.MAX_SAFE_INTEGER, interruptAfterTimeLimit: seconds * 1000 };
  return { numRuns: envNumber('FUZZ_RUNS') ?? ciRuns };
}

/**
 * Checks `property` for `ciRuns` cases, or the size FUZZ_RUNS / FUZZ_SECONDS ask for, and
 * prints how many cases ran (a time-boxed run says so only this way). Throws fast-check's
 * report, with seed and counterexample, on failure.
 */
export function fuzz<T>(name: string, property: fc.IProperty<T>, ciRuns: number): void {
  const seed = envNumber('FUZZ_SEED');
  const started = Date.now();
  const details = fc.check(property, { ...size(ciRuns), markInterruptAsFailure: false, ...(seed === undefined ? {} : { seed }), verbose: fc.VerbosityLevel.Verbose });
  if (details.failed) throw new Error(fc.defaultReportMessage(details));
  console.log(`fuzz ${name}: ${String(details.numRuns)} cases, ${String(details.numSkips)} skipped, ${String(Math.round((Date.now() - started) / 1000))} s, seed ${String(details.seed)}`);
}

/** How long one fuzz test may run (vitest's timeout): FUZZ_SECONDS plus a margin, a day for FUZZ_RUNS. */
export function fuzzTimeoutMs(): number {
  const seconds = envNumber('FUZZ_SECONDS');
  if (seconds !== undefined) return (seconds + 60) * 1000;
  return process.env.FUZZ_RUNS === undefined ? 30_000 : 24 * 3600 * 1000;
}
