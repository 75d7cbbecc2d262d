import { parseArgs } from 'node:util';
import { UsageError } from '../shared/errors.js';

/**
 * The one flag reader. Every flag may also come from the environment as `IRONLB_<NAME>`
 * (upper snake case, e.g. `--node-name` <- `IRONLB_NODE_NAME`); a flag on the command line wins.
 */
export type FlagSpec =
  | { readonly type: 'string'; readonly default?: string; readonly choices?: readonly string[]; readonly description: string; readonly env?: string }
  | { readonly type: 'strings'; readonly description: string; readonly env?: string }
  | { readonly type: 'number'; readonly default?: number; readonly min?: number; readonly max?: number; readonly description: string; readonly env?: string }
  | { readonly type: 'boolean'; readonly description: string; readonly env?: string };

type ValueOf<S extends FlagSpec> = S extends { type: 'boolean' }
  ? boolean
  : S extends { type: 'strings' }
    ? readonly string[]
    : S extends { type: 'number'; default: number }
      ? number
      : S extends { type: 'number' }
        ? number | undefined
        : S extends { type: 'string'; default: string }
          ? string
          : string | undefined;

export type Flags<T extends Record<string, FlagSpec>> = { readonly [K in keyof T]: ValueOf<T[K]> };

/** Flags every command accepts. */
export const commonFlags = {
  'log-level': { type: 'string', default: 'info', choices: ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'], description: 'log level' },
  'log-format': { type: 'string', default: 'json', choices: ['json', 'pretty'], description: 'log format: json lines, or pretty for people' },
  help: { type: 'boolean', description: 'print this help' },
} as const satisfies Record<string, FlagSpec>;

/** The environment variable a flag falls back to. */
export function envName(flag: string, spec: FlagSpec): string {
  return spec.env ?? `IRONLB_${flag.toUpperCase().replace(/-/g, '_')}`;
}

function fromEnv(flag: string, spec: FlagSpec, env: Readonly<Record<string, string | undefined>>): string | undefined {
  const value = env[envName(flag, spec)];
  return value === undefined || value === '' ? undefined : value;
}

function toNumber(flag: string, raw: string, spec: Extract<FlagSpec, { type: 'number' }>): number {
  const n = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(n)) throw new UsageError(`--${flag}: "${raw}" is not a number`);
  if (spec.min !== undefined && n < spec.min) throw new UsageError(`--${flag}: ${n} is below the minimum ${spec.min}`);
  if (spec.max !== undefined && n > spec.max) throw new UsageError(`--${flag}: ${n} is above the maximum ${spec.max}`);
  return n;
}

function resolveBoolean(raw: unknown, envValue: string | undefined): boolean {
  if (typeof raw === 'boolean') return raw;
  return envValue !== undefined && ['1', 'true', 'yes'].includes(envValue.toLowerCase());
}

function resolveStrings(raw: unknown, envValue: string | undefined): readonly string[] {
  if (Array.isArray(raw) && raw.length > 0) return raw as string[];
  return envValue === undefined ? [] : envValue.split(',').map((s) => s.trim()).filter((s) => s !== '');
}

function resolveString(flag: string, spec: Extract<FlagSpec, { type: 'string' }>, raw: unknown, envValue: string | undefined): string | undefined {
  const text = typeof raw === 'string' ? raw : (envValue ?? spec.default);
  if (text !== undefined && spec.choices !== undefined && !spec.choices.includes(text)) {
    throw new UsageError(`--${flag}: "${text}" is not one of ${spec.choices.join(', ')}`);
  }
  return text;
}

function resolve(flag: string, spec: FlagSpec, raw: unknown, env: Readonly<Record<string, string | undefined>>): unknown {
  const envValue = fromEnv(flag, spec, env);
  switch (spec.type) {
    case 'boolean':
      return resolveBoolean(raw, envValue);
    case 'strings':
      return resolveStrings(raw, envValue);
    case 'number': {
      const text = typeof raw === 'string' ? raw : envValue;
      return text === undefined ? spec.default : toNumber(flag, text, spec);
    }
    case 'string':
      return resolveString(flag, spec, raw, envValue);
  }
}

/**
 * Parses `argv` against `spec`. Throws UsageError (exit 2) for unknown flags, missing values
 * or values out of range; never returns a half-parsed result.
 */
export function readFlags<T extends Record<string, FlagSpec>>(
  spec: T,
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
): { flags: Flags<T>; positionals: string[] } {
  const options: Record<string, { type: 'string' | 'boolean'; multiple?: boolean }> = {};
  for (const [name, s] of Object.entries(spec)) {
    options[name] = s.type === 'boolean' ? { type: 'boolean' } : s.type === 'strings' ? { type: 'string', multiple: true } : { type: 'string' };
  }
  let parsed: { values: Record<string, unknown>; positionals: string[] };
  try {
    parsed = parseArgs({ args: [...argv], options, allowPositionals: true, strict: true });
  } catch (e: unknown) {
    throw new UsageError(e instanceof Error ? e.message.replace(/\. To specify.*$/s, '') : String(e));
  }
  const flags: Record<string, unknown> = {};
  for (const [name, s] of Object.entries(spec)) flags[name] = resolve(name, s, parsed.values[name], env);
  return { flags: flags as Flags<T>, positionals: parsed.positionals };
}

/** One line per flag, for `--help`. */
export function describeFlags(spec: Record<string, FlagSpec>): string {
  return Object.entries(spec)
    .map(([name, s]) => {
      const def = 'default' in s ? ` (default ${String(s.default)})` : '';
      const value = s.type === 'boolean' ? '' : s.type === 'strings' ? ' <value>...' : ' <value>';
      return `  --${name}${value}\n      ${s.description}${def} [env ${envName(name, s)}]`;
    })
    .join('\n');
}

/** Prints `usage` and the flags of `spec` for `--help`; returns exit code 0 to return from the command. */
export function printUsage(out: NodeJS.WritableStream, usage: string, spec: Record<string, FlagSpec>): 0 {
  out.write(`usage: ${usage}\n\n${describeFlags(spec)}\n`);
  return 0;
}
