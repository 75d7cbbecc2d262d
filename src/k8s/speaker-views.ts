import type * as k8s from '@kubernetes/client-node';
import type { ElectionService, EndpointView, NodeView } from '../election/views.js';
import { canonicalIpText } from '../ip/ip-addr.js';
import { ingressIpTexts, isOurs, serviceKeyOf, serviceRef, type ServiceView } from '../service/service.js';
import type { NodeName } from '../shared/brand.js';
import { interfacesAnnotation, toInterfacesRecord } from '../speaker/interfaces-record.js';
import { announcingAnnotation, livenessModeOf, nodeOfLease, parseAnnouncing, type LivenessMode, type SpeakerLeaseView } from '../speaker/lease-view.js';
import { leaseRoleLabel } from '../speaker/standby.js';
import type { ServiceRecord } from '../speaker/speaker.js';

/** The label an EndpointSlice names its Service with. */
export const serviceNameLabel = 'kubernetes.io/service-name';

/**
 * One endpoint's conditions as the EndpointSlice API defines them: nil `ready` means ready
 * unless terminating; nil `serving` follows `ready`'s rule; nil `terminating` means false.
 */
export function toEndpointView(e: k8s.V1Endpoint): EndpointView {
  const terminating = e.conditions?.terminating ?? false;
  const ready = e.conditions?.ready ?? !terminating;
  const serving = e.conditions?.serving ?? !terminating;
  // Object literals, not a spread: V8 gave each spread-built view a hidden class of its own
  // (~200 bytes of map and descriptors per endpoint, kept as long as the view).
  return e.nodeName === undefined ? { ready, serving, terminating } : { nodeName: e.nodeName as NodeName, ready, serving, terminating };
}

/*
 * What the speaker's informers cache (restListWatch projections, client-go's TransformFunc): only
 * what election reads, so a Service's ports, selector and annotations (kubectl's
 * last-applied-configuration among them), a slice's addresses, targetRefs and hints, and a
 * Node's images, addresses and capacity are dropped as each object arrives, on every node
 * (docs/speaker.md, "Memory"). Each keeps the metadata the cache keys and versions it by.
 */

/** The metadata a projection keeps: what the informer cache keys and versions objects by. */
interface CacheMeta {
  readonly namespace?: string | undefined;
  readonly name?: string | undefined;
  readonly resourceVersion?: string | undefined;
}

function cacheMeta(m: k8s.V1ObjectMeta | undefined): CacheMeta {
  return { namespace: m?.namespace, name: m?.name, resourceVersion: m?.resourceVersion };
}

/**
 * What the speaker keeps of a Service: the fields {@link toServiceRecord} reads. Built as one
 * literal shape (no spread), so every cached Service shares V8's hidden classes.
 */
export function projectService(svc: k8s.V1Service): ServiceView & { readonly metadata: CacheMeta } {
  const m: k8s.V1ObjectMeta = svc.metadata ?? {};
  const spec: k8s.V1ServiceSpec = svc.spec ?? {};
  return {
    metadata: { namespace: m.namespace, name: m.name, resourceVersion: m.resourceVersion, uid: m.uid },
    spec: { type: spec.type, loadBalancerClass: spec.loadBalancerClass, externalTrafficPolicy: spec.externalTrafficPolicy },
    status: { loadBalancer: { ingress: (svc.status?.loadBalancer?.ingress ?? []).map((i) => ({ ip: i.ip })) } },
  };
}

/** What the speaker keeps of an EndpointSlice: its Service and its endpoints' nodes and conditions. */
export interface SliceView {
  readonly metadata: CacheMeta;
  /** `namespace/service` from the `kubernetes.io/service-name` label; undefined without it. */
  readonly service: string | undefined;
  readonly endpoints: readonly EndpointView[];
}

/** An EndpointSlice as the speaker keeps it. */
export function projectSlice(slice: k8s.V1EndpointSlice): SliceView {
  const name = slice.metadata?.labels?.[serviceNameLabel];
  return {
    metadata: cacheMeta(slice.metadata),
    service: name === undefined ? undefined : `${slice.metadata?.namespace ?? 'default'}/${name}`,
    // Typed as required, but Go's nil slice reaches us as `null` (the field has no omitempty).
    endpoints: ((slice.endpoints as readonly k8s.V1Endpoint[] | null | undefined) ?? []).map(toEndpointView),
  };
}

/** What the speaker keeps of a Node: its election view. */
export interface NodeCacheView {
  readonly metadata: CacheMeta;
  readonly view: NodeView;
}

/** A Node as the speaker keeps it. */
export function projectNode(node: k8s.V1Node): NodeCacheView {
  return { metadata: cacheMeta(node.metadata), view: toNodeView(node) };
}

/** `namespace/service` -> its slices. */
export function slicesByService(slices: readonly SliceView[]): ReadonlyMap<string, readonly SliceView[]> {
  const out = new Map<string, SliceView[]>();
  for (const slice of slices) {
    if (slice.service === undefined) continue;
    const list = out.get(slice.service);
    if (list === undefined) out.set(slice.service, [slice]);
    else list.push(slice);
  }
  return out;
}

/**
 * A LoadBalancer Service with ingress IPs, as election sees it, or undefined when the speaker
 * has nothing to do with it (other type, other loadBalancerClass, no IPs yet).
 */
export function toServiceRecord(svc: ServiceView, slices: readonly SliceView[], lbClass: string): ServiceRecord | undefined {
  if (!isOurs(svc, lbClass)) return undefined;
  const ips = ingressIpTexts(svc);
  if (ips.length === 0) return undefined;
  const service: ElectionService = {
    key: serviceKeyOf(svc),
    ips,
    trafficPolicy: svc.spec?.externalTrafficPolicy === 'Local' ? 'Local' : 'Cluster',
    endpoints: slices.flatMap((s) => s.endpoints),
  };
  return { service, ref: serviceRef(svc) };
}

/** Every Service record, joined with the slices. */
export function toServiceRecords(services: readonly ServiceView[], slices: readonly SliceView[], lbClass: string): readonly ServiceRecord[] {
  const bySvc = slicesByService(slices);
  return services.flatMap((svc) => {
    const own = bySvc.get(serviceKeyOf(svc)) ?? [];
    const record = toServiceRecord(svc, own, lbClass);
    return record === undefined ? [] : [record];
  });
}

/** A Node as election sees it: labels and condition statuses. */
export function toNodeView(node: k8s.V1Node): NodeView {
  const conditions: Record<string, string> = {};
  for (const c of node.status?.conditions ?? []) conditions[c.type] = c.status;
  return { name: (node.metadata?.name ?? '') as NodeName, labels: { ...node.metadata?.labels }, conditions };
}

function timeText(t: Date | string | undefined): string | undefined {
  if (t === undefined) return undefined;
  return t instanceof Date ? t.toISOString() : t;
}

/** A speaker Lease as the speaker reads it, or undefined for other Leases. */
export function toSpeakerLeaseView(lease: k8s.V1Lease): SpeakerLeaseView | undefined {
  const node = nodeOfLease(lease.metadata?.name ?? '');
  if (node === undefined) return undefined;
  const spec = lease.spec ?? {};
  const annotations = lease.metadata?.annotations ?? {};
  const announcing = parseAnnouncing(annotations[announcingAnnotation]).flatMap((ip) => [canonicalIpText(ip) ?? []].flat());
  return {
    node,
    version: lease.metadata?.resourceVersion ?? timeText(spec.renewTime) ?? '',
    holderIdentity: spec.holderIdentity,
    leaseDurationSeconds: spec.leaseDurationSeconds,
    acquireTime: timeText(spec.acquireTime),
    renewTime: timeText(spec.renewTime),
    announcing,
    interfaces: toInterfacesRecord(annotations[interfacesAnnotation]),
    mode: modeOf(lease),
  };
}

/** The liveness mode a speaker Lease was written in (its `ironlb.io/lease` label). */
function modeOf(lease: k8s.V1Lease): LivenessMode {
  return livenessModeOf(lease.metadata?.labels?.[leaseRoleLabel]);
}
