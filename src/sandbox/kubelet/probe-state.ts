/**
 * A probe's result over time, as the kubelet's prober worker keeps it
 * (https://kubernetes.io/docs/concepts/configuration/liveness-readiness-startup-probes/,
 * k8s.io/kubernetes pkg/kubelet/prober/worker.go): until initialDelaySeconds have passed the
 * result is the initial one (readiness: Failure, liveness and startup: Success); then it flips
 * only after successThreshold consecutive successes or failureThreshold consecutive failures.
 * Pure.
 */

export type ProbeKind = 'readiness' | 'liveness' | 'startup';
export type ProbeResult = 'success' | 'failure';

export interface ProbeThresholds {
  readonly successThreshold: number;
  readonly failureThreshold: number;
}

export interface ProbeState {
  readonly result: ProbeResult;
  /** Consecutive outcomes equal to `lastOutcome`. */
  readonly streak: number;
  readonly lastOutcome: ProbeResult | undefined;
}

/** The state of a fresh worker (container just started). */
export function initialProbeState(kind: ProbeKind): ProbeState {
  return { result: kind === 'readiness' ? 'failure' : 'success', streak: 0, lastOutcome: undefined };
}

/** Folds one probe outcome into the state. */
export function nextProbeState(state: ProbeState, outcome: ProbeResult, t: ProbeThresholds): ProbeState {
  const streak = state.lastOutcome === outcome ? state.streak + 1 : 1;
  const threshold = outcome === 'success' ? t.successThreshold : t.failureThreshold;
  const result = streak >= Math.max(1, threshold) ? outcome : state.result;
  return { result, streak, lastOutcome: outcome };
}

/** Where a startup probe stands: the container started, failed for good, or still probing. */
export type StartupVerdict = 'started' | 'failed' | 'probing' | 'stopped';

/**
 * A startup probe after one more outcome, given the failures in a row before it: a success
 * starts the container (successThreshold must be 1 for startup probes); failureThreshold
 * failures in a row fail it.
 */
export function startupVerdict(failuresSoFar: number, outcome: ProbeResult, t: ProbeThresholds): Exclude<StartupVerdict, 'stopped'> {
  if (outcome === 'success') return 'started';
  return failuresSoFar + 1 >= Math.max(1, t.failureThreshold) ? 'failed' : 'probing';
}

/**
 * The container restart delay: the first restart at once, then 10 s doubling to 5 min
 * (kubelet's crash-loop back-off, https://kubernetes.io/docs/concepts/workloads/pods/pod-lifecycle/#container-restarts);
 * `baseMs` and `maxMs` may be shortened by the sandbox (docs/sandbox.md says by how much).
 */
export function restartDelayMs(restartsSoFar: number, policy: { readonly baseMs: number; readonly maxMs: number }): number {
  if (restartsSoFar <= 0) return 0;
  return Math.min(policy.maxMs, policy.baseMs * 2 ** Math.min(restartsSoFar - 1, 30));
}
