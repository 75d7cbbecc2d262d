import { child, isObject, list, str, type JsonObject } from '../apiserver/object.js';
import { ageColumn, humanDuration, nameColumn, type Column } from '../apiserver/tables.js';
import { formatSelector } from '../apiserver/label-selector.js';

/**
 * `kubectl get pods|deploy|rs|ds` columns as kube-apiserver's printers make them
 * (k8s.io/kubernetes pkg/printers/internalversion/printers.go), `-o wide` ones at priority 1.
 */

function num(obj: JsonObject, key: string): number {
  const v = obj[key];
  return typeof v === 'number' ? v : 0;
}

function containerStatuses(pod: JsonObject): JsonObject[] {
  return list(child(pod, 'status'), 'containerStatuses').filter(isObject);
}

function podReadyCondition(pod: JsonObject): boolean {
  return list(child(pod, 'status'), 'conditions').some((c) => isObject(c) && c.type === 'Ready' && c.status === 'True');
}

/** The reason a container status contributes to STATUS, or undefined while running. */
function containerReason(cs: JsonObject): string | undefined {
  const state = child(cs, 'state');
  const waiting = str(child(state, 'waiting'), 'reason');
  if (waiting !== undefined && waiting !== '') return waiting;
  if (!isObject(state.terminated)) return undefined;
  const terminated = child(state, 'terminated');
  const reason = str(terminated, 'reason');
  if (reason !== undefined && reason !== '') return reason;
  return typeof terminated.signal === 'number' && terminated.signal !== 0 ? `Signal:${String(terminated.signal)}` : `ExitCode:${String(num(terminated, 'exitCode'))}`;
}

/** STATUS of a Pod, as printPod computes it from phase, container states and deletion. */
export function podStatusText(pod: JsonObject): string {
  const status = child(pod, 'status');
  let reason = str(status, 'reason') ?? str(status, 'phase') ?? '';
  let running = false;
  for (const cs of [...containerStatuses(pod)].reverse()) {
    const r = containerReason(cs);
    if (r !== undefined) reason = r;
    else if (isObject(child(cs, 'state').running)) running = true;
  }
  if (reason === 'Completed' && running) reason = podReadyCondition(pod) ? 'Running' : 'NotReady';
  return deletionReason(pod) ?? reason;
}

/** A Pod being deleted shows Terminating (Unknown when its node was lost). */
function deletionReason(pod: JsonObject): string | undefined {
  if (str(child(pod, 'metadata'), 'deletionTimestamp') === undefined) return undefined;
  return child(pod, 'status').reason === 'NodeLost' ? 'Unknown' : 'Terminating';
}

function podReady(pod: JsonObject): string {
  const total = list(child(pod, 'spec'), 'containers').length;
  const ready = containerStatuses(pod).filter((cs) => cs.ready === true && isObject(child(cs, 'state').running)).length;
  return `${String(ready)}/${String(total)}`;
}

/** RESTARTS: the sum of restartCount, with the age of the last restart (`2 (5s ago)`). */
export function podRestarts(pod: JsonObject, now: Date): string {
  const statuses = containerStatuses(pod);
  const restarts = statuses.reduce((sum, cs) => sum + num(cs, 'restartCount'), 0);
  const finished = statuses.map((cs) => Date.parse(str(child(child(cs, 'lastState'), 'terminated'), 'finishedAt') ?? '')).filter((t) => !Number.isNaN(t));
  if (restarts === 0 || finished.length === 0) return String(restarts);
  return `${String(restarts)} (${humanDuration(now.getTime() - Math.max(...finished))} ago)`;
}

function readinessGates(pod: JsonObject): string {
  const gates = list(child(pod, 'spec'), 'readinessGates').filter(isObject);
  if (gates.length === 0) return '<none>';
  const conditions = list(child(pod, 'status'), 'conditions').filter(isObject);
  const met = gates.filter((g) => conditions.some((c) => c.type === g.conditionType && c.status === 'True')).length;
  return `${String(met)}/${String(gates.length)}`;
}

const orNone = (value: string | undefined): string => (value === undefined || value === '' ? '<none>' : value);

const podColumns: readonly Column[] = [
  nameColumn,
  { name: 'Ready', type: 'string', description: 'The aggregate readiness state of this pod for accepting traffic.', priority: 0, cell: podReady },
  { name: 'Status', type: 'string', description: 'The aggregate status of the containers in this pod.', priority: 0, cell: podStatusText },
  { name: 'Restarts', type: 'string', description: 'The number of times the containers in this pod have been restarted and when the last container in this pod has restarted.', priority: 0, cell: podRestarts },
  ageColumn,
  { name: 'IP', type: 'string', description: 'IP address of this pod.', priority: 1, cell: (o) => orNone(str(child(o, 'status'), 'podIP')) },
  { name: 'Node', type: 'string', description: 'Node assigned to this pod.', priority: 1, cell: (o) => orNone(str(child(o, 'spec'), 'nodeName')) },
  { name: 'Nominated Node', type: 'string', description: 'Nominated node name of this pod.', priority: 1, cell: (o) => orNone(str(child(o, 'status'), 'nominatedNodeName')) },
  { name: 'Readiness Gates', type: 'string', description: 'The readiness gates of this pod.', priority: 1, cell: readinessGates },
];

function templateContainers(o: JsonObject): JsonObject[] {
  return list(child(child(child(o, 'spec'), 'template'), 'spec'), 'containers').filter(isObject);
}

/** CONTAINERS, IMAGES and SELECTOR of `-o wide` for the apps kinds. */
const wideTemplateColumns: readonly Column[] = [
  { name: 'Containers', type: 'string', description: 'Names of each container in the template.', priority: 1, cell: (o) => templateContainers(o).map((c) => str(c, 'name') ?? '').join(',') },
  { name: 'Images', type: 'string', description: 'Images referenced by each container in the template.', priority: 1, cell: (o) => templateContainers(o).map((c) => str(c, 'image') ?? '').join(',') },
  { name: 'Selector', type: 'string', description: 'Label selector for pods.', priority: 1, cell: (o) => formatSelector(child(child(o, 'spec'), 'selector')) },
];

const statusNum = (key: string) => (o: JsonObject): number => num(child(o, 'status'), key);

const deploymentColumns: readonly Column[] = [
  nameColumn,
  { name: 'Ready', type: 'string', description: 'Number of the pod with ready state.', priority: 0, cell: (o) => `${String(num(child(o, 'status'), 'readyReplicas'))}/${String(num(child(o, 'spec'), 'replicas'))}` },
  { name: 'Up-to-date', type: 'integer', description: 'Total number of non-terminated pods targeted by this deployment that have the desired template spec.', priority: 0, cell: statusNum('updatedReplicas') },
  { name: 'Available', type: 'integer', description: 'Total number of available pods (ready for at least minReadySeconds) targeted by this deployment.', priority: 0, cell: statusNum('availableReplicas') },
  ageColumn,
  ...wideTemplateColumns,
];

const replicaSetColumns: readonly Column[] = [
  nameColumn,
  { name: 'Desired', type: 'integer', description: 'Number of desired pods.', priority: 0, cell: (o) => num(child(o, 'spec'), 'replicas') },
  { name: 'Current', type: 'integer', description: 'Number of actual replicas.', priority: 0, cell: statusNum('replicas') },
  { name: 'Ready', type: 'integer', description: 'Number of ready replicas.', priority: 0, cell: statusNum('readyReplicas') },
  ageColumn,
  ...wideTemplateColumns,
];

function nodeSelectorText(o: JsonObject): string {
  const selector = child(child(child(child(o, 'spec'), 'template'), 'spec'), 'nodeSelector');
  const pairs = Object.entries(selector).map(([k, v]) => `${k}=${String(v)}`);
  return pairs.length === 0 ? '<none>' : pairs.join(',');
}

const daemonSetColumns: readonly Column[] = [
  nameColumn,
  { name: 'Desired', type: 'integer', description: 'The total number of nodes that should be running the daemon pod.', priority: 0, cell: statusNum('desiredNumberScheduled') },
  { name: 'Current', type: 'integer', description: 'The number of nodes that are running at least 1 daemon pod and are supposed to run the daemon pod.', priority: 0, cell: statusNum('currentNumberScheduled') },
  { name: 'Ready', type: 'integer', description: 'The number of nodes that should be running the daemon pod and have one or more of the daemon pod running and ready.', priority: 0, cell: statusNum('numberReady') },
  { name: 'Up-to-date', type: 'integer', description: 'The total number of nodes that are running updated daemon pod.', priority: 0, cell: statusNum('updatedNumberScheduled') },
  { name: 'Available', type: 'integer', description: 'The number of nodes that should be running the daemon pod and have one or more of the daemon pod running and available.', priority: 0, cell: statusNum('numberAvailable') },
  { name: 'Node Selector', type: 'string', description: 'NodeSelector is a selector which must be true for the pod to fit on a node.', priority: 0, cell: nodeSelectorText },
  ageColumn,
  ...wideTemplateColumns,
];

/** Plural -> columns of the workload kinds, for `tableRenderer`. */
export const workloadColumns: Readonly<Record<string, readonly Column[]>> = {
  pods: podColumns,
  deployments: deploymentColumns,
  replicasets: replicaSetColumns,
  daemonsets: daemonSetColumns,
};
