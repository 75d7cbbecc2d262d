import { child, isObject, list, str, type JsonObject } from '../apiserver/object.js';
import { podActive } from './scheduler.js';
import { podReady, stableJson, fnv32a } from './pods.js';

/**
 * EndpointSlices from Pods, as the EndpointSlice controller builds them
 * (https://kubernetes.io/docs/concepts/services-networking/endpoint-slices/, k8s.io/kubernetes
 * pkg/controller/endpointslice): one slice per address family and resolved port set, endpoints
 * with ready/serving/terminating conditions, nodeName and a targetRef to their Pod, named
 * targetPorts resolved per Pod from its containers' ports. Pure.
 */

/** The label naming the Service, and the manager label value the real controller writes. */
export const serviceNameLabel = 'kubernetes.io/service-name';
export const endpointSliceManager = 'endpointslice-controller.k8s.io';
/** The most endpoints the controller puts in one slice (--max-endpoints-per-slice default). */
export const maxEndpointsPerSlice = 100;

type Family = 'IPv4' | 'IPv6';

/** One Service port resolved for one Pod, as an EndpointPort. */
interface ResolvedPort {
  readonly name?: string;
  readonly port: number;
  readonly protocol: string;
  readonly appProtocol?: string;
}

function objects(obj: JsonObject, key: string): JsonObject[] {
  return list(obj, key).filter(isObject);
}

/** The container port a Service targetPort names (a port name) or is (a number); undefined when the Pod has no such named port. */
export function resolveTargetPort(targetPort: unknown, pod: JsonObject, servicePort: number): number | undefined {
  if (typeof targetPort === 'number') return targetPort;
  if (typeof targetPort !== 'string' || targetPort === '') return servicePort;
  if (/^\d+$/.test(targetPort)) return Number(targetPort);
  const ports = objects(child(pod, 'spec'), 'containers').flatMap((c) => objects(c, 'ports'));
  const found = ports.find((p) => p.name === targetPort);
  return typeof found?.containerPort === 'number' ? found.containerPort : undefined;
}

function resolvePorts(svc: JsonObject, pod: JsonObject): ResolvedPort[] {
  return objects(child(svc, 'spec'), 'ports').flatMap((p) => {
    const port = resolveTargetPort(p.targetPort, pod, typeof p.port === 'number' ? p.port : 0);
    if (port === undefined) return [];
    // The EndpointSlice controller always sets the port's name, "" for an unnamed Service port
    // (pkg/controller/endpointslice getEndpointPorts: `Name: &portName`); kubectl describe svc
    // dereferences it and panics on a slice port without one.
    const name = str(p, 'name') ?? '';
    const appProtocol = str(p, 'appProtocol');
    return [{ name, port, protocol: str(p, 'protocol') ?? 'TCP', ...(appProtocol === undefined ? {} : { appProtocol }) }];
  });
}

function selectsPod(selector: JsonObject, pod: JsonObject): boolean {
  const labels = child(child(pod, 'metadata'), 'labels');
  const entries = Object.entries(selector);
  return entries.length > 0 && entries.every(([k, v]) => labels[k] === v);
}

function podIps(pod: JsonObject): string[] {
  const status = child(pod, 'status');
  const ips = objects(status, 'podIPs').flatMap((p) => (typeof p.ip === 'string' ? [p.ip] : []));
  const primary = str(status, 'podIP');
  return ips.length > 0 ? ips : primary === undefined ? [] : [primary];
}

/**
 * Ready, serving and terminating of one Pod's endpoint (the controller's podToEndpoint): serving
 * is the Pod's Ready condition, terminating its deletionTimestamp, and ready is serving and not
 * terminating, or always with publishNotReadyAddresses.
 */
export function endpointConditions(pod: JsonObject, publishNotReady: boolean): { ready: boolean; serving: boolean; terminating: boolean } {
  const terminating = str(child(pod, 'metadata'), 'deletionTimestamp') !== undefined;
  const serving = podReady(pod);
  return { ready: publishNotReady || (serving && !terminating), serving, terminating };
}

function endpointOf(pod: JsonObject, ip: string, publishNotReady: boolean): JsonObject {
  const m = child(pod, 'metadata');
  const nodeName = str(child(pod, 'spec'), 'nodeName');
  return {
    addresses: [ip],
    conditions: endpointConditions(pod, publishNotReady),
    ...(nodeName === undefined ? {} : { nodeName }),
    targetRef: { kind: 'Pod', namespace: str(m, 'namespace') ?? '', name: str(m, 'name') ?? '', uid: str(m, 'uid') ?? '' },
  };
}

function familyOf(ip: string): Family {
  return ip.includes(':') ? 'IPv6' : 'IPv4';
}

function serviceFamilies(svc: JsonObject): Family[] {
  const families = list(child(svc, 'spec'), 'ipFamilies').filter((f): f is Family => f === 'IPv4' || f === 'IPv6');
  return families.length > 0 ? families : ['IPv4'];
}

/** A Pod belongs in the slices while it has an IP and is not finished (ShouldPodBeInEndpoints). */
function inEndpoints(pod: JsonObject): boolean {
  return podActive(pod) && podIps(pod).length > 0;
}

/**
 * The EndpointSlices a Service with a selector should have, given the Pods of its namespace;
 * none for a Service without a selector (its endpoints are managed by hand). Slice names are
 * `<service>-<hash of family and ports>` so that a writer can match them without the real
 * controller's generateName bookkeeping.
 */
export function desiredPodEndpointSlices(svc: JsonObject, pods: readonly JsonObject[]): JsonObject[] {
  const spec = child(svc, 'spec');
  const selector = child(spec, 'selector');
  if (Object.keys(selector).length === 0) return [];
  const publishNotReady = spec.publishNotReadyAddresses === true;
  const groups = new Map<string, { family: Family; ports: ResolvedPort[]; endpoints: JsonObject[] }>();
  for (const pod of pods.filter((p) => selectsPod(selector, p) && inEndpoints(p))) {
    const ports = resolvePorts(svc, pod);
    for (const ip of podIps(pod).filter((a) => serviceFamilies(svc).includes(familyOf(a)))) {
      const key = `${familyOf(ip)}/${stableJson(ports)}`;
      const group = groups.get(key) ?? { family: familyOf(ip), ports, endpoints: [] };
      group.endpoints.push(endpointOf(pod, ip, publishNotReady));
      groups.set(key, group);
    }
  }
  return [...groups].flatMap(([key, g]) => chunks(g.endpoints).map((endpoints, i) => sliceBody(svc, `${key}/${String(i)}`, g.family, g.ports, endpoints)));
}

function chunks(endpoints: readonly JsonObject[]): JsonObject[][] {
  const out: JsonObject[][] = [];
  for (let i = 0; i < endpoints.length; i += maxEndpointsPerSlice) out.push(endpoints.slice(i, i + maxEndpointsPerSlice));
  return out;
}

function sliceBody(svc: JsonObject, key: string, family: Family, ports: readonly ResolvedPort[], endpoints: readonly JsonObject[]): JsonObject {
  const m = child(svc, 'metadata');
  const name = str(m, 'name') ?? '';
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: {
      name: `${name}-${fnv32a(key).toString(36)}`,
      namespace: str(m, 'namespace') ?? 'default',
      labels: { [serviceNameLabel]: name, 'endpointslice.kubernetes.io/managed-by': endpointSliceManager },
      ownerReferences: [{ apiVersion: 'v1', kind: 'Service', name, uid: str(m, 'uid') ?? '', controller: true, blockOwnerDeletion: true }],
    },
    addressType: family,
    endpoints,
    ports,
  };
}
