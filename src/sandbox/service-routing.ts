/**
 * The kube-proxy stand-in's decision, pure: from the Services this node sees, which Service IPs
 * go on its dummy interface and which TCP listeners forward where.
 */

/** One Service port as the stand-in needs it. */
export interface ServicePortView {
  readonly port: number;
  readonly protocol: string;
  /** Where backends listen (the endpoint port). */
  readonly targetPort: number;
}

/** A LoadBalancer Service reduced to what routing needs. */
export interface ServiceRouteView {
  /** `namespace/name`. */
  readonly key: string;
  readonly ingressIps: readonly string[];
  readonly ports: readonly ServicePortView[];
  /** Nodes with a ready endpoint for this Service. */
  readonly endpointNodes: readonly string[];
}

/** Where a listener sends its connections. */
export interface ProxyTarget {
  readonly node: string;
  readonly host: string;
  readonly port: number;
}

/** One TCP listener on a Service IP and port. */
export interface ProxyListener {
  readonly service: string;
  readonly ip: string;
  readonly port: number;
  readonly target: ProxyTarget;
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
  readonly reason: 'notTcp' | 'noEndpoints' | 'unknownNodeIp';
}

function pickTarget(self: string, endpointNodes: readonly string[], nodeIps: ReadonlyMap<string, string>): string | undefined {
  if (endpointNodes.includes(self) && nodeIps.has(self)) return self;
  // Deterministic: every run picks the same remote node.
  return [...endpointNodes].sort().find((node) => nodeIps.has(node));
}

/**
 * Every Service IP goes on the dummy (a node accepts traffic for every Service, as with kube-proxy);
 * each TCP port forwards to this node's backend when it has an endpoint, else to the first
 * other node (by name) that has one. Ports of Services with no endpoints get no listener, so
 * connections are refused, as kube-proxy rejects them.
 */
export function desiredRouting(
  self: string,
  services: readonly ServiceRouteView[],
  nodeIps: ReadonlyMap<string, string>,
): { readonly routing: DesiredRouting; readonly skipped: readonly RoutingSkip[] } {
  const ips = new Set<string>();
  const listeners: ProxyListener[] = [];
  const skipped: RoutingSkip[] = [];
  for (const svc of services) {
    for (const ip of svc.ingressIps) ips.add(ip);
    const node = pickTarget(self, svc.endpointNodes, nodeIps);
    if (node === undefined) {
      skipped.push({ service: svc.key, reason: svc.endpointNodes.length === 0 ? 'noEndpoints' : 'unknownNodeIp' });
      continue;
    }
    const host = nodeIps.get(node) ?? '';
    for (const p of svc.ports) {
      if (p.protocol !== 'TCP') {
        skipped.push({ service: svc.key, reason: 'notTcp' });
        continue;
      }
      for (const ip of svc.ingressIps) listeners.push({ service: svc.key, ip, port: p.port, target: { node, host, port: p.targetPort } });
    }
  }
  listeners.sort((a, b) => (a.ip === b.ip ? a.port - b.port : a.ip < b.ip ? -1 : 1));
  return { routing: { serviceIps: [...ips].sort(), listeners }, skipped };
}

/** The key a listener is known by: `ip` and port, bracketed for IPv6. */
export function listenerKey(l: { readonly ip: string; readonly port: number }): string {
  return l.ip.includes(':') ? `[${l.ip}]:${l.port}` : `${l.ip}:${l.port}`;
}
