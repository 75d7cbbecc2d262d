import { createLogger, type LogFormat, type LogLevel } from '../obs/logger.js';
import { AppError, describeError } from '../shared/errors.js';
import { exitCode, type Command, type CommandContext } from './command.js';
import { commands } from './commands.js';

function usage(): string {
  const width = Math.max(...commands.map((c) => c.name.length), 8);
  const lines = commands.map((c) => `  ironlb ${c.name.padEnd(width)}  ${c.summary}`);
  return ['usage:', ...lines, '', 'Run `ironlb <command> --help` for the flags of a command.', ''].join('\n');
}

/** Finds the longest command whose words prefix argv. */
function findCommand(argv: readonly string[]): { command: Command; rest: string[] } | undefined {
  const sorted = [...commands].sort((a, b) => b.name.split(' ').length - a.name.split(' ').length);
  for (const command of sorted) {
    const words = command.name.split(' ');
    if (words.every((w, i) => argv[i] === w)) return { command, rest: argv.slice(words.length) };
  }
  return undefined;
}

/**
 * The CLI: picks the subcommand, wires SIGTERM/SIGINT to an AbortSignal and turns any error
 * into one line and an exit code (never a stack trace for a user's mistake).
 */
export async function main(argv: readonly string[]): Promise<number> {
  const found = findCommand(argv);
  if (found === undefined) {
    const wantsHelp = argv.length === 0 || argv[0] === '--help' || argv[0] === 'help';
    (wantsHelp ? process.stdout : process.stderr).write(
      (wantsHelp ? '' : `ironlb: unknown command "${argv.join(' ')}"\n`) + usage(),
    );
    return wantsHelp ? exitCode.ok : exitCode.usage;
  }
  const controller = new AbortController();
  const stop = (): void => {
    controller.abort(new AppError('ERR_SIGNAL', 'stopped by signal'));
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  const ctx: CommandContext = {
    argv: found.rest,
    env: process.env,
    stdout: process.stdout,
    stderr: process.stderr,
    stdin: process.stdin,
    signal: controller.signal,
    makeLogger: (level, format) => createLogger({ level: level as LogLevel, format: format as LogFormat }),
  };
  try {
    return await found.command.run(ctx);
  } catch (e: unknown) {
    const code = e instanceof AppError ? e.code : 'ERR_UNEXPECTED';
    process.stderr.write(`ironlb ${found.command.name}: ${describeError(e)}\n`);
    return code === 'ERR_USAGE' ? exitCode.usage : exitCode.failure;
  } finally {
    process.off('SIGTERM', stop);
    process.off('SIGINT', stop);
  }
}
