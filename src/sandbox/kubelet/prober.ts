import { request } from 'node:http';
import { connect } from 'node:net';
import type { Clock } from '../../shared/clock.js';
import type { ProbeSpec } from './pod-view.js';
import { initialProbeState, nextProbeState, type ProbeKind, type ProbeResult } from './probe-state.js';
import type { ContainerPortSpec } from './runtime.js';

/**
 * Runs one probe of one container against the Pod's address, from the node's namespace (as the
 * kubelet probes from the host): httpGet succeeds on a status from 200 to 399, tcpSocket on an
 * accepted connection, each within timeoutSeconds. exec and grpc probes are not supported: they
 * count as succeeding and docs/sandbox.md says so.
 */

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

/** One probe attempt. */
export function probeOnce(spec: ProbeSpec, podIp: string, ports: readonly ContainerPortSpec[]): Promise<ProbeResult> {
  const a = spec.action;
  const timeoutMs = Math.max(1, spec.timeoutSeconds) * 1000;
  if (a.kind === 'unsupported') return Promise.resolve('success');
  const host = a.host ?? podIp;
  const port = probePort(a.port, ports);
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
  target: { readonly podIp: string; readonly ports: readonly ContainerPortSpec[] },
  deps: { readonly clock: Clock; readonly onResult: (r: ProbeResult) => void },
  signal: AbortSignal,
): Promise<void> {
  let state = initialProbeState(kind);
  deps.onResult(state.result);
  const sleep = (ms: number): Promise<boolean> => deps.clock.sleep(ms, signal).then(() => true, () => false);
  const stopped = (): boolean => signal.aborted;
  if (!(await sleep(spec.initialDelaySeconds * 1000))) return;
  while (!stopped()) {
    const outcome = await probeOnce(spec, target.podIp, target.ports);
    if (stopped()) return;
    const next = nextProbeState(state, outcome, spec);
    if (next.result !== state.result) deps.onResult(next.result);
    state = next;
    if (!(await sleep(Math.max(1, spec.periodSeconds) * 1000))) return;
  }
}
