import { spawn, type ChildProcess } from 'node:child_process';
import { openSync, closeSync } from 'node:fs';
import type { Logger } from 'pino';
import { backoffDelay, type BackoffPolicy } from '../shared/backoff.js';
import type { Clock } from '../shared/clock.js';

/** A process the sandbox runs and restarts, as a kubelet would restart a crashed container. */
export interface ChildSpec {
  /** e.g. `speaker-node-1`; also the log file name. */
  readonly name: string;
  readonly argv: readonly string[];
  /** Run inside this network namespace (`ip netns exec`). */
  readonly netns?: string;
  /**
   * `exec` (default): `ip netns exec`, which also gives the child a mount namespace of its own
   * with the namespace's /sys. `enter`: `nsenter --net` only, so that namespaces the child makes
   * with `ip netns add` (the kubelet's Pod namespaces) are visible to the whole machine.
   */
  readonly netnsMode?: 'exec' | 'enter';
  readonly logPath: string;
  readonly env?: Readonly<Record<string, string>>;
}

export interface ChildDeps {
  readonly logger: Logger;
  readonly clock: Clock;
  /** Told the pid of every incarnation (the supervisor records them for `down`). */
  readonly onPid: (name: string, pid: number) => void;
}

/**
 * Restart delays: 5 s doubling to 20 s, like a kubelet's CrashLoopBackOff but shorter. The first
 * wait is longer than a speaker's 3 s Lease on purpose: a container restart on a real node takes
 * seconds too, so killing a speaker in the sandbox shows what users see - a peer takes over.
 */
const restartBackoff: BackoffPolicy = { baseMs: 5000, maxMs: 20_000, jitter: 0.1 };
/** A run this long resets the backoff. */
const healthyRunMs = 30_000;

/** How long a stopping child gets between SIGTERM and SIGKILL. */
const stopGraceMs = 3000;

/**
 * Runs a child until `signal` aborts, restarting it with capped backoff when it exits on its own
 * (its stdout/stderr go to its log file). On abort: SIGTERM, then SIGKILL after a grace period.
 */
export async function superviseChild(spec: ChildSpec, deps: ChildDeps, signal: AbortSignal): Promise<void> {
  const log = deps.logger.child({ component: 'sandbox-child', child: spec.name });
  let failures = 0;
  // a function, so that the checks after each await are not narrowed away
  const stopped = (): boolean => signal.aborted;
  while (!stopped()) {
    const startedAt = deps.clock.now();
    const child = start(spec);
    if (child.pid !== undefined) deps.onPid(spec.name, child.pid);
    const { exited } = await waitExitOrAbort(child, signal);
    if (stopped()) {
      await stop(child, exited);
      return;
    }
    failures = deps.clock.now() - startedAt > healthyRunMs ? 1 : failures + 1;
    const delay = backoffDelay(restartBackoff, failures - 1, Math.random());
    log.warn({ event: 'childExited', code: child.exitCode, signalName: child.signalCode, restartInMs: delay }, `${spec.name} exited; restarting`);
    await deps.clock.sleep(delay, signal).catch(() => undefined);
  }
}

function commandOf(spec: ChildSpec): [string, string[]] {
  if (spec.netns === undefined) return [spec.argv[0] ?? '', spec.argv.slice(1)];
  if (spec.netnsMode === 'enter') return ['nsenter', [`--net=/run/netns/${spec.netns}`, ...spec.argv]];
  return ['ip', ['netns', 'exec', spec.netns, ...spec.argv]];
}

function start(spec: ChildSpec): ChildProcess {
  const fd = openSync(spec.logPath, 'a');
  const [command, args] = commandOf(spec);
  try {
    return spawn(command, args, { stdio: ['ignore', fd, fd], env: { ...process.env, ...spec.env } });
  } finally {
    closeSync(fd);
  }
}

/** Resolves when the child exits or `signal` aborts, whichever is first; `exited` resolves on exit. */
async function waitExitOrAbort(child: ChildProcess, signal: AbortSignal): Promise<{ readonly exited: Promise<void> }> {
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => {
      resolve();
    });
    child.once('error', () => {
      resolve();
    });
  });
  let onAbort = (): void => undefined;
  const aborted = new Promise<void>((resolve) => {
    onAbort = resolve;
    signal.addEventListener('abort', onAbort, { once: true });
  });
  await Promise.race([exited, aborted]);
  signal.removeEventListener('abort', onAbort);
  return { exited };
}

async function stop(child: ChildProcess, exited: Promise<void>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), stopGraceMs);
  await exited;
  clearTimeout(timer);
}
