import { Counter, Gauge, type Registry } from 'prom-client';

/** The speaker's metrics, on the injected Registry (never the global one). */
export interface SpeakerMetrics {
  /** 1 per (service, ip) this node announces; series removed when it stops. */
  readonly announced: Gauge<'service' | 'ip'>;
  /** Speakers this node counts as alive (itself included while its Lease is renewed). */
  readonly aliveSpeakers: Gauge;
  /** Elections run (each recompute of the desired announcements). */
  readonly evaluations: Counter;
  /** Ownership changes of this node, by direction. */
  readonly ownershipChanges: Counter<'change'>;
  /** Another MAC claiming an IP: a probe answered, or gratuitous ARP / ARP / NA from another MAC for an IP this node announces. */
  readonly ipConflicts: Counter<'ip'>;
  /** 1 per IP this node sees another host answering for (a probe answered, or a claim while owning); removed once a probe finds it clear. */
  readonly addressConflicts: Gauge<'ip'>;
  /** Renewals of this node's Lease, by result. */
  readonly leaseRenewals: Counter<'result'>;
  /** 1 while the config in the ConfigMap is invalid and the last good one is in force. */
  readonly configStale: Gauge;
  /** Service IPs this node may not announce because it has no interface on their subnet (`noInterface`). */
  readonly noInterfaceIps: Gauge;
  /** Service IPs no alive node has an interface for, elected under the fallback (docs/election.md). */
  readonly interfaceFallbackIps: Gauge;
  /** Standby probe rounds of owners (split liveness), by result: answered, unanswered, unknown. */
  readonly standbyProbeRounds: Counter<'result'>;
  /** Reaping writes (split liveness), by reason and result: reaped, moved (409: judged again), failed. */
  readonly reaps: Counter<'reason' | 'result'>;
}

/** Registers the speaker's metrics on `registry`. */
export function createSpeakerMetrics(registry: Registry): SpeakerMetrics {
  const registers = [registry];
  return {
    announced: new Gauge({ name: 'ironlb_speaker_announced', help: 'Service IPs this node announces (1 per service and IP)', labelNames: ['service', 'ip'], registers }),
    aliveSpeakers: new Gauge({ name: 'ironlb_speaker_alive_speakers', help: 'Speakers whose Lease this node sees alive', registers }),
    evaluations: new Counter({ name: 'ironlb_speaker_evaluations_total', help: 'Elections computed', registers }),
    ownershipChanges: new Counter({ name: 'ironlb_speaker_ownership_changes_total', help: 'IPs this node started or stopped announcing', labelNames: ['change'], registers }),
    ipConflicts: new Counter({ name: 'ironlb_speaker_ip_conflicts_total', help: 'Another MAC claiming an IP this node announces or probes (ARP, NA, an answered probe)', labelNames: ['ip'], registers }),
    addressConflicts: new Gauge({ name: 'ironlb_address_conflicts', help: 'IPs another host on the LAN answers for, as this node sees them (1 per IP)', labelNames: ['ip'], registers }),
    leaseRenewals: new Counter({ name: 'ironlb_speaker_lease_renewals_total', help: 'Renewals of this node Lease', labelNames: ['result'], registers }),
    configStale: new Gauge({ name: 'ironlb_speaker_config_stale', help: '1 while the ConfigMap holds an invalid config and the last good one is used', registers }),
    noInterfaceIps: new Gauge({ name: 'ironlb_speaker_no_interface_ips', help: 'Service IPs this node may not announce: no interface of it has a prefix containing them (noInterface)', registers }),
    interfaceFallbackIps: new Gauge({ name: 'ironlb_speaker_interface_fallback_ips', help: 'Service IPs no alive node has an interface for, elected among all eligible nodes (fallback)', registers }),
    standbyProbeRounds: new Counter({ name: 'ironlb_speaker_standby_probe_rounds_total', help: 'Probe rounds a standby sent to check its owners on the LAN, by result', labelNames: ['result'], registers }),
    reaps: new Counter({ name: 'ironlb_speaker_reaps_total', help: 'Membership Leases of peers this node tried to reap, by reason and result', labelNames: ['reason', 'result'], registers }),
  };
}

/** One (service, ip) series of the announced gauge. */
export interface AnnouncedPair {
  readonly service: string;
  readonly ip: string;
}

/** Keeps the announced gauge's series equal to the pairs announced now. */
export interface AnnouncedSeries {
  /** Sets the series of `pairs` to 1 and removes the ones no longer among them. */
  update(pairs: Iterable<AnnouncedPair>): void;
}

/** Creates the bookkeeping of `gauge`'s series (it starts with none). */
export function announcedSeries(gauge: SpeakerMetrics['announced']): AnnouncedSeries {
  // `${service}|${ip}` -> its labels, one per series in the gauge
  let current = new Map<string, AnnouncedPair>();
  return {
    update(pairs) {
      const next = new Map<string, AnnouncedPair>();
      for (const pair of pairs) next.set(`${pair.service}|${pair.ip}`, { service: pair.service, ip: pair.ip });
      for (const [key, labels] of current) if (!next.has(key)) gauge.remove({ ...labels });
      for (const [key, labels] of next) if (!current.has(key)) gauge.set({ ...labels }, 1);
      current = next;
    },
  };
}
