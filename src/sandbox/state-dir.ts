import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LanPlan } from './lan.js';

/** Where a sandbox keeps its files; `down` finds everything it must remove from here. */
export interface SandboxPaths {
  readonly dir: string;
  /** The supervisor's record: pid, plan, children (written first, so `down` works after a crash of `up`). */
  readonly record: string;
  /** Written once everything is ready; `up` waits for it. */
  readonly ready: string;
  /** The admin kubeconfig printed by `up`. */
  readonly kubeconfig: string;
  readonly controllerKubeconfig: string;
  readonly speakerKubeconfig: string;
  /** The API server's persisted objects. */
  readonly apiState: string;
  readonly logs: string;
}

/** The record `sandbox serve` keeps in the state dir. */
export interface SandboxRecord {
  readonly pid: number;
  readonly plan: LanPlan;
  /** Whether network namespaces were made (root) or not (API-only, no-announce mode). */
  readonly lan: boolean;
  readonly startedAt: string;
  readonly url?: string;
  /** Child processes by name -> pid (the latest incarnation). */
  readonly children?: Readonly<Record<string, number>>;
}

/** What `serve` writes to `ready`. */
export interface ReadyRecord {
  readonly url: string;
  readonly plan: LanPlan;
  readonly kubeconfig: string;
  readonly nodes: readonly string[];
  readonly lan: boolean;
  readonly controller: boolean;
  readonly speakers: boolean;
}

/** /run/ironlb-sandbox for root, else a per-user directory under XDG_RUNTIME_DIR or the temp dir. */
export function defaultStateDir(env: Readonly<Record<string, string | undefined>>, uid: number): string {
  if (uid === 0) return '/run/ironlb-sandbox';
  return join(env.XDG_RUNTIME_DIR ?? tmpdir(), `ironlb-sandbox-${String(uid)}`);
}

export function sandboxPaths(dir: string): SandboxPaths {
  return {
    dir,
    record: join(dir, 'sandbox.json'),
    ready: join(dir, 'ready.json'),
    kubeconfig: join(dir, 'kubeconfig'),
    controllerKubeconfig: join(dir, 'controller.kubeconfig'),
    speakerKubeconfig: join(dir, 'speaker.kubeconfig'),
    apiState: join(dir, 'apiserver-state.json'),
    logs: join(dir, 'logs'),
  };
}

export async function prepareStateDir(paths: SandboxPaths): Promise<void> {
  await mkdir(paths.logs, { recursive: true, mode: 0o700 });
}

async function readJsonFile<T>(path: string): Promise<T | undefined> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as T;
  } catch {
    return undefined;
  }
}

export function readRecord(paths: SandboxPaths): Promise<SandboxRecord | undefined> {
  return readJsonFile<SandboxRecord>(paths.record);
}

export function readReady(paths: SandboxPaths): Promise<ReadyRecord | undefined> {
  return readJsonFile<ReadyRecord>(paths.ready);
}

let tempSerial = 0;

/**
 * Writes `value` as JSON, atomically: to a temporary file in the same directory, then renamed
 * over `path`. A reader (`status`, `down`) sees the old file or the new one, never a truncated
 * or interleaved one.
 */
export async function writeJsonFile(path: string, value: unknown): Promise<void> {
  tempSerial += 1;
  const temp = `${path}.${String(process.pid)}.${String(tempSerial)}.tmp`;
  try {
    await writeFile(temp, `${JSON.stringify(value, null, 2)}\n`, { mode: 0o600 });
    await rename(temp, path);
  } catch (e: unknown) {
    await rm(temp, { force: true });
    throw e;
  }
}

/**
 * Saves a record that changes while it is being written (the supervisor's children restart at
 * any time): writes run one after the other, each with the value as it was at its call, so the
 * file ends as the last call left it. Each call's promise rejects if its own write fails; later
 * calls still run.
 */
export function recordWriter(path: string, write: (path: string, value: unknown) => Promise<void> = writeJsonFile): (value: unknown) => Promise<void> {
  let queue: Promise<void> = Promise.resolve();
  return (value) => {
    const snapshot = structuredClone(value);
    const done = queue.then(() => write(path, snapshot));
    queue = done.catch(() => undefined);
    return done;
  };
}

/** Removes the state dir and everything in it. */
export async function removeStateDir(paths: SandboxPaths): Promise<void> {
  await rm(paths.dir, { recursive: true, force: true });
}

/** Whether a process with this pid exists (signal 0 probes without sending anything). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e: unknown) {
    return (e as { code?: string }).code === 'EPERM';
  }
}
