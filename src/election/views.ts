import type { NodeName, ServiceKey } from '../shared/brand.js';

/**
 * What election needs of a Node: its name, labels and conditions. The k8s/ adapter builds it
 * from a V1Node; nothing else of the Node is read.
 */
export interface NodeView {
  readonly name: NodeName;
  /** label key -> value */
  readonly labels: Readonly<Record<string, string>>;
  /** condition type -> status ('True' | 'False' | 'Unknown'), as on `status.conditions`. */
  readonly conditions: Readonly<Record<string, string>>;
}

/**
 * One endpoint of a Service, from its EndpointSlices. The adapter maps the API's nil
 * conditions as the EndpointSlice API says: nil `ready` and nil `serving` mean true unless the
 * endpoint is terminating; nil `terminating` means false.
 */
export interface EndpointView {
  /** The node the endpoint runs on; absent for endpoints outside the cluster. */
  readonly nodeName?: NodeName;
  readonly ready: boolean;
  readonly serving: boolean;
  readonly terminating: boolean;
}

/** `spec.externalTrafficPolicy`; the API defaults it to Cluster. */
export type TrafficPolicy = 'Local' | 'Cluster';

/**
 * A Service as election sees it: its key, the ingress IPs our controller wrote to its status
 * (canonical strings: IPv4 dotted quad, IPv6 RFC 5952 lower-case compressed; order as in the
 * status, so the first one is the first family) and its traffic policy.
 */
export interface ElectionService {
  readonly key: ServiceKey;
  readonly ips: readonly string[];
  readonly trafficPolicy: TrafficPolicy;
  /** All endpoints of the Service, merged over its EndpointSlices. */
  readonly endpoints: readonly EndpointView[];
}

/** The Node label that keeps a node from announcing (Kubernetes well-known label). */
export const excludeLabel = 'node.kubernetes.io/exclude-from-external-load-balancers';
