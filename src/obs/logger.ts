import { pino, type Logger, type DestinationStream } from 'pino';

export type { Logger } from 'pino';

/** Log formats the CLI offers: JSON lines for machines (default), pretty for people. */
export type LogFormat = 'json' | 'pretty';
export const logLevels = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
export type LogLevel = (typeof logLevels)[number];

export interface LoggerOptions {
  readonly level: LogLevel;
  readonly format: LogFormat;
  /** Where lines go; tests pass a sink and parse the JSON lines. Defaults to stderr. */
  readonly destination?: DestinationStream;
}

/**
 * Creates the process's root logger. Components take a child (`logger.child({ component })`);
 * nothing else creates loggers, and nothing holds one at module level.
 */
export function createLogger(options: LoggerOptions): Logger {
  const base = { level: options.level, base: { pid: process.pid } };
  if (options.destination !== undefined) return pino(base, options.destination);
  if (options.format === 'pretty') {
    return pino({ ...base, transport: { target: 'pino-pretty', options: { destination: 2, colorize: false } } });
  }
  return pino(base, pino.destination({ fd: 2, sync: true }));
}
