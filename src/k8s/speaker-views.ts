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
  return { ...(e.nodeName === undefined ? {} : { nodeName: e.nodeName as NodeName }), ready, serving, terminating };
}

/** `namespace/service` -> its slices. */
export function slicesByService(slices: readonly k8s.V1EndpointSlice[]): ReadonlyMap<string, readonly k8s.V1EndpointSlice[]> {
  const out = new Map<string, k8s.V1EndpointSlice[]>();
  for (const slice of slices) {
    const name = slice.metadata?.labels?.[serviceNameLabel];
    if (name === undefined) continue;
    const key = `${slice.metadata?.namespace ?? 'default'}/${name}`;
    const list = out.get(key);
    if (list === undefined) out.set(key, [slice]);
    else list.push(slice);
  }
  return out;
}

/**
 * A LoadBalancer Service with ingress IPs, as election sees it, or undefined when the speaker
 * has nothing to do with it (other type, other loadBalancerClass, no IPs yet).
 */
export function toServiceRecord(svc: ServiceView, slices: readonly k8s.V1EndpointSlice[], lbClass: string): ServiceRecord | undefined {
  if (!isOurs(svc, lbClass)) return undefined;
  const ips = ingressIpTexts(svc);
  if (ips.length === 0) return undefined;
  const service: ElectionService = {
    key: serviceKeyOf(svc),
    ips,
    trafficPolicy: svc.spec?.externalTrafficPolicy === 'Local' ? 'Local' : 'Cluster',
    endpoints: slices.flatMap((s) => s.endpoints.map(toEndpointView)),
  };
  return { service, ref: serviceRef(svc) };
}

/** Every Service record, joined with the slices. */
export function toServiceRecords(services: readonly k8s.V1Service[], slices: readonly k8s.V1EndpointSlice[], lbClass: string): readonly ServiceRecord[] {
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
