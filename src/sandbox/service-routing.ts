/**
 * The kube-proxy stand-in's decision, pure: from the Services and their ready endpoints, which
 * Service IPs go on this node's dummy interface and which TCP listeners forward to which Pods
 * (https://kubernetes.io/docs/reference/networking/virtual-ips/).
 */

/** One ready endpoint of a Service port: a Pod address and its resolved port. */
export interface Backend {
  readonly host: string;
  readonly port: number;
  /** The endpoint's nodeName (externalTrafficPolicy: Local keeps this node's only). */
  readonly node: string | undefined;
}

/** The EndpointSlice conditions of an endpoint, with the API's rules for nil already applied. */
export interface EndpointConditionsView {
  readonly ready: boolean;
  readonly serving: boolean;
  readonly terminating: boolean;
}

/** An endpoint of a Service port with its conditions (absent: ready). */
export interface EndpointBackend extends Backend {
  readonly conditions?: EndpointConditionsView;
}

/**
 * The endpoints kube-proxy sends to, out of `candidates`: the ready ones; when none is ready,
 * the terminating ones that still serve (kube-proxy's ProxyTerminatingEndpoints, KEP-1669,
 * https://kubernetes.io/docs/concepts/services-networking/endpoint-slices/#conditions). Applied to
 * all endpoints for cluster traffic and to this node's for `externalTrafficPolicy: Local`.
 */
export function usableBackends(candidates: readonly EndpointBackend[]): Backend[] {
  const ready = candidates.filter((b) => b.conditions?.ready ?? true);
  const chosen = ready.length > 0 ? ready : candidates.filter((b) => b.conditions !== undefined && b.conditions.serving && b.conditions.terminating);
  return chosen.map((b) => ({ host: b.host, port: b.port, node: b.node }));
}

/** One Service port as the stand-in needs it. */
export interface ServicePortView {
  readonly port: number;
  readonly protocol: string;
  /** The allocated node port (NodePort and LoadBalancer Services), if any. */
  readonly nodePort?: number;
  /** Every endpoint of this port with its conditions; routing picks the usable ones. */
  readonly backends: readonly EndpointBackend[];
}

/** A Service reduced to what routing needs. */
export interface ServiceRouteView {
  /** `namespace/name`. */
  readonly key: string;
  /** ClusterIPs (none for headless Services). */
  readonly clusterIps: readonly string[];
  /** `status.loadBalancer.ingress` IPs of a LoadBalancer Service. */
  readonly ingressIps: readonly string[];
  /** `externalTrafficPolicy: Local`: LoadBalancer and NodePort traffic goes to this node's endpoints only. */
  readonly externalLocal: boolean;
  readonly ports: readonly ServicePortView[];
}

/** Where a listener sends its connections: one of the backends per connection, in turn. */
export type ProxyTarget = readonly Backend[];

/** One TCP listener on a Service IP (or this node's address, for a node port) and port. */
export interface ProxyListener {
  readonly service: string;
  readonly ip: string;
  readonly port: number;
  readonly targets: ProxyTarget;
}

/** What the node should have: addresses on the dummy, listeners with targets. */
export interface DesiredRouting {
  /** Sorted, unique. */
  readonly serviceIps: readonly string[];
  /** Sorted by ip then port. */
  readonly listeners: readonly ProxyListener[];
}

/** Why a Service port got no listener: logged at debug by the shell. */
export interface RoutingSkip {
  readonly service: string;
  readonly reason: 'notTcp' | 'noEndpoints' | 'noLocalEndpoints';
}

function externalTargets(svc: ServiceRouteView, p: ServicePortView, self: string, cluster: ProxyTarget): ProxyTarget {
  return svc.externalLocal ? usableBackends(p.backends.filter((b) => b.node === self)) : cluster;
}

function portListeners(svc: ServiceRouteView, p: ServicePortView, self: string, selfIps: readonly string[], skipped: RoutingSkip[]): ProxyListener[] {
  if (p.protocol !== 'TCP') {
    skipped.push({ service: svc.key, reason: 'notTcp' });
    return [];
  }
  const cluster = usableBackends(p.backends);
  if (cluster.length === 0) {
    skipped.push({ service: svc.key, reason: 'noEndpoints' });
    return [];
  }
  const out: ProxyListener[] = svc.clusterIps.map((ip) => ({ service: svc.key, ip, port: p.port, targets: cluster }));
  const external = externalTargets(svc, p, self, cluster);
  if (external.length === 0) {
    skipped.push({ service: svc.key, reason: 'noLocalEndpoints' });
    return out;
  }
  for (const ip of svc.ingressIps) out.push({ service: svc.key, ip, port: p.port, targets: external });
  const nodePort = p.nodePort;
  if (nodePort !== undefined) for (const ip of selfIps) out.push({ service: svc.key, ip, port: nodePort, targets: external });
  return out;
}

/**
 * Every ClusterIP and LoadBalancer IP goes on the dummy (a node accepts traffic for every
 * Service, as with kube-proxy in IPVS mode). Each TCP port of a Service with usable endpoints
 * (`usableBackends`) gets a listener on each ClusterIP (to all endpoints), each ingress IP and this node's own
 * addresses at the node port (to all endpoints, or only this node's with
 * `externalTrafficPolicy: Local`). A port with no endpoint to send to gets no listener, so
 * connections are refused, as kube-proxy rejects them.
 */
export function desiredRouting(
  self: string,
  selfIps: readonly string[],
  services: readonly ServiceRouteView[],
): { readonly routing: DesiredRouting; readonly skipped: readonly RoutingSkip[] } {
  const ips = new Set<string>();
  const listeners: ProxyListener[] = [];
  const skipped: RoutingSkip[] = [];
  for (const svc of services) {
    for (const ip of [...svc.clusterIps, ...svc.ingressIps]) ips.add(ip);
    for (const p of svc.ports) listeners.push(...portListeners(svc, p, self, selfIps, skipped));
  }
  listeners.sort((a, b) => (a.ip === b.ip ? a.port - b.port : a.ip < b.ip ? -1 : 1));
  return { routing: { serviceIps: [...ips].sort(), listeners }, skipped };
}

/** The key a listener is known by: `ip` and port, bracketed for IPv6. */
export function listenerKey(l: { readonly ip: string; readonly port: number }): string {
  return l.ip.includes(':') ? `[${l.ip}]:${l.port}` : `${l.ip}:${l.port}`;
}
