import type { NodeName } from '../shared/brand.js';
import { compareStrings } from '../election/eligibility.js';
import type { LeaseObservation } from '../election/liveness.js';
import type { InterfacesRecord } from './interfaces-record.js';

/** The prefix of every speaker's membership Lease: `ironlb-speaker-<node>`. */
export const speakerLeasePrefix = 'ironlb-speaker-';

/**
 * The annotation a speaker keeps on its own Lease: the IPs it announces, comma-separated
 * (`ironlb.io/announcing: 192.0.2.10,2001:db8::10`). Peers read it back as the current owners
 * (anti-flap, docs/speaker.md). The speaker never writes Services.
 */
export const announcingAnnotation = 'ironlb.io/announcing';

/**
 * How a speaker keeps itself a member (`--liveness`): `lease`, one Lease renewed every second and
 * judged by its renewals; `split`, a membership Lease written on change and judged by its holder,
 * with a heartbeat Lease its standbys watch and LAN probes (docs/election.md, "1,000 nodes").
 */
export type LivenessMode = 'lease' | 'split';

/** The `ironlb.io/lease` label value of a split membership Lease (standby.ts `leaseRoleLabel`). */
export const membershipLeaseRole = 'membership';

/**
 * The `ironlb.io/lease` label value a `lease`-mode speaker writes, so that a Lease once written in
 * split mode (labels are merged on write) reads as renewed again after a switch back.
 */
export const renewedLeaseRole = 'renewed';

/**
 * The mode a speaker Lease was written in, from its `ironlb.io/lease` label: `membership` is split;
 * anything else (`renewed`, or no label: a speaker from before the label) is lease.
 */
export function livenessModeOf(role: string | undefined): LivenessMode {
  return role === membershipLeaseRole ? 'split' : 'lease';
}

/** A speaker Lease as the speaker reads it (k8s/ builds it from a V1Lease). */
export interface SpeakerLeaseView extends Omit<LeaseObservation, 'observedAt' | 'expires'> {
  /**
   * The mode its speaker runs ({@link livenessModeOf}); absent: `lease`. Every speaker judges a
   * Lease by the rule of its writer's mode, whatever its own (docs/election.md, "Mixed modes").
   */
  readonly mode?: LivenessMode;
  /** IPs recorded in `announcingAnnotation`, canonical text. */
  readonly announcing: readonly string[];
  /** The interfaces recorded in `interfacesAnnotation` (interfaces-record.ts); absent when not given. */
  readonly interfaces?: InterfacesRecord;
}

/** The node of a speaker Lease name, or undefined for other Leases. */
export function nodeOfLease(leaseName: string): NodeName | undefined {
  if (!leaseName.startsWith(speakerLeasePrefix) || leaseName.length === speakerLeasePrefix.length) return undefined;
  return leaseName.slice(speakerLeasePrefix.length) as NodeName;
}

/** The Lease name of a node. */
export function leaseNameOf(node: string): string {
  return `${speakerLeasePrefix}${node}`;
}

/** Splits the annotation value; blanks are dropped. */
export function parseAnnouncing(value: string | undefined): readonly string[] {
  if (value === undefined) return [];
  return value.split(',').map((s) => s.trim()).filter((s) => s !== '');
}

/**
 * ip -> node recorded as announcing it, from the Leases of alive speakers. Two alive speakers
 * may record one IP for a moment (the old owner has not yet written its new set, or a node that
 * was cut off from the API comes back with a stale record). Every speaker must pick the same
 * one, so the rule reads only values in API state: the record of the speaker with the earliest
 * `acquireTime` wins (it has been a member longest; a node that rejoins gets a fresh
 * acquireTime), then the lower node name.
 */
export function recordedOwners(leases: Iterable<SpeakerLeaseView>, alive: ReadonlySet<NodeName>): ReadonlyMap<string, NodeName> {
  const owners = new Map<string, { node: NodeName; since: number }>();
  for (const lease of leases) {
    if (!alive.has(lease.node)) continue;
    const since = acquiredAt(lease);
    for (const ip of lease.announcing) {
      const other = owners.get(ip);
      if (other === undefined || since < other.since || (since === other.since && compareStrings(lease.node, other.node) < 0)) {
        owners.set(ip, { node: lease.node, since });
      }
    }
  }
  return new Map([...owners].map(([ip, o]) => [ip, o.node]));
}

function acquiredAt(lease: SpeakerLeaseView): number {
  const t = lease.acquireTime === undefined ? Number.NaN : Date.parse(lease.acquireTime);
  return Number.isFinite(t) ? t : Number.POSITIVE_INFINITY;
}
