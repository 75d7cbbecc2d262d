import { child, isObject, str, type JsonObject } from './object.js';
import { ApiStatusError } from './status.js';

/**
 * Graceful deletion of Pods, decided as kube-apiserver decides it (k8s.io/apiserver
 * pkg/registry/rest/delete.go BeforeDelete, and the Pod strategy's CheckGracefulDelete in
 * pkg/registry/core/pod/strategy.go; https://kubernetes.io/docs/concepts/workloads/pods/pod-lifecycle/#pod-termination).
 * A DELETE with a grace period marks the Pod (metadata.deletionTimestamp = now + grace,
 * deletionGracePeriodSeconds = grace) and leaves it in storage; its kubelet stops the containers
 * and then deletes it with grace 0, which removes it. Pure.
 */

/** What one DELETE of a Pod does. */
export type PodDeletion =
  /** Remove it from storage now. */
  | { readonly kind: 'now' }
  /** Set (or shorten) the deletion: the Pod stays, Terminating, until its kubelet removes it. */
  | { readonly kind: 'mark'; readonly deletionTimestamp: string; readonly gracePeriodSeconds: number; readonly bumpGeneration: boolean }
  /** Already terminating with a grace no longer than asked: nothing changes. */
  | { readonly kind: 'pending' };

/**
 * DeleteOptions.gracePeriodSeconds from the body, else from the `gracePeriodSeconds` query
 * parameter; undefined when neither gives one. Not an integer: 400, as the decoder refuses it.
 */
export function requestedGracePeriod(body: unknown, query: string | null): number | undefined {
  const given: unknown = isObject(body) && body.gracePeriodSeconds !== undefined && body.gracePeriodSeconds !== null ? body.gracePeriodSeconds : query;
  if (given === null || given === undefined) return undefined;
  const value = typeof given === 'string' && /^-?\d+$/.test(given.trim()) ? Number(given.trim()) : given;
  if (typeof value !== 'number' || !Number.isInteger(value)) {
    throw new ApiStatusError('BadRequest', `DeleteOptions.gracePeriodSeconds: invalid value ${JSON.stringify(given)}: must be an integer`);
  }
  return value;
}

function stamp(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/**
 * The deletion of `pod` given the grace period asked for (undefined: none) and whether a kubelet
 * runs on its node. A Pod on no node, a finished Pod, a Pod whose node has no kubelet to stop it
 * (the sandbox's stand-in for the Pod garbage collector, which force-deletes Pods of nodes that
 * are gone) and a grace of 0 go at once; otherwise the Pod's terminationGracePeriodSeconds (30 by
 * default) or the grace asked for applies; negative graces count as 1 s. An already terminating
 * Pod may only have its grace shortened (its deletionTimestamp moves earlier by the difference).
 */
export function podDeletion(pod: JsonObject, requested: number | undefined, kubeletRuns: boolean, now: Date): PodDeletion {
  const asked = requested !== undefined && requested < 0 ? 1 : requested;
  const m = child(pod, 'metadata');
  const since = str(m, 'deletionTimestamp');
  if (since !== undefined) return shortened(since, m.deletionGracePeriodSeconds, asked);
  const grace = asked ?? specGrace(pod);
  if (grace === 0 || !kubeletRuns || !runsSomewhere(pod)) return { kind: 'now' };
  return { kind: 'mark', deletionTimestamp: stamp(new Date(now.getTime() + grace * 1000)), gracePeriodSeconds: grace, bumpGeneration: true };
}

/** A Pod already terminating: only a shorter grace changes it (its deletionTimestamp moves earlier by the difference). */
function shortened(since: string, currentGrace: unknown, asked: number | undefined): PodDeletion {
  const current = typeof currentGrace === 'number' ? Math.max(1, currentGrace) : 0;
  if (current === 0 || asked === 0) return { kind: 'now' };
  if (asked === undefined || asked >= current) return { kind: 'pending' };
  const moved = new Date(Date.parse(since) - current * 1000 + asked * 1000);
  return { kind: 'mark', deletionTimestamp: stamp(moved), gracePeriodSeconds: asked, bumpGeneration: false };
}

/** spec.terminationGracePeriodSeconds (defaulted to 30 on write), negative as 1 s. */
function specGrace(pod: JsonObject): number {
  const grace = child(pod, 'spec').terminationGracePeriodSeconds;
  if (typeof grace !== 'number') return 0;
  return grace < 0 ? 1 : grace;
}

/** Bound to a node and not finished: something runs that a kubelet must stop. */
function runsSomewhere(pod: JsonObject): boolean {
  const phase = str(child(pod, 'status'), 'phase');
  return (str(child(pod, 'spec'), 'nodeName') ?? '') !== '' && phase !== 'Succeeded' && phase !== 'Failed';
}

/** The Lease a kubelet renews for its node (https://kubernetes.io/docs/concepts/architecture/leases/#node-heart-beats). */
export const nodeLeaseNamespace = 'kube-node-lease';

/** Whether a node Lease shows a live kubelet at `now`: renewed within its leaseDurationSeconds. */
export function nodeLeaseLive(lease: JsonObject | undefined, now: Date): boolean {
  if (lease === undefined) return false;
  const spec = child(lease, 'spec');
  const renewed = Date.parse(str(spec, 'renewTime') ?? '');
  const duration = typeof spec.leaseDurationSeconds === 'number' ? spec.leaseDurationSeconds : 40;
  return !Number.isNaN(renewed) && renewed + duration * 1000 > now.getTime();
}
