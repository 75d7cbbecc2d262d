import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { waitUntilTrue } from './wait.js';

const run = promisify(execFile);

/** Runs a command, returning its output and exit code (never throws on a non-zero exit). */
export async function sh(cmd: string, args: readonly string[], timeoutMs = 15_000): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(cmd, [...args], { timeout: timeoutMs });
    return { code: 0, stdout, stderr };
  } catch (e: unknown) {
    const x = e as { code?: unknown; stdout?: string; stderr?: string };
    return { code: typeof x.code === 'number' ? x.code : -1, stdout: x.stdout ?? '', stderr: x.stderr ?? '' };
  }
}

/** Runs a command inside a namespace; throws when it fails. */
export async function nsExec(ns: string, args: readonly string[]): Promise<string> {
  const r = await sh('ip', ['netns', 'exec', ns, ...args]);
  if (r.code !== 0) throw new Error(`${ns}: ${args.join(' ')} failed (${r.code}): ${r.stderr}`);
  return r.stdout;
}

/**
 * Two namespaces joined by a veth pair, unique per run: `a` (the announcer's side) and `b`
 * (the peer). Addresses: 10.<x>.<y>.0/24 and fd00:<x>:<y>::/64, private to these namespaces.
 */
export interface Testbed {
  readonly a: string;
  readonly b: string;
  readonly ifA: string;
  readonly ifB: string;
  readonly macA: string;
  readonly macB: string;
  /** `10.x.y.` */
  readonly v4: string;
  /** `fd00:x:y::` */
  readonly v6: string;
  /** Processes to kill on cleanup. */
  readonly children: ChildProcess[];
  cleanup(): Promise<void>;
}

async function mac(ns: string, ifname: string): Promise<string> {
  return (await nsExec(ns, ['cat', `/sys/class/net/${ifname}/address`])).trim();
}

/** Creates the testbed; on any failure it removes what it made and rethrows. */
export async function createTestbed(tag: string): Promise<Testbed> {
  const id = `${process.pid.toString(36)}${randomBytes(2).toString('hex')}`;
  const a = `ironlb-${tag}-a-${id}`;
  const b = `ironlb-${tag}-b-${id}`;
  const ifA = `la${id}`.slice(0, 15);
  const ifB = `lb${id}`.slice(0, 15);
  const x = 64 + (process.pid % 128);
  // 1..254: a zero group would print as `fd00:x:0::`, which is not the canonical form tools print.
  const y = 1 + ((randomBytes(1)[0] ?? 0) % 254);
  const v4 = `10.${x}.${y}.`;
  const v6 = `fd00:${x.toString(16)}:${y.toString(16)}::`;
  const children: ChildProcess[] = [];
  const cleanup = async (): Promise<void> => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    await sh('ip', ['netns', 'del', a]);
    await sh('ip', ['netns', 'del', b]);
  };
  try {
    const steps: string[][] = [
      ['netns', 'add', a],
      ['netns', 'add', b],
      ['link', 'add', ifA, 'netns', a, 'type', 'veth', 'peer', 'name', ifB, 'netns', b],
      ['-n', a, 'addr', 'add', `${v4}1/24`, 'dev', ifA],
      ['-n', b, 'addr', 'add', `${v4}2/24`, 'dev', ifB],
      ['-n', a, 'addr', 'add', `${v6}1/64`, 'dev', ifA, 'nodad'],
      ['-n', b, 'addr', 'add', `${v6}2/64`, 'dev', ifB, 'nodad'],
      ['-n', a, 'link', 'set', 'lo', 'up'],
      ['-n', b, 'link', 'set', 'lo', 'up'],
      ['-n', a, 'link', 'set', ifA, 'up'],
      ['-n', b, 'link', 'set', ifB, 'up'],
    ];
    for (const step of steps) {
      const r = await sh('ip', step);
      if (r.code !== 0) throw new Error(`ip ${step.join(' ')}: ${r.stderr}`);
    }
    return { a, b, ifA, ifB, macA: await mac(a, ifA), macB: await mac(b, ifB), v4, v6, children, cleanup };
  } catch (e: unknown) {
    await cleanup();
    throw e;
  }
}

/** Spawns a long-running command inside a namespace, tracked for cleanup, collecting output. */
export function nsSpawn(bed: Testbed, ns: string, args: readonly string[]): { child: ChildProcess; output: () => string } {
  const child = spawn('ip', ['netns', 'exec', ns, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  bed.children.push(child);
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (out += d));
  return { child, output: () => out };
}

/** Resolves when `predicate(output())` holds, or rejects after `timeoutMs`. */
export async function waitFor(what: string, predicate: () => boolean, timeoutMs = 10_000): Promise<void> {
  await waitUntilTrue(what, predicate, { timeoutMs });
}

/** Resolves with the exit code once the child has exited. */
export async function exited(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
  return new Promise((resolve) => child.once('exit', (code) => { resolve(code); }));
}

/** Sleeps (netns tests wait for real kernels; unit tests never do). */
export async function pause(ms: number): Promise<void> {
  await new Promise((r) => setTimeout(r, ms));
}
