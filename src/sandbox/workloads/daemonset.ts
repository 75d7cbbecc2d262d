import { child, clone, isObject, list, str, type JsonObject } from '../apiserver/object.js';
import { omitZeros, scaledValue } from './deployment.js';
import { placementReason } from './placement.js';
import { podAvailable, podCounts, podFromTemplate, podReady, templateHash } from './pods.js';
import { ownedPods } from './replicaset.js';
import { podActive } from './scheduler.js';

/**
 * The DaemonSet controller stand-in's decision (k8s.io/kubernetes pkg/controller/daemon): one
 * Pod on every node the template's nodeSelector, required node affinity and tolerations allow,
 * none elsewhere, outdated Pods replaced at most maxUnavailable at a time, and the status
 * `kubectl get ds` and `kubectl rollout status ds` read.
 */
export interface DaemonSetDecision {
  /** Pods to create, each pinned to its node by node affinity for the scheduler to bind. */
  readonly create: readonly JsonObject[];
  /** Names of Pods to delete. */
  readonly delete: readonly string[];
  readonly status: JsonObject;
}

export const revisionHashLabel = 'controller-revision-hash';

/** Tolerations the DaemonSet controller adds to every daemon Pod (util.AddOrUpdateDaemonPodTolerations). */
function daemonTolerations(hostNetwork: boolean): JsonObject[] {
  const noExecute = ['node.kubernetes.io/not-ready', 'node.kubernetes.io/unreachable'].map((key) => ({ key, operator: 'Exists', effect: 'NoExecute' }));
  const noSchedule = ['node.kubernetes.io/disk-pressure', 'node.kubernetes.io/memory-pressure', 'node.kubernetes.io/pid-pressure', 'node.kubernetes.io/unschedulable', ...(hostNetwork ? ['node.kubernetes.io/network-unavailable'] : [])].map((key) => ({ key, operator: 'Exists', effect: 'NoSchedule' }));
  return [...noExecute, ...noSchedule];
}

/** The template's PodSpec as the daemon Pods get it: with the daemon tolerations. */
function daemonPodSpec(ds: JsonObject): JsonObject {
  const spec = clone(child(child(child(ds, 'spec'), 'template'), 'spec'));
  const own = list(spec, 'tolerations').filter(isObject);
  const extra = daemonTolerations(spec.hostNetwork === true).filter((t) => !own.some((o) => o.key === t.key && o.effect === t.effect));
  spec.tolerations = [...own, ...extra];
  return spec;
}

/** Pins a daemon Pod to a node with a matchFields term, replacing the required terms (ReplaceDaemonSetPodNodeNameNodeAffinity). */
function pinToNode(spec: JsonObject, node: string): void {
  const affinity = child(spec, 'affinity');
  const nodeAffinity = child(affinity, 'nodeAffinity');
  nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution = { nodeSelectorTerms: [{ matchFields: [{ key: 'metadata.name', operator: 'In', values: [node] }] }] };
  affinity.nodeAffinity = nodeAffinity;
  spec.affinity = affinity;
}

/** The node a daemon Pod is on, or is pinned to while unscheduled. */
export function daemonPodNode(pod: JsonObject): string {
  const bound = str(child(pod, 'spec'), 'nodeName');
  if (bound !== undefined) return bound;
  const terms = list(child(child(child(child(pod, 'spec'), 'affinity'), 'nodeAffinity'), 'requiredDuringSchedulingIgnoredDuringExecution'), 'nodeSelectorTerms');
  const field = terms.filter(isObject).flatMap((t) => list(t, 'matchFields').filter(isObject)).find((f) => f.key === 'metadata.name');
  const values = isObject(field) ? list(field, 'values') : [];
  return typeof values[0] === 'string' ? values[0] : '';
}

function nameOf(obj: JsonObject): string {
  return str(child(obj, 'metadata'), 'name') ?? '';
}

/** Per node: should a daemon Pod run there, and which of ours are there now. */
interface NodePlan {
  readonly node: string;
  readonly shouldRun: boolean;
  readonly pods: readonly JsonObject[];
  /** One of ours is being deleted there: the controller waits for it to go before creating another. */
  readonly terminating: boolean;
}

function nodePlans(ds: JsonObject, nodes: readonly JsonObject[], pods: readonly JsonObject[]): NodePlan[] {
  const spec = daemonPodSpec(ds);
  const owned = ownedPods(ds, pods);
  const mine = owned.filter(podCounts);
  const leaving = owned.filter((p) => podActive(p) && !podCounts(p));
  return nodes.map((n) => ({
    node: nameOf(n),
    shouldRun: placementReason(spec, n) === '',
    pods: mine.filter((p) => daemonPodNode(p) === nameOf(n)),
    terminating: leaving.some((p) => daemonPodNode(p) === nameOf(n)),
  }));
}

function newDaemonPod(ds: JsonObject, node: string, hash: string): JsonObject {
  const generation = child(ds, 'metadata').generation;
  const pod = podFromTemplate(ds, 'DaemonSet', { [revisionHashLabel]: hash, 'pod-template-generation': String(typeof generation === 'number' ? generation : 1) });
  const spec = daemonPodSpec(ds);
  pinToNode(spec, node);
  pod.spec = spec;
  return pod;
}

/** Outdated Pods to replace now: at most maxUnavailable nodes without an available Pod at once. */
function rollingDeletes(ds: JsonObject, plans: readonly NodePlan[], hash: string, now: Date): string[] {
  const strategy = child(child(ds, 'spec'), 'updateStrategy');
  if (str(strategy, 'type') === 'OnDelete') return [];
  const desired = plans.filter((p) => p.shouldRun).length;
  const budget = scaledValue(child(strategy, 'rollingUpdate').maxUnavailable ?? 1, desired, true);
  const minReady = Number(child(ds, 'spec').minReadySeconds ?? 0);
  const available = (pod: JsonObject): boolean => podAvailable(pod, minReady, now);
  const unavailable = plans.filter((p) => p.shouldRun && !p.pods.some(available)).length;
  const outdated = plans.filter((p) => p.shouldRun).flatMap((p) => p.pods.filter((pod) => child(child(pod, 'metadata'), 'labels')[revisionHashLabel] !== hash));
  // Unavailable outdated Pods go at once: replacing them costs no availability.
  const free = Math.max(0, budget - unavailable);
  return [...outdated.filter((p) => !available(p)), ...outdated.filter(available).slice(0, free)].map(nameOf);
}

/** Decides one sync of a DaemonSet over the nodes and the Pods of its namespace. */
export function decideDaemonSet(ds: JsonObject, nodes: readonly JsonObject[], pods: readonly JsonObject[], now: Date): DaemonSetDecision {
  const hash = templateHash(child(child(ds, 'spec'), 'template'));
  const plans = nodePlans(ds, nodes, pods);
  const create = plans.filter((p) => p.shouldRun && p.pods.length === 0 && !p.terminating).map((p) => newDaemonPod(ds, p.node, hash));
  const extra = plans.flatMap((p) => (p.shouldRun ? p.pods.slice(1) : p.pods)).map(nameOf);
  const doomed = [...new Set([...extra, ...rollingDeletes(ds, plans, hash, now)])];
  return { create, delete: doomed, status: daemonSetStatus(ds, plans, hash, now) };
}

function daemonSetStatus(ds: JsonObject, plans: readonly NodePlan[], hash: string, now: Date): JsonObject {
  const minReady = Number(child(ds, 'spec').minReadySeconds ?? 0);
  const wanted = plans.filter((p) => p.shouldRun);
  const count = (f: (pod: JsonObject) => boolean): number => wanted.filter((p) => p.pods.some(f)).length;
  const available = count((pod) => podAvailable(pod, minReady, now));
  const generation = child(ds, 'metadata').generation;
  return {
    currentNumberScheduled: wanted.filter((p) => p.pods.length > 0).length,
    numberMisscheduled: plans.filter((p) => !p.shouldRun && p.pods.length > 0).length,
    desiredNumberScheduled: wanted.length,
    numberReady: count(podReady),
    ...omitZeros({
      observedGeneration: typeof generation === 'number' ? generation : 1,
      updatedNumberScheduled: count((pod) => child(child(pod, 'metadata'), 'labels')[revisionHashLabel] === hash),
      numberAvailable: available,
      numberUnavailable: wanted.length - available,
    }),
  };
}
