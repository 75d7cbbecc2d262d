import type { NodeName, ServiceKey } from '../shared/brand.js';
import { compareStrings, type EligibilityOptions, type Ineligible } from '../election/eligibility.js';
import { electOwners } from '../election/election.js';
import type { NodeReach } from '../election/reach.js';
import type { RendezvousMemo } from '../election/rendezvous-memo.js';
import type { HashFn } from '../election/rendezvous.js';
import type { ElectionService, NodeView } from '../election/views.js';
import type { WithheldReason } from './conflicts.js';

/** One consistent view of API state plus local liveness, as the speaker holds it. */
export interface SpeakerSnapshot {
  /** This speaker's node. */
  readonly self: NodeName;
  readonly services: readonly ElectionService[];
  readonly nodes: readonly NodeView[];
  /** Nodes whose speaker Lease is alive (LivenessTracker.alive). */
  readonly alive: ReadonlySet<NodeName>;
  /** Alive nodes past the rejoin hold-down (LivenessTracker.settled). */
  readonly settled: ReadonlySet<NodeName>;
  /** ip -> node recorded in API state as announcing it. */
  readonly currentOwners: ReadonlyMap<string, NodeName>;
  /** node -> prefixes its speaker published (lease records); a node missing here reaches every IP. */
  readonly reach?: ReadonlyMap<NodeName, NodeReach>;
  /** True for IPs of a layer2 pool; other IPs are never announced by the speaker. */
  readonly isLayer2: (ip: string) => boolean;
  readonly options: EligibilityOptions;
  /** Standbys to name per owner (split liveness, docs/election.md "1,000 nodes"); absent: none. */
  readonly standbyCount?: number;
}

/**
 * Why this node does or does not announce an IP. Only `owner` announces; the others are the
 * reason of the debug line (or, for `noEndpoints` / `noEligibleNode`, the info line that
 * says why nobody announces the IP). `probing` / `addressConflict`: elected here, but withheld
 * (speaker/conflicts.ts).
 */
export type AnnounceReason = 'owner' | 'notOwner' | 'noEndpoints' | 'noEligibleNode' | 'notLayer2' | WithheldReason;

/** The decision for one Service IP. */
export interface IpDecision {
  readonly ip: string;
  /** Services using the IP, sorted. */
  readonly serviceKeys: readonly ServiceKey[];
  /** The elected owner, whoever it is; undefined when nobody announces the IP. */
  readonly owner: NodeName | undefined;
  readonly reason: AnnounceReason;
  /** For noEligibleNode: each node and why it was out. */
  readonly ineligible: readonly Ineligible[];
  /** Nodes left out for lack of an interface on the IP's subnet (`noInterface`), sorted. */
  readonly noInterface: readonly NodeName[];
  /** Elected although no alive node published an interface on the IP's subnet (election.ts). */
  readonly interfaceFallback: boolean;
  /** The owner's standbys, in takeover order (only with `SpeakerSnapshot.standbyCount`; election.ts); absent: none. */
  readonly standbys?: readonly NodeName[];
}

/** What this node should announce, plus the decision for every IP (for logs and Events). */
export interface DesiredAnnouncements {
  /** ip -> decision, for every ingress IP of every Service, sorted by IP. */
  readonly ips: ReadonlyMap<string, IpDecision>;
  /** IPs this node owns: the set handed to the Announcer. */
  readonly owned: ReadonlySet<string>;
}

/** The empty state a speaker starts from. */
export const noAnnouncements: DesiredAnnouncements = { ips: new Map(), owned: new Set() };

/**
 * Computes what this node should announce. IPs outside layer2 pools are left out of the
 * election (they neither announce nor anchor a group) and reported as `notLayer2`. `memo`: the
 * speaker's rendezvous memo, kept across elections (election.ts `electOwners`); it changes no
 * answer, only what an election costs.
 */
export function desiredAnnouncements(snapshot: SpeakerSnapshot, hash?: HashFn, memo?: RendezvousMemo): DesiredAnnouncements {
  const layer2Services = snapshot.services.map((s) => ({ ...s, ips: s.ips.filter((ip) => snapshot.isLayer2(ip)) }));
  const elected = electOwners(
    {
      services: layer2Services,
      cluster: {
        nodes: new Map(snapshot.nodes.map((n) => [n.name, n])),
        alive: snapshot.alive,
        ...(snapshot.reach === undefined ? {} : { reach: snapshot.reach }),
        options: snapshot.options,
      },
      settled: snapshot.settled,
      currentOwners: snapshot.currentOwners,
      ...(snapshot.standbyCount === undefined ? {} : { standbyCount: snapshot.standbyCount }),
    },
    hash,
    memo,
  );
  const decisions: IpDecision[] = [];
  for (const e of elected.values()) {
    const reach = { noInterface: e.noInterface, interfaceFallback: e.interfaceFallback };
    if (e.owner === undefined) {
      decisions.push({ ip: e.ip, serviceKeys: e.serviceKeys, owner: undefined, reason: e.reason, ineligible: e.ineligible, standbys: [], ...reach });
    } else {
      const reason = e.owner === snapshot.self ? 'owner' : 'notOwner';
      decisions.push({ ip: e.ip, serviceKeys: e.serviceKeys, owner: e.owner, reason, ineligible: [], standbys: e.standbys, ...reach });
    }
  }
  decisions.push(...notLayer2Decisions(snapshot));
  decisions.sort((a, b) => compareStrings(a.ip, b.ip));
  return {
    ips: new Map(decisions.map((d) => [d.ip, d])),
    owned: new Set(decisions.filter((d) => d.reason === 'owner').map((d) => d.ip)),
  };
}

function notLayer2Decisions(snapshot: SpeakerSnapshot): readonly IpDecision[] {
  const services = new Map<string, ServiceKey[]>();
  for (const s of snapshot.services) {
    for (const ip of s.ips) if (!snapshot.isLayer2(ip)) services.set(ip, [...(services.get(ip) ?? []), s.key]);
  }
  return [...services].map(([ip, keys]) => ({
    ip,
    serviceKeys: [...new Set(keys)].sort(compareStrings),
    owner: undefined,
    reason: 'notLayer2' as const,
    ineligible: [],
    noInterface: [],
    interfaceFallback: false,
    standbys: [],
  }));
}

/** A Service that this node started announcing: one `nodeAssigned` Event. */
export interface ServiceAssignment {
  readonly ip: string;
  readonly serviceKey: ServiceKey;
}

/** What changed between two desired states of this node. */
export interface AnnouncementDiff {
  /** IPs this node owns now and did not before, sorted. */
  readonly started: readonly string[];
  /** IPs this node owned before and does not now, sorted. */
  readonly stopped: readonly string[];
  /**
   * (ip, Service) pairs this node announces now and did not before: a new owned IP, or a
   * Service that started sharing an IP this node already owned. Events go only to these, so
   * a resync that changes nothing emits nothing (MetalLB #1682).
   */
  readonly assigned: readonly ServiceAssignment[];
}

/** Compares the previous desired state of this node with the next one. */
export function diffAnnouncements(previous: DesiredAnnouncements, next: DesiredAnnouncements): AnnouncementDiff {
  const started = [...next.owned].filter((ip) => !previous.owned.has(ip)).sort(compareStrings);
  const stopped = [...previous.owned].filter((ip) => !next.owned.has(ip)).sort(compareStrings);
  const assigned: ServiceAssignment[] = [];
  for (const ip of [...next.owned].sort(compareStrings)) {
    const before = previous.owned.has(ip) ? (previous.ips.get(ip)?.serviceKeys ?? []) : [];
    for (const serviceKey of next.ips.get(ip)?.serviceKeys ?? []) {
      if (!before.includes(serviceKey)) assigned.push({ ip, serviceKey });
    }
  }
  return { started, stopped, assigned };
}
