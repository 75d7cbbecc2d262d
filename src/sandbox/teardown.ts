import { readFile } from 'node:fs/promises';
import type { Clock } from '../shared/clock.js';
import { destroyLan } from './lan.js';
import { processAlive, readRecord, removeStateDir, type SandboxPaths, type SandboxRecord } from './state-dir.js';

/** What `down` did, for its output. */
export interface TeardownReport {
  readonly found: boolean;
  readonly supervisorStopped: boolean;
  readonly killed: readonly string[];
}

/** Whether `pid` still runs an ironlb process (pids are recycled; never signal a stranger). */
async function isOurs(pid: number): Promise<boolean> {
  try {
    const cmdline = await readFile(`/proc/${String(pid)}/cmdline`, 'utf8');
    return cmdline.includes('ironlb');
  } catch {
    return false;
  }
}

async function waitGone(pid: number, clock: Clock, timeoutMs: number): Promise<boolean> {
  const deadline = clock.now() + timeoutMs;
  while (processAlive(pid)) {
    if (clock.now() > deadline) return false;
    await clock.sleep(50);
  }
  return true;
}

/**
 * `sandbox down`: asks the supervisor to stop (it removes its children, namespaces and server),
 * then removes whatever a crashed `up` left: child processes from the record, the namespaces and
 * links of the plan, and the state dir. Idempotent.
 */
export async function teardownSandbox(paths: SandboxPaths, clock: Clock, isRoot: boolean): Promise<TeardownReport> {
  const record = await readRecord(paths);
  if (record === undefined) {
    await removeStateDir(paths);
    return { found: false, supervisorStopped: false, killed: [] };
  }
  const supervisorStopped = await stopSupervisor(record, clock);
  const killed = await killChildren(record, clock);
  if (record.lan && isRoot) await destroyLan(record.plan);
  await removeStateDir(paths);
  return { found: true, supervisorStopped, killed };
}

async function stopSupervisor(record: SandboxRecord, clock: Clock): Promise<boolean> {
  if (!processAlive(record.pid) || !(await isOurs(record.pid))) return false;
  process.kill(record.pid, 'SIGTERM');
  if (await waitGone(record.pid, clock, 15_000)) return true;
  process.kill(record.pid, 'SIGKILL');
  return waitGone(record.pid, clock, 2000);
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
