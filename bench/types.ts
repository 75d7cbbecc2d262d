/** One measured figure, as written to the JSON file and docs/benchmarks.md. */
export interface BenchResult {
  /** e.g. `allocator.alloc_us.v4_24` */
  readonly name: string;
  readonly value: number;
  /** e.g. `us`, `ms`, `MB`, `%`, `rps` */
  readonly unit: string;
  /** The target from the issue, if any, e.g. `< 20`. */
  readonly target?: string;
}

export interface BenchContext {
  readonly isRoot: boolean;
  /** Progress and skip messages go here, never to stdout. */
  log(message: string): void;
  /**
   * Whether `--only` asks for any result under `prefix` (all when no token names this suite's
   * results), so a suite can skip work whose rows would be dropped. Absent: everything.
   */
  wants?(prefix: string): boolean;
}

/** A group of benchmarks; `npm run bench -- --only NAME` matches a suite name or a result-name prefix. */
export interface BenchSuite {
  /** e.g. `allocator` */
  readonly name: string;
  /** Root-only suites are skipped, with a message, when not root. */
  readonly needsRoot: boolean;
  run(ctx: BenchContext): Promise<readonly BenchResult[]>;
}
