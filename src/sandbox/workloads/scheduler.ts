import { child, isObject, list, str, type JsonObject } from '../apiserver/object.js';
import { placementReason } from './placement.js';

/**
 * The scheduler stand-in's decision for one unscheduled Pod: filter nodes as kube-scheduler's
 * filter plugins do (placement.ts, NodePorts), then prefer the node with the fewest Pods of the
 * same owner (PodTopologySpread's default hostname spreading), then the fewest Pods, then the name.
 */
export type ScheduleDecision = { readonly kind: 'bind'; readonly node: string } | { readonly kind: 'unschedulable'; readonly message: string };

const portsTaken = "node(s) didn't have free ports for the requested pod ports";

function nameOf(obj: JsonObject): string {
  return str(child(obj, 'metadata'), 'name') ?? '';
}

/** The uid of the Pod's controller (ownerReference with controller: true), or ''. */
export function controllerUid(obj: JsonObject): string {
  const ref = list(child(obj, 'metadata'), 'ownerReferences').find((r) => isObject(r) && r.controller === true);
  return isObject(ref) ? (str(ref, 'uid') ?? '') : '';
}

/** A Pod that still occupies its node (not Succeeded or Failed). */
export function podActive(pod: JsonObject): boolean {
  const phase = str(child(pod, 'status'), 'phase');
  return phase !== 'Succeeded' && phase !== 'Failed';
}

function hostPorts(pod: JsonObject): string[] {
  return list(child(pod, 'spec'), 'containers')
    .filter(isObject)
    .flatMap((c) => list(c, 'ports').filter(isObject))
    .flatMap((p) => (typeof p.hostPort === 'number' && p.hostPort > 0 ? [`${str(p, 'protocol') ?? 'TCP'}/${String(p.hostPort)}`] : []));
}

function reasonFor(pod: JsonObject, node: JsonObject, onNode: readonly JsonObject[]): string {
  const reason = placementReason(child(pod, 'spec'), node);
  if (reason !== '') return reason;
  const wanted = hostPorts(pod);
  const used = new Set(onNode.flatMap(hostPorts));
  return wanted.some((p) => used.has(p)) ? portsTaken : '';
}

/** `0/3 nodes are available: 1 node(s) had untolerated taint, 2 node(s) ...` as kube-scheduler words it. */
function unschedulableMessage(total: number, reasons: readonly string[]): string {
  const counts = new Map<string, number>();
  for (const r of reasons) counts.set(r, (counts.get(r) ?? 0) + 1);
  const parts = [...counts].map(([r, n]) => `${String(n)} ${r}`).sort();
  return `0/${String(total)} nodes are available: ${parts.join(', ')}.`;
}

/** Chooses a node for `pod` among `nodes`, given every Pod in the cluster. */
export function schedulePod(pod: JsonObject, nodes: readonly JsonObject[], pods: readonly JsonObject[]): ScheduleDecision {
  const active = pods.filter((p) => podActive(p) && nameOf(p) !== nameOf(pod));
  const byNode = (node: string): JsonObject[] => active.filter((p) => str(child(p, 'spec'), 'nodeName') === node);
  const owner = controllerUid(pod);
  const reasons: string[] = [];
  const feasible: { node: string; siblings: number; total: number }[] = [];
  for (const node of nodes) {
    const onNode = byNode(nameOf(node));
    const reason = reasonFor(pod, node, onNode);
    if (reason !== '') reasons.push(reason);
    else feasible.push({ node: nameOf(node), siblings: owner === '' ? 0 : onNode.filter((p) => controllerUid(p) === owner).length, total: onNode.length });
  }
  feasible.sort((a, b) => a.siblings - b.siblings || a.total - b.total || a.node.localeCompare(b.node));
  const best = feasible[0];
  if (best === undefined) return { kind: 'unschedulable', message: nodes.length === 0 ? 'no nodes available to schedule pods' : unschedulableMessage(nodes.length, reasons) };
  return { kind: 'bind', node: best.node };
}
