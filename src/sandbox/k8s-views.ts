import type * as k8s from '@kubernetes/client-node';
import { serviceNameLabel, type EndpointServiceView } from './endpoints.js';
import type { ServicePortView, ServiceRouteView } from './service-routing.js';

/** The thin adapter between Kubernetes objects and the sandbox's pure views. */

function keyOf(namespace: string | undefined, name: string | undefined): string {
  return `${namespace ?? 'default'}/${name ?? ''}`;
}

function slicesByService(slices: readonly k8s.V1EndpointSlice[]): Map<string, k8s.V1EndpointSlice[]> {
  const out = new Map<string, k8s.V1EndpointSlice[]>(); // namespace/service -> slices
  for (const s of slices) {
    const svc = s.metadata?.labels?.[serviceNameLabel];
    if (svc === undefined) continue;
    const key = keyOf(s.metadata?.namespace, svc);
    out.set(key, [...(out.get(key) ?? []), s]);
  }
  return out;
}

function readyNodes(slices: readonly k8s.V1EndpointSlice[]): string[] {
  const nodes = new Set<string>();
  for (const s of slices) {
    for (const e of s.endpoints) {
      // Kubernetes: a nil `ready` means ready.
      if (e.conditions?.ready !== false && e.nodeName !== undefined) nodes.add(e.nodeName);
    }
  }
  return [...nodes].sort();
}

function targetPortOf(p: k8s.V1ServicePort, slices: readonly k8s.V1EndpointSlice[], fallback: number): number {
  const fromSlice = slices.flatMap((s) => s.ports ?? []).find((sp) => (sp.name ?? '') === (p.name ?? ''))?.port;
  if (fromSlice !== undefined) return fromSlice;
  return typeof p.targetPort === 'number' ? p.targetPort : fallback;
}

function ingressIpsOf(svc: k8s.V1Service): string[] {
  if (svc.spec?.type !== 'LoadBalancer') return [];
  return (svc.status?.loadBalancer?.ingress ?? []).flatMap((i) => (i.ip === undefined ? [] : [i.ip]));
}

function portViews(svc: k8s.V1Service, own: readonly k8s.V1EndpointSlice[], backendPort: number): ServicePortView[] {
  return (svc.spec?.ports ?? []).map((p) => ({ port: p.port, protocol: p.protocol ?? 'TCP', targetPort: targetPortOf(p, own, backendPort) }));
}

/** LoadBalancer Services with ingress IPs, joined with their EndpointSlices. */
export function toServiceRouteViews(services: readonly k8s.V1Service[], slices: readonly k8s.V1EndpointSlice[], backendPort: number): ServiceRouteView[] {
  const bySvc = slicesByService(slices);
  return services.flatMap((svc) => {
    const ingressIps = ingressIpsOf(svc);
    if (ingressIps.length === 0) return [];
    const key = keyOf(svc.metadata?.namespace, svc.metadata?.name);
    const own = bySvc.get(key) ?? [];
    return [{ key, ingressIps, ports: portViews(svc, own, backendPort), endpointNodes: readyNodes(own) }];
  });
}

/** A Service as the EndpointSlice rule sees it. */
export function toEndpointServiceView(svc: k8s.V1Service): EndpointServiceView {
  const meta = svc.metadata ?? {};
  const spec = svc.spec ?? {};
  return {
    namespace: meta.namespace ?? 'default',
    name: meta.name ?? '',
    selector: spec.selector ?? {},
    annotations: meta.annotations ?? {},
    ports: (spec.ports ?? []).map((p) => ({ name: p.name, protocol: p.protocol ?? 'TCP', targetPort: p.targetPort })),
  };
}
