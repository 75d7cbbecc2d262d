import type { ServiceShape } from '../ipam/service-request.js';

/** The class ironlb answers to (`spec.loadBalancerClass`); `--lb-class` overrides it. */
export const defaultLoadBalancerClass = 'ironlb.io/layer2';

/**
 * A Service as the controller reads it: the allocator's ServiceShape plus identity, type,
 * class and the status it may write. client-node's V1Service fits it structurally, so the
 * core never imports the Kubernetes client.
 */
export interface ServiceView extends ServiceShape {
  readonly metadata?: ServiceShape['metadata'] & {
    readonly uid?: string | undefined;
    readonly resourceVersion?: string | undefined;
  };
  readonly spec?: ServiceShape['spec'] & {
    readonly type?: string | undefined;
    readonly loadBalancerClass?: string | null | undefined;
  };
}

/** The config ConfigMap as the controller reads it. */
export interface ConfigMapView {
  readonly metadata?: { readonly name?: string | undefined; readonly namespace?: string | undefined; readonly uid?: string | undefined } | undefined;
  readonly data?: Readonly<Record<string, string>> | undefined;
}

/** Whether ironlb serves this Service: type LoadBalancer, and no class or ours. */
export function isOurs(svc: ServiceView, lbClass: string): boolean {
  if (svc.spec?.type !== 'LoadBalancer') return false;
  const cls = svc.spec.loadBalancerClass;
  return cls === undefined || cls === null || cls === lbClass;
}

/** A foreign class: another load balancer implementation owns this Service, status included. */
export function isForeign(svc: ServiceView, lbClass: string): boolean {
  const cls = svc.spec?.loadBalancerClass;
  return cls !== undefined && cls !== null && cls !== lbClass;
}

/** The IPs written in `status.loadBalancer.ingress`, in order. */
export function statusIps(svc: ServiceView): readonly string[] {
  return (svc.status?.loadBalancer?.ingress ?? []).map((i) => i.ip ?? '').filter((ip) => ip !== '');
}
