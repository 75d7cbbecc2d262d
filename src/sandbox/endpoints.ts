/**
 * The sandbox's stand-in for the EndpointSlice controller, pure: which slices exist for which
 * Services. The sandbox has no pods; its "pods" are the node backends labelled `app: demo`.
 */

/** The annotation that places a Service's endpoints on chosen nodes (to show externalTrafficPolicy: Local). */
export const endpointNodesAnnotation = 'sandbox.ironlb.io/endpoint-nodes';
/** The label EndpointSlices use to name their Service (discovery.k8s.io/v1). */
export const serviceNameLabel = 'kubernetes.io/service-name';
/** The manager label value that marks slices the sandbox owns. */
export const managedBy = 'sandbox.ironlb.io';
/** The port every backend listens on. */
export const backendPort = 8080;

/** A Service as the rule needs it. */
export interface EndpointServiceView {
  readonly namespace: string;
  readonly name: string;
  readonly selector: Readonly<Record<string, string>>;
  readonly annotations: Readonly<Record<string, string>>;
  readonly ports: readonly { readonly name?: string | undefined; readonly protocol: string; readonly targetPort?: number | string | undefined }[];
}

/** A node that runs a backend. */
export interface BackendNode {
  readonly name: string;
  readonly ip: string;
}

/** A discovery.k8s.io/v1 EndpointSlice, as plain data. */
export interface EndpointSliceBody {
  readonly apiVersion: 'discovery.k8s.io/v1';
  readonly kind: 'EndpointSlice';
  readonly metadata: { readonly name: string; readonly namespace: string; readonly labels: Readonly<Record<string, string>> };
  readonly addressType: 'IPv4' | 'IPv6';
  readonly endpoints: readonly {
    readonly addresses: readonly string[];
    readonly nodeName: string;
    readonly conditions: { readonly ready: true; readonly serving: true; readonly terminating: false };
  }[];
  readonly ports: readonly { readonly name?: string; readonly port: number; readonly protocol: string }[];
}

function selects(selector: Readonly<Record<string, string>>, labels: Readonly<Record<string, string>>): boolean {
  const entries = Object.entries(selector);
  // A Service without a selector manages its own endpoints (Kubernetes semantics).
  return entries.length > 0 && entries.every(([k, v]) => labels[k] === v);
}

function placedNodes(svc: EndpointServiceView, nodes: readonly BackendNode[]): readonly BackendNode[] {
  const raw = svc.annotations[endpointNodesAnnotation];
  if (raw === undefined) return nodes;
  const wanted = new Set(raw.split(',').map((s) => s.trim()).filter((s) => s !== ''));
  return nodes.filter((n) => wanted.has(n.name));
}

/**
 * The one slice a Service gets, or undefined when its selector does not match the backends.
 * Endpoints: the backend nodes (all, or those the annotation names), ready and serving.
 * Ports: the Service's targetPort when numeric, else the backend port 8080 (named ports all
 * resolve to the one backend).
 */
export function desiredEndpointSlice(
  svc: EndpointServiceView,
  backendLabels: Readonly<Record<string, string>>,
  nodes: readonly BackendNode[],
): EndpointSliceBody | undefined {
  if (!selects(svc.selector, backendLabels)) return undefined;
  const placed = placedNodes(svc, nodes);
  const addressType = placed.some((n) => n.ip.includes(':')) ? 'IPv6' : 'IPv4';
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: {
      name: svc.name,
      namespace: svc.namespace,
      labels: { [serviceNameLabel]: svc.name, 'endpointslice.kubernetes.io/managed-by': managedBy },
    },
    addressType,
    endpoints: placed.map((n) => ({ addresses: [n.ip], nodeName: n.name, conditions: { ready: true, serving: true, terminating: false } })),
    ports: svc.ports.map((p) => ({
      ...(p.name === undefined ? {} : { name: p.name }),
      port: typeof p.targetPort === 'number' ? p.targetPort : backendPort,
      protocol: p.protocol,
    })),
  };
}
