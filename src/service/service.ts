import { formatIp, ipEquals, parseIp, type IpAddr } from '../ip/ip-addr.js';
import { serviceKey, type ServiceKey } from '../shared/brand.js';
import type { ObjectRef } from '../shared/event-sink.js';

/**
 * What a Kubernetes Service means to ironlb, in one place for the controller and the speaker
 * (MetalLB keeps the same facts in its `k8salloc` adapter): whether it is ours, its key and
 * object reference, and the IPs its status holds. The conversion to the allocator's request is
 * beside it in `service-request.ts`.
 */

/** The class ironlb answers to (`spec.loadBalancerClass`, DESIGN.md); `--lb-class` overrides it. */
export const defaultLoadBalancerClass = 'ironlb.io/layer2';

/**
 * The structural shape of a Kubernetes Service that ironlb reads. client-node's V1Service fits
 * it, and so does a Service decoded from JSON, so the cores never import the Kubernetes client.
 */
export interface ServiceView {
  readonly metadata?: {
    readonly namespace?: string | undefined;
    readonly name?: string | undefined;
    readonly uid?: string | undefined;
    readonly resourceVersion?: string | undefined;
    readonly creationTimestamp?: Date | string | null | undefined;
    readonly annotations?: Readonly<Record<string, string>> | null | undefined;
  } | undefined;
  readonly spec?: {
    readonly type?: string | undefined;
    readonly loadBalancerClass?: string | null | undefined;
    readonly loadBalancerIP?: string | null | undefined;
    readonly ports?: readonly { readonly port: number; readonly protocol?: string | null | undefined }[] | null | undefined;
    readonly externalTrafficPolicy?: string | null | undefined;
    readonly selector?: Readonly<Record<string, string>> | null | undefined;
    readonly ipFamilies?: readonly string[] | null | undefined;
    readonly ipFamilyPolicy?: string | null | undefined;
  } | undefined;
  readonly status?: {
    readonly loadBalancer?: { readonly ingress?: readonly { readonly ip?: string | undefined }[] | null | undefined } | null | undefined;
  } | undefined;
}

/**
 * The Service's class, with `""` read as no class. kube-apiserver refuses an empty class
 * (`spec.loadBalancerClass` must be a qualified name, KEP-1959), so `""` only comes from a
 * client that writes an unset string as empty; it means "no class", which ironlb serves.
 */
function classOf(svc: ServiceView): string | undefined {
  const cls = svc.spec?.loadBalancerClass;
  return cls === undefined || cls === null || cls === '' ? undefined : cls;
}

/** Whether ironlb serves this Service: type LoadBalancer, and no class or ours (`lbClass`). */
export function isOurs(svc: ServiceView, lbClass: string): boolean {
  if (svc.spec?.type !== 'LoadBalancer') return false;
  const cls = classOf(svc);
  return cls === undefined || cls === lbClass;
}

/** A foreign class: another load balancer implementation owns this Service, status included. */
export function isForeign(svc: ServiceView, lbClass: string): boolean {
  const cls = classOf(svc);
  return cls !== undefined && cls !== lbClass;
}

/** The Service's namespace; an object without one is read as in `default`, as kubectl does. */
function namespaceOf(svc: ServiceView): string {
  return svc.metadata?.namespace ?? 'default';
}

/** The Service's key, `namespace/name`. */
export function serviceKeyOf(svc: ServiceView): ServiceKey {
  return serviceKey(namespaceOf(svc), svc.metadata?.name ?? '');
}

/** The reference Events about the Service point at. */
export function serviceRef(svc: ServiceView): ObjectRef {
  const uid = svc.metadata?.uid;
  return { apiVersion: 'v1', kind: 'Service', namespace: namespaceOf(svc), name: svc.metadata?.name ?? '', ...(uid === undefined ? {} : { uid }) };
}

/** Identifies the Service version a decision was made on (optimistic concurrency). */
export interface ServiceVersion {
  readonly namespace: string;
  readonly name: string;
  readonly resourceVersion: string;
}

/** The version a status write is made on. */
export function serviceVersion(svc: ServiceView): ServiceVersion {
  return { namespace: namespaceOf(svc), name: svc.metadata?.name ?? '', resourceVersion: svc.metadata?.resourceVersion ?? '' };
}

/**
 * The entries of `status.loadBalancer.ingress` exactly as written, in order: what the
 * controller compares its decision with before it writes (a non-canonical or stray entry is a
 * reason to write).
 */
export function statusIps(svc: ServiceView): readonly string[] {
  return (svc.status?.loadBalancer?.ingress ?? []).map((i) => i.ip ?? '').filter((ip) => ip !== '');
}

/**
 * The IPs the Service holds: its ingress entries that parse as IPs, in status order, without
 * duplicates. Hostnames and unparsable entries are skipped: they are not ours.
 */
export function ingressIps(svc: ServiceView): readonly IpAddr[] {
  const out: IpAddr[] = [];
  for (const text of statusIps(svc)) {
    const ip = parseIp(text.trim());
    if (ip.ok && !out.some((o) => ipEquals(o, ip.value))) out.push(ip.value);
  }
  return out;
}

/** {@link ingressIps} as canonical text (RFC 5952 for IPv6). */
export function ingressIpTexts(svc: ServiceView): readonly string[] {
  return ingressIps(svc).map(formatIp);
}
