import { child, list, str, type JsonObject } from '../apiserver/object.js';
import { omitZeros } from './deployment.js';
import { podAvailable, podCounts, podFromTemplate, podReady } from './pods.js';
import { controllerUid } from './scheduler.js';

/**
 * The ReplicaSet controller stand-in's decision (k8s.io/kubernetes pkg/controller/replicaset):
 * how many Pods to create from the template, which Pods to delete, and the status to write.
 */
export interface ReplicaSetDecision {
  /** Pods to create (each from the template, named by generateName). */
  readonly create: readonly JsonObject[];
  /** Names of Pods to delete, the least useful first. */
  readonly delete: readonly string[];
  readonly status: JsonObject;
}

function num(obj: JsonObject, key: string, fallback: number): number {
  const v = obj[key];
  return typeof v === 'number' ? v : fallback;
}

/** The Pods a controller owns (ownerReference with controller: true and its uid). */
export function ownedPods(owner: JsonObject, pods: readonly JsonObject[]): JsonObject[] {
  const uid = str(child(owner, 'metadata'), 'uid') ?? '';
  return pods.filter((p) => controllerUid(p) === uid);
}

const phaseRank: Readonly<Record<string, number>> = { Pending: 0, Unknown: 1, Running: 2 };

function restarts(pod: JsonObject): number {
  return list(child(pod, 'status'), 'containerStatuses').reduce<number>((sum, cs) => sum + num(cs as JsonObject, 'restartCount', 0), 0);
}

/**
 * Which Pod to delete first when scaling down (controller.ActivePods ordering): unscheduled
 * before scheduled, Pending before Running, not ready before ready, more restarts first, newer first.
 */
export function deletionOrder(a: JsonObject, b: JsonObject): number {
  const scheduled = (p: JsonObject): number => (str(child(p, 'spec'), 'nodeName') === undefined ? 0 : 1);
  const phase = (p: JsonObject): number => phaseRank[str(child(p, 'status'), 'phase') ?? 'Pending'] ?? 0;
  const ready = (p: JsonObject): number => (podReady(p) ? 1 : 0);
  const created = (p: JsonObject): string => str(child(p, 'metadata'), 'creationTimestamp') ?? '';
  return scheduled(a) - scheduled(b) || phase(a) - phase(b) || ready(a) - ready(b) || restarts(b) - restarts(a) || created(b).localeCompare(created(a));
}

/** Decides one sync of a ReplicaSet over the Pods of its namespace. */
export function decideReplicaSet(rs: JsonObject, pods: readonly JsonObject[], now: Date): ReplicaSetDecision {
  const spec = child(rs, 'spec');
  const want = num(spec, 'replicas', 1);
  const active = ownedPods(rs, pods).filter(podCounts);
  const diff = want - active.length;
  const create = diff > 0 ? Array.from({ length: diff }, () => podFromTemplate(rs, 'ReplicaSet', {})) : [];
  const doomed = diff < 0 ? [...active].sort(deletionOrder).slice(0, -diff) : [];
  const minReady = num(spec, 'minReadySeconds', 0);
  const status: JsonObject = {
    ...omitZeros({
      fullyLabeledReplicas: active.length,
      readyReplicas: active.filter(podReady).length,
      availableReplicas: active.filter((p) => podAvailable(p, minReady, now)).length,
      observedGeneration: num(child(rs, 'metadata'), 'generation', 1),
    }),
    // replicas is the one count the API always prints, 0 included.
    replicas: active.length,
  };
  return { create, delete: doomed.map((p) => str(child(p, 'metadata'), 'name') ?? ''), status };
}
