import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { constants } from 'node:os';
import { execWithTimeout, stopWithGrace, type ContainerExit, type ContainerLaunch, type ExecOutcome, type RunningContainer } from './runtime.js';

/**
 * A container that is one process started with `ip netns exec NETNS argv...` (which setns()s and
 * then execs, so the pid is the program's own and signals reach it), stdout and stderr appended
 * to the launch's log file. What both sandbox runtimes share: the stand-in web server and
 * ironlb run from this checkout.
 */
export interface ProcessContainerOptions {
  /** The program and its arguments. */
  readonly argv: readonly string[];
  /** The whole environment of the process (a container sees only its own). */
  readonly env: Readonly<Record<string, string>>;
  readonly uid?: number;
  readonly gid?: number;
  readonly cwd?: string;
  /** The user commands run in the container as (`exec`), when the program switches to it itself (setpriv). */
  readonly execUser?: { readonly uid: number; readonly gid: number };
}

/**
 * The argv that runs `command` in the namespaces of process `pid` (mount, network, UTS, IPC),
 * as `user` when given: nsenter(1). Pure.
 */
export function execArgv(pid: number, command: readonly string[], user: { readonly uid: number; readonly gid: number } | undefined): string[] {
  const who = user === undefined ? [] : ['--setgid', String(user.gid), '--setuid', String(user.uid)];
  return ['nsenter', '--target', String(pid), '--mount', '--net', '--uts', '--ipc', ...who, '--', ...command];
}

/** Runs a command in the container's namespaces; never rejects. */
function execIn(pid: number | undefined, command: readonly string[], timeoutMs: number, opts: ProcessContainerOptions): Promise<ExecOutcome> {
  if (pid === undefined) return Promise.resolve({ kind: 'error', message: 'the container has no process' });
  if (command.length === 0) return Promise.resolve({ kind: 'error', message: 'exec: no command' });
  const user = opts.execUser ?? (opts.uid === undefined ? undefined : { uid: opts.uid, gid: opts.gid ?? opts.uid });
  const [program = 'nsenter', ...args] = execArgv(pid, command, user);
  const options = { stdio: 'ignore' as const, env: { ...opts.env }, ...(opts.cwd === undefined ? {} : { cwd: opts.cwd }) };
  return execWithTimeout(program, args, options, timeoutMs, (code, signal) => ({ kind: 'exited', exitCode: code ?? 128 + signalNumber(signal) }));
}

function signalNumber(name: string | null): number {
  if (name === null) return 0;
  return (constants.signals as Readonly<Record<string, number | undefined>>)[name] ?? 0;
}

/** The exit as a container runtime reports it: 128 + signal number when a signal ended it. */
export function toContainerExit(code: number | null, signal: string | null): ContainerExit {
  if (signal !== null) return { exitCode: 128 + signalNumber(signal), signal, reason: 'Error' };
  const exitCode = code ?? 0;
  return { exitCode, signal: undefined, reason: exitCode === 0 ? 'Completed' : 'Error' };
}

/** Starts the process; never throws (a failed start is an exit with reason StartError). */
export function startProcessContainer(launch: ContainerLaunch, opts: ProcessContainerOptions, signal: AbortSignal): RunningContainer {
  let settle: (exit: ContainerExit) => void = () => undefined;
  const exited = new Promise<ContainerExit>((resolve) => {
    settle = resolve;
  });
  let done: ContainerExit | undefined;
  const finish = (exit: ContainerExit): void => {
    if (done !== undefined) return;
    done = exit;
    signal.removeEventListener('abort', onAbort);
    settle(exit);
  };
  let fd: number | undefined;
  let pid: number | undefined;
  let kill: (sig: NodeJS.Signals) => void = () => undefined;
  try {
    fd = openSync(launch.logPath, 'a', 0o600);
    const child = spawn('ip', ['netns', 'exec', launch.netns, ...opts.argv], {
      stdio: ['ignore', fd, fd],
      env: { ...opts.env },
      ...(opts.uid === undefined ? {} : { uid: opts.uid }),
      ...(opts.gid === undefined ? {} : { gid: opts.gid }),
      ...(opts.cwd === undefined ? {} : { cwd: opts.cwd }),
    });
    pid = child.pid;
    kill = (sig) => {
      if (child.exitCode === null && child.signalCode === null) child.kill(sig);
    };
    child.once('exit', (code, sig) => { finish(toContainerExit(code, sig)); });
    child.once('error', (e) => { finish({ exitCode: 128, signal: undefined, reason: 'StartError', message: e.message }); });
  } catch (e: unknown) {
    finish({ exitCode: 128, signal: undefined, reason: 'StartError', message: e instanceof Error ? e.message : String(e) });
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
  function onAbort(): void {
    kill('SIGKILL');
  }
  if (signal.aborted) onAbort();
  else if (done === undefined) signal.addEventListener('abort', onAbort);

  return {
    pid,
    exited,
    async stop(graceMs) {
      if (done !== undefined) return done;
      return stopWithGrace(kill, exited, graceMs);
    },
    exec(command, timeoutMs) {
      if (done !== undefined) return Promise.resolve({ kind: 'error', message: 'the container is not running' });
      return execIn(pid, command, timeoutMs, opts);
    },
  };
}
