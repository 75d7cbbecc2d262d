import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root. */
export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
/** The installed CLI entry point (uses dist/, built by `npm test`): for integration and netns tests. */
export const cliPath = join(repoRoot, 'bin', 'ironlb.js');
/** The CLI from src/ through tsx: unit tests run this, so a stale dist/ cannot pass or fail them. */
const sourceCli = ['--import', 'tsx', join(repoRoot, 'test', 'helpers', 'ironlb-source.ts')];

export interface CliResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface CliOptions {
  readonly stdin?: string;
  readonly env?: Record<string, string>;
  readonly timeoutMs?: number;
}

/** Runs the installed `ironlb ...args` (dist/) as a user would, with optional stdin, and collects its output. */
export async function runCli(args: readonly string[], options: CliOptions = {}): Promise<CliResult> {
  return runNode([cliPath, ...args], options);
}

/** Runs `ironlb ...args` from src/ (no build needed), with optional stdin, and collects its output. */
export async function runSourceCli(args: readonly string[], options: CliOptions = {}): Promise<CliResult> {
  // tsx compiles the CLI on the way in (about 2 s of CPU more than dist/): allow for a busy machine.
  return runNode([...sourceCli, ...args], { timeoutMs: sourceCliTimeoutMs, ...options });
}

/** How long a source CLI run may take; tests that start one allow this much more than the default. */
export const sourceCliTimeoutMs = 60_000;

async function runNode(argv: readonly string[], options: CliOptions): Promise<CliResult> {
  const child = spawn(process.execPath, argv, {
    env: { ...process.env, ...options.env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  child.stdin.end(options.stdin ?? '');
  const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 20_000);
  const code = await new Promise<number | null>((resolve) => child.on('close', (c) => { resolve(c); }));
  clearTimeout(timer);
  return { code, stdout, stderr };
}
