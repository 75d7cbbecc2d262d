import type { Logger } from 'pino';

/** Exit codes every command uses. */
export const exitCode = { ok: 0, failure: 1, usage: 2 } as const;

/** What a command gets from main: its own argv, the environment, output streams and the stop signal. */
export interface CommandContext {
  readonly argv: readonly string[];
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream;
  readonly stdin: NodeJS.ReadableStream;
  /** Aborted on SIGTERM/SIGINT; long-running commands settle soon after. */
  readonly signal: AbortSignal;
  /** Builds the root logger from the common flags once the command has parsed them. */
  readonly makeLogger: (level: string, format: string) => Logger;
}

/** One subcommand of `ironlb`. */
export interface Command {
  /** e.g. `config validate` */
  readonly name: string;
  readonly summary: string;
  run(ctx: CommandContext): Promise<number>;
}

/** What a command's module provides: the run; name and summary live in the registry (commands.ts). */
export type CommandRunner = Pick<Command, 'run'>;
