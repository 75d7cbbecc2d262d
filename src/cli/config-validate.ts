import { readFile } from 'node:fs/promises';
import { formatIssue, type Config } from '../config/config.js';
import { configSummary, describePool } from '../config/config-summary.js';
import { parseConfigSource } from '../config/config-yaml.js';
import { AppError, describeError, UsageError } from '../shared/errors.js';
import { exitCode, type CommandRunner, type CommandContext } from './command.js';
import { commonFlags, describeFlags, readFlags, type FlagSpec } from './flags.js';

const flagSpec = {
  ...commonFlags,
  output: { type: 'string', default: 'text', choices: ['text', 'json'], description: 'text: one line per pool; json: {"pools":[...]} with each entry as minimal CIDRs' },
} as const satisfies Record<string, FlagSpec>;

/** A ConfigMap holds at most 1 MiB, so a bigger file cannot be a config. */
const maxBytes = 1024 * 1024;

const help = `usage: ironlb config validate [--output text|json] FILE|-

Validates an ironlb config: the raw config (MetalLB v0.12 format, layer2 pools) or a
whole ConfigMap manifest holding it under data.config. "-" reads standard input.
Exit status: 0 valid, 1 invalid (one line per problem on stderr), 2 usage error.

${describeFlags(flagSpec)}
`;

async function readStream(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    size += buf.length;
    if (size > maxBytes) break;
    chunks.push(buf);
  }
  return Buffer.concat(chunks);
}

function readError(source: string, e: unknown): AppError {
  const code = e instanceof Error && 'code' in e ? String(e.code) : '';
  const reason = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'it is a directory' : code === 'EACCES' ? 'permission denied' : describeError(e);
  return new AppError('ERR_CONFIG_READ', `cannot read ${source}: ${reason}`, { cause: e });
}

async function readInput(path: string, stdin: NodeJS.ReadableStream): Promise<string> {
  const source = path === '-' ? 'standard input' : `"${path}"`;
  let bytes: Buffer;
  try {
    bytes = path === '-' ? await readStream(stdin) : await readFile(path);
  } catch (e: unknown) {
    throw readError(source, e);
  }
  if (bytes.length > maxBytes) throw new AppError('ERR_CONFIG_READ', `${source} is larger than 1 MiB, the most a ConfigMap holds`);
  return bytes.toString('utf8');
}

function printValid(ctx: CommandContext, output: string, config: Config): number {
  if (output === 'json') {
    ctx.stdout.write(`${JSON.stringify(configSummary(config))}\n`);
  } else if (config.pools.length === 0) {
    ctx.stdout.write('valid, but no address pools: no Service will get an IP\n');
  } else {
    for (const pool of config.pools) ctx.stdout.write(`${describePool(pool)}\n`);
  }
  return exitCode.ok;
}

/** `ironlb config validate`: exit 0 valid, 1 invalid, 2 usage (DESIGN.md "Two processes, one binary"). */
export const configValidateCommand: CommandRunner = {
  async run(ctx: CommandContext): Promise<number> {
    const { flags, positionals } = readFlags(flagSpec, ctx.argv, ctx.env);
    if (flags.help) {
      ctx.stdout.write(help);
      return exitCode.ok;
    }
    const [path, ...extra] = positionals;
    if (path === undefined || extra.length > 0) throw new UsageError('expected exactly one FILE, or - for standard input');
    const text = await readInput(path, ctx.stdin);
    const parsed = parseConfigSource(text);
    if (parsed.ok) return printValid(ctx, flags.output, parsed.value);
    for (const issue of parsed.error) ctx.stderr.write(`${formatIssue(issue)}\n`);
    if (flags.output === 'json') ctx.stdout.write(`${JSON.stringify({ errors: parsed.error })}\n`);
    return exitCode.failure;
  },
};
