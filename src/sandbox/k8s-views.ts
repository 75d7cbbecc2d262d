import type * as k8s from '@kubernetes/client-node';
import type { EndpointBackend, EndpointConditionsView, ServicePortView, ServiceRouteView } from './service-routing.js';
import { serviceNameLabel } from './workloads/pod-endpoints.js';

/** The thin adapter between Kubernetes objects and the kube-proxy stand-in's pure views. */

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

/**
 * An endpoint's conditions with the API's rules for nil: `ready` nil is ready, `serving` nil
 * defers to `ready`, `terminating` nil is false (discovery.k8s.io/v1 EndpointConditions).
 */
function conditionsOf(e: k8s.V1Endpoint): EndpointConditionsView {
  const ready = e.conditions?.ready ?? true;
  return { ready, serving: e.conditions?.serving ?? ready, terminating: e.conditions?.terminating ?? false };
}

/** Every endpoint of one Service port with its conditions, at the port each slice resolved for it (by port name). */
function backendsOf(p: k8s.V1ServicePort, slices: readonly k8s.V1EndpointSlice[]): EndpointBackend[] {
  const out: EndpointBackend[] = [];
  for (const s of slices) {
    const port = (s.ports ?? []).find((sp) => (sp.name ?? '') === (p.name ?? ''))?.port;
    if (port === undefined) continue;
    for (const e of s.endpoints) out.push(...e.addresses.map((host) => ({ host, port, node: e.nodeName, conditions: conditionsOf(e) })));
  }
  return out.sort((a, b) => (a.host === b.host ? a.port - b.port : a.host < b.host ? -1 : 1));
}

function ingressIpsOf(svc: k8s.V1Service): string[] {
  if (svc.spec?.type !== 'LoadBalancer') return [];
  return (svc.status?.loadBalancer?.ingress ?? []).flatMap((i) => (i.ip === undefined ? [] : [i.ip]));
}

function clusterIpsOf(svc: k8s.V1Service): string[] {
  const ips = svc.spec?.clusterIPs ?? (svc.spec?.clusterIP === undefined ? [] : [svc.spec.clusterIP]);
  return ips.filter((ip) => ip !== '' && ip !== 'None');
}

function portViews(svc: k8s.V1Service, own: readonly k8s.V1EndpointSlice[]): ServicePortView[] {
  return (svc.spec?.ports ?? []).map((p) => ({
    port: p.port,
    protocol: p.protocol ?? 'TCP',
    ...(p.nodePort === undefined ? {} : { nodePort: p.nodePort }),
    backends: backendsOf(p, own),
  }));
}

/** Services joined with their EndpointSlices (ExternalName Services have nothing to route). */
export function toServiceRouteViews(services: readonly k8s.V1Service[], slices: readonly k8s.V1EndpointSlice[]): ServiceRouteView[] {
  const bySvc = slicesByService(slices);
  return services.flatMap((svc) => {
    if (svc.spec?.type === 'ExternalName') return [];
    const key = keyOf(svc.metadata?.namespace, svc.metadata?.name);
    const own = bySvc.get(key) ?? [];
    return [{ key, clusterIps: clusterIpsOf(svc), ingressIps: ingressIpsOf(svc), externalLocal: svc.spec?.externalTrafficPolicy === 'Local', ports: portViews(svc, own) }];
  });
}
