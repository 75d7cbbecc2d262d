import { request } from 'node:http';
import { connect } from 'node:net';
import type { Clock } from '../../shared/clock.js';
import type { ProbeSpec } from './pod-view.js';
import { initialProbeState, nextProbeState, startupVerdict, type ProbeKind, type ProbeResult, type StartupVerdict } from './probe-state.js';
import type { ContainerPortSpec, ExecOutcome } from './runtime.js';

/**
 * Runs one probe of one container, as the kubelet's prober does
 * (https://kubernetes.io/docs/tasks/configure-pod-container/configure-liveness-readiness-startup-probes/):
 * httpGet and tcpSocket against the Pod's address from the node's namespace (the kubelet probes
 * from the host), httpGet succeeding on a status from 200 to 399 and tcpSocket on an accepted
 * connection; exec runs the command inside the container (its namespaces, env and user, through
 * the runtime) and succeeds on exit 0; each within timeoutSeconds. grpc probes are not run: the
 * pod worker reports them in an Event (docs/sandbox.md says what they count as).
 */

/** Where a container's probes go: its Pod's address and ports, and a way to run commands in it. */
export interface ProbeTarget {
  readonly podIp: string;
  readonly ports: readonly ContainerPortSpec[];
  /** The runtime's exec into the container; absent: exec probes fail. */
  readonly exec?: (command: readonly string[], timeoutMs: number) => Promise<ExecOutcome>;
}

/** A named port resolved from the container's ports (0 when it names none). */
export function probePort(port: number | string, ports: readonly ContainerPortSpec[]): number {
  if (typeof port === 'number') return port;
  if (/^\d+$/.test(port)) return Number(port);
  return ports.find((p) => p.name === port)?.containerPort ?? 0;
}

function httpProbe(host: string, port: number, path: string, timeoutMs: number): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const req = request({ host, port, path, method: 'GET', timeout: timeoutMs, headers: { 'user-agent': 'kube-probe/1.32', accept: '*/*' } }, (res) => {
      res.resume();
      const code = res.statusCode ?? 0;
      resolve(code >= 200 && code < 400 ? 'success' : 'failure');
    });
    req.on('timeout', () => { req.destroy(); });
    req.on('error', () => { resolve('failure'); });
    req.end();
  });
}

function tcpProbe(host: string, port: number, timeoutMs: number): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const socket = connect({ host, port, timeout: timeoutMs });
    const done = (r: ProbeResult): void => {
      socket.destroy();
      resolve(r);
    };
    socket.once('connect', () => { done('success'); });
    socket.once('timeout', () => { done('failure'); });
    socket.once('error', () => { done('failure'); });
  });
}

async function execProbe(command: readonly string[], target: ProbeTarget, timeoutMs: number): Promise<ProbeResult> {
  if (target.exec === undefined) return 'failure';
  const outcome = await target.exec(command, timeoutMs);
  return outcome.kind === 'exited' && outcome.exitCode === 0 ? 'success' : 'failure';
}

/** One probe attempt; a probe that is not run (grpc, no handler) succeeds here, the worker decides what it counts as. */
export function probeOnce(spec: ProbeSpec, target: ProbeTarget): Promise<ProbeResult> {
  const a = spec.action;
  const timeoutMs = Math.max(1, spec.timeoutSeconds) * 1000;
  if (a.kind === 'unsupported') return Promise.resolve('success');
  if (a.kind === 'exec') return execProbe(a.command, target, timeoutMs);
  const host = a.host ?? target.podIp;
  const port = probePort(a.port, target.ports);
  if (port === 0) return Promise.resolve('failure');
  return a.kind === 'http' ? httpProbe(host, port, a.path, timeoutMs) : tcpProbe(host, port, timeoutMs);
}

/**
 * Probes every periodSeconds after initialDelaySeconds until `signal` aborts, calling `onResult`
 * whenever the thresholded result changes (and once at start with the initial result).
 */
export async function runProbe(
  kind: ProbeKind,
  spec: ProbeSpec,
  target: ProbeTarget,
  deps: { readonly clock: Clock; readonly onResult: (r: ProbeResult) => void },
  signal: AbortSignal,
): Promise<void> {
  let state = initialProbeState(kind);
  deps.onResult(state.result);
  const sleep = (ms: number): Promise<boolean> => deps.clock.sleep(ms, signal).then(() => true, () => false);
  const stopped = (): boolean => signal.aborted;
  if (!(await sleep(spec.initialDelaySeconds * 1000))) return;
  while (!stopped()) {
    const outcome = await probeOnce(spec, target);
    if (stopped()) return;
    const next = nextProbeState(state, outcome, spec);
    if (next.result !== state.result) deps.onResult(next.result);
    state = next;
    if (!(await sleep(Math.max(1, spec.periodSeconds) * 1000))) return;
  }
}

/**
 * Runs a startup probe until the container counts as started: its first success ('started'),
 * failureThreshold failures in a row ('failed': the kubelet kills the container and restarts it),
 * or `signal` aborting ('stopped'). Readiness and liveness probes wait for it.
 */
export async function runStartupProbe(spec: ProbeSpec, target: ProbeTarget, deps: { readonly clock: Clock }, signal: AbortSignal): Promise<StartupVerdict> {
  const sleep = (ms: number): Promise<boolean> => deps.clock.sleep(ms, signal).then(() => true, () => false);
  if (!(await sleep(spec.initialDelaySeconds * 1000))) return 'stopped';
  let failures = 0;
  for (;;) {
    const outcome = await probeOnce(spec, target);
    if (signal.aborted) return 'stopped';
    const verdict = startupVerdict(failures, outcome, spec);
    if (verdict !== 'probing') return verdict;
    failures += 1;
    if (!(await sleep(Math.max(1, spec.periodSeconds) * 1000))) return 'stopped';
  }
}
