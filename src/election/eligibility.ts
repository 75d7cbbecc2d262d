import type { NodeName } from '../shared/brand.js';
import type { NodeReach } from './reach.js';
import { excludeLabel, type ElectionService, type EndpointView, type NodeView } from './views.js';

/** Why a node may not announce a Service's IPs. */
export type IneligibleReason =
  /** Its speaker Lease is not alive (judged by liveness.ts), whatever its endpoints say. */
  | 'speakerDead'
  /** A speaker Lease is alive but there is no Node object of that name. */
  | 'nodeUnknown'
  /** The node carries `node.kubernetes.io/exclude-from-external-load-balancers`. */
  | 'excludedByLabel'
  /** The node has condition `NetworkUnavailable=True`. */
  | 'networkUnavailable'
  /** `externalTrafficPolicy: Local` and no usable endpoint runs on the node. */
  | 'noLocalEndpoints'
  /**
   * The node published no interface whose prefix contains the IP while another alive node did
   * (reach.ts): announcing from it would reach no client on the IP's subnet.
   */
  | 'noInterface';

/** Switches that change who may announce. */
export interface EligibilityOptions {
  /**
   * Ignore the exclude-from-external-load-balancers label: for single-node and
   * control-plane-only clusters, where kubeadm puts it on every node (MetalLB #2274).
   */
  readonly ignoreExcludeLabel: boolean;
}

/** The cluster-wide facts eligibility is judged against. */
export interface ClusterView {
  /** node name -> view */
  readonly nodes: ReadonlyMap<NodeName, NodeView>;
  /** Nodes whose speaker Lease is alive (liveness.ts). */
  readonly alive: ReadonlySet<NodeName>;
  /**
   * node -> the prefixes its speaker published (reach.ts). A node missing here is of unknown
   * reach and counts as reaching every IP; leaving the map out judges every node so.
   */
  readonly reach?: ReadonlyMap<NodeName, NodeReach>;
  readonly options: EligibilityOptions;
}

/** A node that may not announce, and why (for the "no node eligible" log line). */
export interface Ineligible {
  readonly node: NodeName;
  readonly reason: IneligibleReason;
}

/** The nodes a Service may be announced from. */
export type ServiceEligibility =
  /** No usable endpoint anywhere: announcing would only attract traffic that goes nowhere. */
  | { readonly kind: 'noEndpoints' }
  /** Both lists sorted by node name; `eligible` may be empty. */
  | { readonly kind: 'judged'; readonly eligible: readonly NodeName[]; readonly ineligible: readonly Ineligible[] };

/**
 * The endpoints that can take traffic: the ready ones, or, when none is ready anywhere, the
 * serving ones (terminating but still serving). This is kube-proxy's fallback for terminating
 * endpoints (KEP-1669): during a rolling update that drains the last ready pod, traffic keeps
 * flowing to pods that still serve rather than being dropped.
 */
export function usableEndpoints(endpoints: readonly EndpointView[]): readonly EndpointView[] {
  const ready = endpoints.filter((e) => e.ready);
  if (ready.length > 0) return ready;
  return endpoints.filter((e) => e.serving);
}

/**
 * Why `name` may not announce for a Service (undefined: it may), node-level checks only.
 * Liveness comes first: a dead speaker's node is out whatever its endpoints say (MetalLB
 * #298, #767: endpoints stay ready ~40 s after a node dies).
 */
export function nodeIneligibility(name: NodeName, cluster: ClusterView): IneligibleReason | undefined {
  if (!cluster.alive.has(name)) return 'speakerDead';
  const node = cluster.nodes.get(name);
  if (node === undefined) return 'nodeUnknown';
  if (!cluster.options.ignoreExcludeLabel && Object.hasOwn(node.labels, excludeLabel)) return 'excludedByLabel';
  if (node.conditions['NetworkUnavailable'] === 'True') return 'networkUnavailable';
  return undefined;
}

/** Every node election knows of (Node objects and live speakers), sorted by name. */
export function knownNodes(cluster: ClusterView): readonly NodeName[] {
  const names = new Set<NodeName>([...cluster.nodes.keys(), ...cluster.alive]);
  return [...names].sort(compareStrings);
}

/**
 * The nodes that may announce `service`'s IPs. `Cluster`: every node that passes the node
 * checks, once the Service has a usable endpoint anywhere. `Local`: those that also run a
 * usable endpoint themselves. `known` may be passed in when judging many Services at once.
 */
export function serviceEligibility(
  service: ElectionService,
  cluster: ClusterView,
  known: readonly NodeName[] = knownNodes(cluster),
): ServiceEligibility {
  const usable = usableEndpoints(service.endpoints);
  if (usable.length === 0) return { kind: 'noEndpoints' };
  const local = new Set(usable.flatMap((e) => (e.nodeName === undefined ? [] : [e.nodeName])));
  const eligible: NodeName[] = [];
  const ineligible: Ineligible[] = [];
  for (const node of known) {
    let reason = nodeIneligibility(node, cluster);
    if (reason === undefined && service.trafficPolicy === 'Local' && !local.has(node)) reason = 'noLocalEndpoints';
    if (reason === undefined) eligible.push(node);
    else ineligible.push({ node, reason });
  }
  return { kind: 'judged', eligible, ineligible };
}

/** Code-unit order, the same in every speaker whatever its locale. */
export function compareStrings(a: string, b: string): number {
  if (a < b) return -1;
  return a > b ? 1 : 0;
}
