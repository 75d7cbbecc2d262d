import { readdir, readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import type { Clock } from '../shared/clock.js';
import { removeServiceAccountMountPoint } from './kubelet/ironlb-runtime.js';
import { removeSandboxContainers } from './kubelet/podman-runtime.js';
import { destroyLan, lanLayout } from './lan.js';
import { processAlive, readRecord, removeStateDir, type SandboxPaths, type SandboxRecord } from './state-dir.js';

/** What `down` did, for its output. */
export interface TeardownReport {
  readonly found: boolean;
  readonly supervisorStopped: boolean;
  readonly killed: readonly string[];
}

/** The arguments `pid` runs with; none when it is gone. */
async function commandLine(pid: number | string): Promise<string[]> {
  const cmdline = await readFile(`/proc/${String(pid)}/cmdline`, 'utf8').catch(() => '');
  return cmdline === '' ? [] : cmdline.split('\0');
}

/** Whether `pid` still runs an ironlb process (pids are recycled; never signal a stranger). */
async function isOurs(pid: number): Promise<boolean> {
  return (await commandLine(pid)).some((arg) => arg.includes('ironlb'));
}

async function waitGone(pid: number, clock: Clock, timeoutMs: number): Promise<boolean> {
  const deadline = clock.now() + timeoutMs;
  while (processAlive(pid)) {
    if (clock.now() > deadline) return false;
    await clock.sleep(50);
  }
  return true;
}

/** Whether a command line is `[node] .../ironlb[.js] sandbox serve ... --state-dir DIR`. */
export function servesStateDir(args: readonly string[], dir: string): boolean {
  const serve = args.indexOf('serve');
  const flag = args.indexOf('--state-dir');
  const program = basename(args[serve - 2] ?? '');
  return (program === 'ironlb' || program === 'ironlb.js') && args[serve - 1] === 'sandbox' && flag > serve && args[flag + 1] === dir;
}

/**
 * The supervisor serving `dir`, looked up in the process table: for a state dir whose record
 * was deleted by hand (the supervisor writes it atomically, so it never leaves a torn one).
 */
async function supervisorOf(dir: string): Promise<number | undefined> {
  const pids = (await readdir('/proc').catch(() => [])).filter((name) => /^[0-9]+$/.test(name));
  for (const pid of pids) if (servesStateDir(await commandLine(pid), dir)) return Number(pid);
  return undefined;
}

/**
 * `sandbox down`: asks the supervisor to stop (it removes its children, namespaces and server),
 * then removes whatever a crashed `up` left: child processes from the record, the namespaces and
 * links of the plan, and the state dir. Without a record it still stops a supervisor that
 * serves the state dir. Idempotent.
 */
export async function teardownSandbox(paths: SandboxPaths, clock: Clock, isRoot: boolean): Promise<TeardownReport> {
  const record = await readRecord(paths);
  if (record === undefined) {
    const pid = await supervisorOf(paths.dir);
    const supervisorStopped = pid !== undefined && (await stopProcess(pid, clock));
    await removeStateDir(paths);
    return { found: pid !== undefined, supervisorStopped, killed: [] };
  }
  const supervisorStopped = await stopProcess(record.pid, clock);
  const killed = await killChildren(record, clock);
  // podman containers of ironlb's image outlive a killed kubelet (conmon keeps them): by label.
  if (isRoot) killed.push(...(await removeSandboxContainers('podman', lanLayout(record.plan).nodes.map((n) => n.netns))).map((c) => `container ${c}`));
  if (record.lan && isRoot) await destroyLan(record.plan);
  if (isRoot) await removeServiceAccountMountPoint();
  await removeStateDir(paths);
  return { found: true, supervisorStopped, killed };
}

/** SIGTERM, then SIGKILL after 15 s; false when `pid` is not a live ironlb process. */
async function stopProcess(pid: number, clock: Clock): Promise<boolean> {
  if (!processAlive(pid) || !(await isOurs(pid))) return false;
  process.kill(pid, 'SIGTERM');
  if (await waitGone(pid, clock, 15_000)) return true;
  process.kill(pid, 'SIGKILL');
  return waitGone(pid, clock, 2000);
}

async function killChildren(record: SandboxRecord, clock: Clock): Promise<string[]> {
  const killed: string[] = [];
  for (const [name, pid] of Object.entries(record.children ?? {})) {
    if (!processAlive(pid) || !(await isOurs(pid))) continue;
    process.kill(pid, 'SIGKILL');
    await waitGone(pid, clock, 2000);
    killed.push(name);
  }
  return killed;
}
