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
 * The node checks of one election, made once for every known node and shared by every Service
 * (docs/election.md, "Cost"): what `serviceEligibility` would find for a node before the traffic
 * policy is looked at.
 */
export interface NodeJudgement {
  /** Every node election knows of ({@link knownNodes}), sorted. */
  readonly known: readonly NodeName[];
  /** Why `node` fails the node checks ({@link nodeIneligibility}); undefined: it passes. */
  reasonOf(node: NodeName): IneligibleReason | undefined;
  /** Known nodes that pass the node checks, sorted: a `Cluster` Service's eligible nodes. */
  readonly passing: readonly NodeName[];
  /** Known nodes that fail them and why, sorted: a `Cluster` Service's ineligible nodes. */
  readonly failing: readonly Ineligible[];
}

/** Judges every known node once: O(nodes) per election, whatever the number of Services. */
export function judgeNodes(cluster: ClusterView): NodeJudgement {
  const known = knownNodes(cluster);
  // node -> its reason, undefined when it passes
  const reasons = new Map<NodeName, IneligibleReason | undefined>();
  const passing: NodeName[] = [];
  const failing: Ineligible[] = [];
  for (const node of known) {
    const reason = nodeIneligibility(node, cluster);
    reasons.set(node, reason);
    if (reason === undefined) passing.push(node);
    else failing.push({ node, reason });
  }
  // An unknown node has no live speaker: nodeIneligibility says so without a lookup table.
  return { known, reasonOf: (node) => (reasons.has(node) ? reasons.get(node) : nodeIneligibility(node, cluster)), passing, failing };
}

/**
 * A Service's eligibility over judged nodes, with the ineligible list computed only when asked
 * (it is read only when nobody may announce): `Cluster` shares the judgement's lists, `Local`
 * looks only at the nodes of its usable endpoints.
 */
export type JudgedEligibility =
  | { readonly kind: 'noEndpoints' }
  | { readonly kind: 'judged'; readonly eligible: readonly NodeName[]; ineligible(): readonly Ineligible[] };

/** {@link serviceEligibility} over a {@link NodeJudgement}: O(the Service's endpoints), not O(nodes). */
export function judgeService(service: ElectionService, nodes: NodeJudgement): JudgedEligibility {
  const usable = usableEndpoints(service.endpoints);
  if (usable.length === 0) return { kind: 'noEndpoints' };
  if (service.trafficPolicy !== 'Local') return { kind: 'judged', eligible: nodes.passing, ineligible: () => nodes.failing };
  const local = new Set(usable.flatMap((e) => (e.nodeName === undefined ? [] : [e.nodeName])));
  // A node passes the node checks only if its speaker is alive, so it is known.
  const eligible = [...local].filter((node) => nodes.reasonOf(node) === undefined).sort(compareStrings);
  const ineligible = (): readonly Ineligible[] =>
    nodes.known.flatMap((node): Ineligible[] => {
      const reason = nodes.reasonOf(node) ?? (local.has(node) ? undefined : 'noLocalEndpoints');
      return reason === undefined ? [] : [{ node, reason }];
    });
  return { kind: 'judged', eligible, ineligible };
}

/**
 * The nodes that may announce `service`'s IPs. `Cluster`: every node that passes the node
 * checks, once the Service has a usable endpoint anywhere. `Local`: those that also run a
 * usable endpoint themselves. `nodes` may be passed in when judging many Services at once.
 */
export function serviceEligibility(service: ElectionService, cluster: ClusterView, nodes: NodeJudgement = judgeNodes(cluster)): ServiceEligibility {
  const judged = judgeService(service, nodes);
  return judged.kind === 'noEndpoints' ? judged : { kind: 'judged', eligible: judged.eligible, ineligible: judged.ineligible() };
}

/** Code-unit order, the same in every speaker whatever its locale. */
export function compareStrings(a: string, b: string): number {
  if (a < b) return -1;
  return a > b ? 1 : 0;
}
