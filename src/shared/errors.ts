/**
 * The one base error class thrown at I/O edges. `code` is stable (tests and logs key on it);
 * `cause` keeps the underlying error. Expected refusals are Results, not AppErrors.
 */
export class AppError extends Error {
  /** A stable, machine-readable code such as `ERR_NO_CAP_NET_RAW`. */
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** Bad command-line usage: the CLI prints the message and exits 2. */
export class UsageError extends AppError {
  constructor(message: string) {
    super('ERR_USAGE', message);
  }
}

/** Describes any thrown value in one line, for messages fit for users. */
export function describeError(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}
