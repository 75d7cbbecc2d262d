import { child, isObject, list, str, type JsonObject } from '../apiserver/object.js';

/**
 * Pod status as the kubelet writes it (k8s.io/kubernetes pkg/kubelet/kubelet_pods.go
 * generateAPIPodStatus and pkg/kubelet/status/generate.go), from what the sandbox kubelet knows
 * of each container. Pure.
 */

/** `state` / `lastState` of a container status (core/v1 ContainerState), as plain data. */
export type ContainerStateValue =
  | { readonly waiting: { readonly reason: string; readonly message?: string } }
  | { readonly running: { readonly startedAt: string } }
  | {
      readonly terminated: {
        readonly exitCode: number;
        readonly signal?: number;
        readonly reason: string;
        readonly message?: string;
        readonly startedAt: string;
        readonly finishedAt: string;
        readonly containerID: string;
      };
    };

/** What the kubelet knows of one container. */
export interface ContainerRecord {
  readonly name: string;
  readonly image: string;
  readonly containerID: string | undefined;
  readonly restartCount: number;
  readonly state: ContainerStateValue;
  readonly lastState: ContainerStateValue | undefined;
  /** The readiness probe's result (or true without one) while running. */
  readonly ready: boolean;
  /** Started: running and the startup probe (if any) has succeeded. */
  readonly started: boolean;
}

/** What the kubelet knows of one Pod. */
export interface PodRecord {
  readonly podIp: string | undefined;
  readonly hostIp: string;
  /** When the kubelet first acknowledged the Pod. */
  readonly startTime: string;
  readonly containers: readonly ContainerRecord[];
  /** The Pod ran to completion or failed for good (restartPolicy Never/OnFailure). */
  readonly finished: 'Succeeded' | 'Failed' | undefined;
}

function isRunning(c: ContainerRecord): boolean {
  return 'running' in c.state;
}

/** Pending until a container has run; Running while one runs or will restart; Succeeded/Failed when done. */
export function podPhase(record: PodRecord): 'Pending' | 'Running' | 'Succeeded' | 'Failed' {
  if (record.finished !== undefined) return record.finished;
  const ranOnce = record.containers.some((c) => isRunning(c) || c.restartCount > 0 || 'terminated' in c.state);
  return ranOnce ? 'Running' : 'Pending';
}

function condition(type: string, ok: boolean, reason: string | undefined, previous: readonly JsonObject[], now: string): JsonObject {
  const status = ok ? 'True' : 'False';
  const before = previous.find((c) => c.type === type);
  // lastTransitionTime changes only when the status does.
  const since = before !== undefined && before.status === status ? (str(before, 'lastTransitionTime') ?? now) : now;
  return { type, status, lastProbeTime: null, lastTransitionTime: since, ...(ok || reason === undefined ? {} : { reason }) };
}

function notReadyReason(record: PodRecord): string {
  return record.finished !== undefined ? 'PodCompleted' : 'ContainersNotReady';
}

function containerStatus(c: ContainerRecord): JsonObject {
  return {
    name: c.name,
    image: c.image,
    imageID: '',
    ...(c.containerID === undefined ? {} : { containerID: c.containerID }),
    ready: c.ready && isRunning(c),
    started: c.started && isRunning(c),
    restartCount: c.restartCount,
    state: c.state,
    lastState: c.lastState ?? {},
  };
}

/**
 * The status to write: phase, conditions (PodReadyToStartContainers, Initialized, Ready,
 * ContainersReady, PodScheduled kept from the scheduler), hostIP(s), podIP(s), startTime,
 * containerStatuses; qosClass kept from the API server.
 */
export function podStatus(pod: JsonObject, record: PodRecord, now: string): JsonObject {
  const current = child(pod, 'status');
  const previous = list(current, 'conditions').filter(isObject);
  const allReady = record.containers.length > 0 && record.containers.every((c) => c.ready && isRunning(c));
  const scheduled = previous.find((c) => c.type === 'PodScheduled') ?? { type: 'PodScheduled', status: 'True', lastProbeTime: null, lastTransitionTime: record.startTime };
  const names = record.containers.filter((c) => !(c.ready && isRunning(c))).map((c) => c.name);
  const message = names.length === 0 ? {} : { message: `containers with unready status: [${names.join(' ')}]` };
  const ready = { ...condition('Ready', allReady, notReadyReason(record), previous, now), ...(allReady ? {} : message) };
  const containersReady = { ...condition('ContainersReady', allReady, notReadyReason(record), previous, now), ...(allReady ? {} : message) };
  const ips = record.podIp === undefined ? {} : { podIP: record.podIp, podIPs: [{ ip: record.podIp }] };
  const qos = str(current, 'qosClass');
  return {
    phase: podPhase(record),
    conditions: [
      condition('PodReadyToStartContainers', record.podIp !== undefined, undefined, previous, now),
      condition('Initialized', true, undefined, previous, now),
      ready,
      containersReady,
      scheduled,
    ],
    hostIP: record.hostIp,
    hostIPs: [{ ip: record.hostIp }],
    ...ips,
    startTime: record.startTime,
    containerStatuses: record.containers.map(containerStatus),
    ...(qos === undefined ? {} : { qosClass: qos }),
  };
}

/**
 * A core/v1 Event on a Pod from the kubelet (`source.component: kubelet`, `host` the node), with
 * the container as `involvedObject.fieldPath` (`spec.containers{web}`), as kubectl describe
 * lists it. `suffix` makes the name unique (the recorder's `<pod>.<hex>`). Pure.
 */
export function kubeletEvent(pod: { readonly namespace: string; readonly name: string; readonly uid: string }, node: string, e: { readonly type: string; readonly reason: string; readonly message: string; readonly container: string }, now: string, suffix: string): JsonObject {
  return {
    apiVersion: 'v1',
    kind: 'Event',
    metadata: { name: `${pod.name}.${suffix}`, namespace: pod.namespace },
    involvedObject: { apiVersion: 'v1', kind: 'Pod', namespace: pod.namespace, name: pod.name, uid: pod.uid, fieldPath: `spec.containers{${e.container}}` },
    type: e.type,
    reason: e.reason,
    message: e.message,
    source: { component: 'kubelet', host: node },
    reportingComponent: 'kubelet',
    reportingInstance: node,
    firstTimestamp: now,
    lastTimestamp: now,
    count: 1,
  };
}
