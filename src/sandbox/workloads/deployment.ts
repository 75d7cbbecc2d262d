import { child, clone, isObject, jsonEqual, list, str, type JsonObject } from '../apiserver/object.js';
import { controllerRef, templateHash } from './pods.js';
import { controllerUid } from './scheduler.js';

/**
 * The Deployment controller stand-in's decision (k8s.io/kubernetes pkg/controller/deployment):
 * which ReplicaSet carries the current template (labelled `pod-template-hash`), how far to scale
 * each ReplicaSet in one rolling-update (or recreate) step, and the Deployment's status with the
 * Available and Progressing conditions `kubectl rollout status` reads.
 */
export interface DeploymentDecision {
  /** A new ReplicaSet for the current template, when none carries it. */
  readonly createReplicaSet: JsonObject | undefined;
  /** ReplicaSet name -> spec.replicas to set, for those that change. */
  readonly scale: ReadonlyMap<string, number>;
  /** The revision annotation the Deployment should carry. */
  readonly revision: string;
  readonly status: JsonObject;
}

export const hashLabel = 'pod-template-hash';
export const revisionAnnotation = 'deployment.kubernetes.io/revision';

function num(obj: JsonObject, key: string, fallback = 0): number {
  const v = obj[key];
  return typeof v === 'number' ? v : fallback;
}

function nameOf(obj: JsonObject): string {
  return str(child(obj, 'metadata'), 'name') ?? '';
}

/** An int-or-percent (`25%` or 1) of `total`, rounded up or down (intstr.GetScaledValueFromIntOrPercent). */
export function scaledValue(value: unknown, total: number, roundUp: boolean): number {
  if (typeof value === 'number') return value;
  const match = /^(\d+)%$/.exec(typeof value === 'string' ? value : '');
  if (match === null) return 0;
  const exact = (Number(match[1]) * total) / 100;
  return roundUp ? Math.ceil(exact) : Math.floor(exact);
}

/** maxSurge and maxUnavailable resolved against the replica count; never both 0 (deploymentutil.ResolveFenceposts). */
export function fenceposts(spec: JsonObject): { readonly surge: number; readonly unavailable: number } {
  const rolling = child(child(spec, 'strategy'), 'rollingUpdate');
  const replicas = num(spec, 'replicas', 1);
  const surge = scaledValue(rolling.maxSurge ?? '25%', replicas, true);
  const unavailable = scaledValue(rolling.maxUnavailable ?? '25%', replicas, false);
  return { surge, unavailable: surge === 0 && unavailable === 0 ? 1 : unavailable };
}

/** The template without the hash label, to compare a ReplicaSet's template with the Deployment's. */
function bareTemplate(template: JsonObject): JsonObject {
  const out = clone(template);
  const labels = { ...child(child(out, 'metadata'), 'labels') };
  Reflect.deleteProperty(labels, hashLabel);
  out.metadata = { ...child(out, 'metadata'), labels };
  return out;
}

function revisionOf(rs: JsonObject): number {
  return Number(str(child(child(rs, 'metadata'), 'annotations'), revisionAnnotation) ?? '0') || 0;
}

/** A ReplicaSet for the Deployment's current template (DeploymentController.getNewReplicaSet). */
function newReplicaSet(d: JsonObject, hash: string, replicas: number, revision: number): JsonObject {
  const spec = child(d, 'spec');
  const template = clone(child(spec, 'template'));
  const tm = child(template, 'metadata');
  template.metadata = { ...tm, labels: { ...child(tm, 'labels'), [hashLabel]: hash } };
  const selector = clone(child(spec, 'selector'));
  selector.matchLabels = { ...child(selector, 'matchLabels'), [hashLabel]: hash };
  const m = child(d, 'metadata');
  const metadata = {
    name: `${nameOf(d)}-${hash}`,
    namespace: str(m, 'namespace') ?? 'default',
    labels: { ...child(tm, 'labels'), [hashLabel]: hash },
    annotations: { [revisionAnnotation]: String(revision) },
    ownerReferences: [controllerRef(d, 'Deployment')],
  };
  const rsSpec: JsonObject = { replicas, selector, template, minReadySeconds: num(spec, 'minReadySeconds') };
  return { apiVersion: 'apps/v1', kind: 'ReplicaSet', metadata, spec: rsSpec };
}

/** The state one step works on: the new ReplicaSet (if any) and the old ones, oldest first. */
interface Sets {
  readonly current: JsonObject | undefined;
  readonly old: readonly JsonObject[];
}

function splitSets(d: JsonObject, sets: readonly JsonObject[]): Sets {
  const uid = str(child(d, 'metadata'), 'uid') ?? '';
  const owned = sets.filter((rs) => controllerUid(rs) === uid);
  const template = child(child(d, 'spec'), 'template');
  const current = owned.find((rs) => jsonEqual(bareTemplate(child(child(rs, 'spec'), 'template')), bareTemplate(template)));
  const old = owned.filter((rs) => rs !== current).sort((a, b) => (str(child(a, 'metadata'), 'creationTimestamp') ?? '').localeCompare(str(child(b, 'metadata'), 'creationTimestamp') ?? ''));
  return { current, old };
}

const specReplicas = (rs: JsonObject): number => num(child(rs, 'spec'), 'replicas');
const statusOf = (rs: JsonObject, key: string): number => num(child(rs, 'status'), key);
const sum = (sets: readonly JsonObject[], f: (rs: JsonObject) => number): number => sets.reduce((s, rs) => s + f(rs), 0);

/** Target replicas of the new ReplicaSet in a rolling update (deploymentutil.NewRSNewReplicas). */
function rollingNewReplicas(spec: JsonObject, currentNew: number, total: number): number {
  const replicas = num(spec, 'replicas', 1);
  if (currentNew >= replicas) return replicas;
  const room = Math.max(0, replicas + fenceposts(spec).surge - total);
  return Math.min(replicas, currentNew + room);
}

/** How far old ReplicaSets may shrink now without dropping below the minimum available. */
function rollingScaleDown(spec: JsonObject, sets: Sets): Map<string, number> {
  const all = sets.current === undefined ? sets.old : [sets.current, ...sets.old];
  const minAvailable = num(spec, 'replicas', 1) - fenceposts(spec).unavailable;
  const newUnavailable = sets.current === undefined ? 0 : Math.max(0, specReplicas(sets.current) - statusOf(sets.current, 'availableReplicas'));
  let budget = sum(all, specReplicas) - minAvailable - newUnavailable;
  const out = new Map<string, number>();
  for (const rs of sets.old) {
    const have = specReplicas(rs);
    // Old Pods that are not available can always go (cleanupUnhealthyReplicas).
    const unhealthy = Math.max(0, have - statusOf(rs, 'availableReplicas'));
    const cut = Math.min(have, unhealthy + Math.max(0, budget));
    budget -= Math.max(0, cut - unhealthy);
    if (cut > 0) out.set(nameOf(rs), have - cut);
  }
  return out;
}

function scalePlan(d: JsonObject, sets: Sets): { newTarget: number; scale: Map<string, number> } {
  const spec = child(d, 'spec');
  const replicas = num(spec, 'replicas', 1);
  const oldActive = sets.old.filter((rs) => specReplicas(rs) > 0 || statusOf(rs, 'replicas') > 0);
  if (str(child(spec, 'strategy'), 'type') === 'Recreate') {
    const scale = new Map(sets.old.filter((rs) => specReplicas(rs) > 0).map((rs) => [nameOf(rs), 0]));
    return { newTarget: oldActive.length === 0 ? replicas : 0, scale };
  }
  const currentNew = sets.current === undefined ? 0 : specReplicas(sets.current);
  if (oldActive.length === 0) return { newTarget: replicas, scale: new Map() };
  const total = currentNew + sum(sets.old, specReplicas);
  const newTarget = rollingNewReplicas(spec, currentNew, total);
  return { newTarget, scale: rollingScaleDown(spec, sets) };
}

/** Decides one sync of a Deployment over the ReplicaSets of its namespace. */
export function decideDeployment(d: JsonObject, replicaSets: readonly JsonObject[], now: Date): DeploymentDecision {
  const sets = splitSets(d, replicaSets);
  const plan = scalePlan(d, sets);
  const hash = templateHash(child(child(d, 'spec'), 'template'), num(child(d, 'status'), 'collisionCount'));
  const revision = sets.current === undefined ? Math.max(0, ...sets.old.map(revisionOf)) + 1 : revisionOf(sets.current);
  const created = sets.current === undefined ? newReplicaSet(d, hash, plan.newTarget, revision) : undefined;
  const scale = new Map([...plan.scale].filter(([name, n]) => specReplicas(sets.old.find((rs) => nameOf(rs) === name) ?? {}) !== n));
  if (sets.current !== undefined && specReplicas(sets.current) !== plan.newTarget) scale.set(nameOf(sets.current), plan.newTarget);
  const status = deploymentStatus(d, sets, created === undefined ? undefined : nameOf(created), now);
  return { createReplicaSet: created, scale, revision: String(revision), status };
}

/** Drops the status fields that are zero, as the API's omitempty JSON does. */
export function omitZeros(status: JsonObject): JsonObject {
  return Object.fromEntries(Object.entries(status).filter(([, v]) => v !== 0));
}

function condition(type: string, ok: boolean, reason: string, message: string, previous: JsonObject | undefined, now: string): JsonObject {
  const status = ok ? 'True' : 'False';
  const same = previous !== undefined && previous.status === status;
  const unchanged = same && previous.reason === reason && previous.message === message;
  return {
    type,
    status,
    lastUpdateTime: unchanged ? previous.lastUpdateTime : now,
    lastTransitionTime: same ? previous.lastTransitionTime : now,
    reason,
    message,
  };
}

/** Reason and message of the Progressing condition (deploymentutil's NewRSAvailableReason and friends). */
function progressReason(createdName: string | undefined, current: JsonObject | undefined, complete: boolean): readonly [string, string] {
  if (createdName !== undefined) return ['NewReplicaSetCreated', `Created new replica set "${createdName}"`];
  const rsName = current === undefined ? '' : nameOf(current);
  return complete ? ['NewReplicaSetAvailable', `ReplicaSet "${rsName}" has successfully progressed.`] : ['ReplicaSetUpdated', `ReplicaSet "${rsName}" is progressing.`];
}

function deploymentStatus(d: JsonObject, sets: Sets, createdName: string | undefined, now: Date): JsonObject {
  const spec = child(d, 'spec');
  const replicas = num(spec, 'replicas', 1);
  const all = sets.current === undefined ? sets.old : [sets.current, ...sets.old];
  const available = sum(all, (rs) => statusOf(rs, 'availableReplicas'));
  const updated = sets.current === undefined ? 0 : statusOf(sets.current, 'replicas');
  const total = sum(all, (rs) => statusOf(rs, 'replicas'));
  const previous = list(child(d, 'status'), 'conditions').filter(isObject);
  const prev = (type: string): JsonObject | undefined => previous.find((c) => c.type === type);
  const at = now.toISOString().replace(/\.\d{3}Z$/, 'Z');
  const minimum = available >= replicas - fenceposts(spec).unavailable;
  const availableCond = condition('Available', minimum, minimum ? 'MinimumReplicasAvailable' : 'MinimumReplicasUnavailable', minimum ? 'Deployment has minimum availability.' : 'Deployment does not have minimum availability.', prev('Available'), at);
  const complete = updated === replicas && available === replicas && total === replicas;
  const progress = progressReason(createdName, sets.current, complete);
  const progressing = condition('Progressing', true, progress[0], progress[1], prev('Progressing'), at);
  const counts = omitZeros({
    observedGeneration: num(child(d, 'metadata'), 'generation', 1),
    replicas: total,
    updatedReplicas: updated,
    readyReplicas: sum(all, (rs) => statusOf(rs, 'readyReplicas')),
    availableReplicas: available,
    unavailableReplicas: Math.max(0, sum(all, specReplicas) - available),
  });
  return { ...counts, conditions: [availableCond, progressing] };
}
