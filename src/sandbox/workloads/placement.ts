import { child, isObject, list, str, type JsonObject } from '../apiserver/object.js';

/**
 * Whether a Pod may run on a Node: taints and tolerations, nodeSelector and required node
 * affinity, as kube-scheduler's TaintToleration, NodeAffinity and NodeUnschedulable filter
 * plugins decide it (https://kubernetes.io/docs/concepts/scheduling-eviction/). Pure; used by the
 * scheduler stand-in and the DaemonSet controller stand-in.
 */

/** Why a node does not fit; '' when it fits. The text is kube-scheduler's. */
export type PlacementReason = '' | "node(s) didn't match Pod's node affinity/selector" | "node(s) had untolerated taint" | 'node(s) were unschedulable';

/** The control-plane taint kubeadm puts on control-plane nodes. */
export const controlPlaneTaint = { key: 'node-role.kubernetes.io/control-plane', effect: 'NoSchedule' } as const;

function objects(obj: JsonObject, key: string): JsonObject[] {
  return list(obj, key).filter(isObject);
}

/** True when one toleration tolerates one taint (v1 Toleration.ToleratesTaint). */
export function tolerates(toleration: JsonObject, taint: JsonObject): boolean {
  const effect = str(toleration, 'effect') ?? '';
  return (effect === '' || effect === str(taint, 'effect')) && toleratesKey(toleration, taint);
}

function toleratesKey(toleration: JsonObject, taint: JsonObject): boolean {
  const key = str(toleration, 'key') ?? '';
  const operator = str(toleration, 'operator') ?? 'Equal';
  // An empty key with Exists tolerates every taint.
  if (key === '') return operator === 'Exists';
  if (key !== str(taint, 'key')) return false;
  return operator === 'Exists' || (str(toleration, 'value') ?? '') === (str(taint, 'value') ?? '');
}

/** The node's NoSchedule and NoExecute taints that none of the Pod's tolerations tolerate. */
export function untoleratedTaints(podSpec: JsonObject, node: JsonObject): JsonObject[] {
  const tolerations = objects(podSpec, 'tolerations');
  return objects(child(node, 'spec'), 'taints').filter((t) => t.effect !== 'PreferNoSchedule' && !tolerations.some((tol) => tolerates(tol, t)));
}

function requirementMatches(req: JsonObject, value: string | undefined): boolean {
  const values = list(req, 'values').filter((v): v is string => typeof v === 'string');
  switch (str(req, 'operator')) {
    case 'In':
      return value !== undefined && values.includes(value);
    case 'NotIn':
      return value === undefined || !values.includes(value);
    case 'Exists':
      return value !== undefined;
    case 'DoesNotExist':
      return value === undefined;
    default:
      return compareRequirement(str(req, 'operator'), value, values[0]);
  }
}

/** Gt and Lt compare integers (NodeSelectorRequirement). */
function compareRequirement(operator: string | undefined, value: string | undefined, bound: string | undefined): boolean {
  if (value === undefined || bound === undefined) return false;
  if (operator === 'Gt') return Number(value) > Number(bound);
  return operator === 'Lt' && Number(value) < Number(bound);
}

/** One NodeSelectorTerm: all matchExpressions (labels) and matchFields (metadata.name) hold. */
function termMatches(term: JsonObject, node: JsonObject): boolean {
  const labels = child(child(node, 'metadata'), 'labels');
  const exprs = objects(term, 'matchExpressions').every((r) => {
    const v = labels[str(r, 'key') ?? ''];
    return requirementMatches(r, typeof v === 'string' ? v : undefined);
  });
  const fields = objects(term, 'matchFields').every((r) => str(r, 'key') === 'metadata.name' && requirementMatches(r, str(child(node, 'metadata'), 'name')));
  return exprs && fields;
}

/** nodeSelector and requiredDuringSchedulingIgnoredDuringExecution node affinity (terms ORed). */
export function matchesNodeSelection(podSpec: JsonObject, node: JsonObject): boolean {
  const labels = child(child(node, 'metadata'), 'labels');
  if (!Object.entries(child(podSpec, 'nodeSelector')).every(([k, v]) => labels[k] === v)) return false;
  const required = child(child(child(podSpec, 'affinity'), 'nodeAffinity'), 'requiredDuringSchedulingIgnoredDuringExecution');
  const terms = objects(required, 'nodeSelectorTerms');
  return terms.length === 0 || terms.some((t) => termMatches(t, node));
}

/** '' when the Pod may be placed on the node, else kube-scheduler's reason. */
export function placementReason(podSpec: JsonObject, node: JsonObject): PlacementReason {
  if (!matchesNodeSelection(podSpec, node)) return "node(s) didn't match Pod's node affinity/selector";
  // NodeUnschedulable: cordoned nodes carry node.kubernetes.io/unschedulable:NoSchedule, tolerable.
  const unschedulable = { key: 'node.kubernetes.io/unschedulable', effect: 'NoSchedule' };
  if (child(node, 'spec').unschedulable === true && !objects(podSpec, 'tolerations').some((t) => tolerates(t, unschedulable))) return 'node(s) were unschedulable';
  return untoleratedTaints(podSpec, node).length > 0 ? 'node(s) had untolerated taint' : '';
}

/** True when the node's Ready condition is True. */
export function nodeReady(node: JsonObject): boolean {
  return objects(child(node, 'status'), 'conditions').some((c) => c.type === 'Ready' && c.status === 'True');
}
