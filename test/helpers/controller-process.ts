import { spawn, type ChildProcess } from 'node:child_process';
import { cliPath } from './cli.js';

/** A running `ironlb controller` process and what it logged. */
export interface ControllerProcess {
  readonly child: ChildProcess;
  /** Every JSON log line so far. */
  readonly lines: () => readonly Record<string, unknown>[];
  /** Resolves when a log line with this `event` appears. */
  waitForEvent(event: string, timeoutMs?: number): Promise<Record<string, unknown>>;
  /** Sends a signal and waits for the exit. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** Fast leader-election timings so tests of takeover take seconds, not 15 s. */
export const fastLeaderFlags = ['--lease-duration', '2', '--renew-deadline', '1.5', '--retry-period', '0.3'];

/** Starts `ironlb controller` against a kubeconfig, with a random metrics port. */
export function startControllerProcess(kubeconfig: string, extra: readonly string[] = []): ControllerProcess {
  const child = spawn(process.execPath, [cliPath, 'controller', '--kubeconfig', kubeconfig, '--metrics-port', '0', '--metrics-host', '127.0.0.1', '--log-level', 'debug', ...fastLeaderFlags, ...extra], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const lines: Record<string, unknown>[] = [];
  const waiters: { event: string; resolve: (l: Record<string, unknown>) => void }[] = [];
  let buffer = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => {
    buffer += d;
    let nl = buffer.indexOf('\n');
    while (nl >= 0) {
      const text = buffer.slice(0, nl);
      buffer = buffer.slice(nl + 1);
      nl = buffer.indexOf('\n');
      let line: Record<string, unknown>;
      try {
        line = JSON.parse(text) as Record<string, unknown>;
      } catch {
        line = { msg: text, event: 'nonJson' };
      }
      lines.push(line);
      for (const w of waiters.filter((x) => x.event === line.event)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(line);
      }
    }
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => { resolve(code); }));
  return {
    child,
    lines: () => lines,
    waitForEvent(event, timeoutMs = 15_000) {
      const seen = lines.find((l) => l.event === event);
      if (seen !== undefined) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          reject(new Error(`controller did not log event ${event} in ${String(timeoutMs)} ms; last lines: ${JSON.stringify(lines.slice(-5))}`));
        }, timeoutMs);
        waiters.push({ event, resolve: (l) => { clearTimeout(timer); resolve(l); } });
      });
    },
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}
