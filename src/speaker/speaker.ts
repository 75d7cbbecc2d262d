import type { Logger } from 'pino';
import type { Config } from '../config/config.js';
import { compareStrings } from '../election/eligibility.js';
import { LivenessTracker, defaultExpiryGraceMs, defaultHoldDownMs, upTime } from '../election/liveness.js';
import { createRendezvousMemo } from '../election/rendezvous-memo.js';
import { sha256Hex } from '../election/rendezvous.js';
import type { ElectionService, NodeView } from '../election/views.js';
import type { NodeName, ServiceKey } from '../shared/brand.js';
import { createAlarm, type Alarm } from '../shared/alarm.js';
import type { Clock } from '../shared/clock.js';
import type { EventSink, ObjectRef } from '../shared/event-sink.js';
import type { Result } from '../shared/result.js';
import { claimSeen, conflictMessage, conflictsAnnotation, conflictsRecord, defaultConflictTiming, gate, noAddressState, probesFinished, type AddressState, type ConflictTiming, type FinishedProbe, type ProbeResult } from './conflicts.js';
import { desiredAnnouncements, diffAnnouncements, noAnnouncements, type DesiredAnnouncements, type IpDecision } from './desired.js';
import { layer2Membership } from './layer2-pools.js';
import { macOwners as publishedMacOwners, reachOfLeases, type InterfacesRecord } from './interfaces-record.js';
import { recordedOwners, type SpeakerLeaseView } from './lease-view.js';
import { membership, nextLivenessChange, peerTime, standing } from './membership.js';
import { announcedSeries, type AnnouncedSeries, type SpeakerMetrics } from './metrics.js';
import { defaultStandbyCount, standbyDuties, type StandbyDuties } from './standby.js';
import type { StandbyLoop } from './standby-loop.js';

/** A Service with ingress IPs as the speaker sees it, and the reference its Events go to. */
export interface ServiceRecord {
  readonly service: ElectionService;
  readonly ref: ObjectRef;
}

/** The API state the speaker reads, from informer caches (implemented in k8s/). */
export interface SpeakerInputs {
  /** LoadBalancer Services of our class with ingress IPs, joined with their EndpointSlices. */
  services(): readonly ServiceRecord[];
  nodes(): readonly NodeView[];
  /** The last good config; undefined while none was ever valid. */
  config(): Config | undefined;
  /**
   * The local time since which the speaker Lease watch has been down (its cache may be stale),
   * or undefined while it is up. Peers are then judged as they stood at that time.
   */
  leaseViewLostAt(): number | undefined;
}

/** What probing an address found (layer2/announcer.ts ProbeOutcome, as far as the speaker reads it). */
export type ProbeOutcome =
  | { readonly kind: 'clear' }
  | { readonly kind: 'conflict'; readonly mac: string; readonly iface: string }
  | { readonly kind: 'noInterface' }
  | { readonly kind: 'invalidIp' };

/** The packet engine, as far as the speaker drives it (layer2/announcer.ts, or a no-op). */
export interface AnnouncerPort {
  setOwned(ips: Iterable<string>): Result<void, { readonly message: string }>;
  /**
   * Probes `ip` (RFC 5227 / RFC 4862 DAD) without answering for it; settles as clear when `signal`
   * aborts. `answersOnly`: another host probing for it is not a claim (a standby's check).
   */
  probe(ip: string, signal?: AbortSignal, options?: { readonly answersOnly?: boolean }): Promise<ProbeOutcome>;
  /** One gratuitous announcement of an owned `ip`, now. */
  defend(ip: string): void;
}

/** This node's own membership Lease (k8s/node-lease.ts NodeLease). */
export interface MembershipPort {
  /** Local time until which this node counts itself alive; undefined when it does not. */
  aliveUntil(): number | undefined;
  /** The IPs this node announces, recorded on its Lease for peers (stickiness). */
  setRecord(ips: readonly string[]): void;
  /** Another annotation on this node's Lease (the conflicts it sees, for the controller). */
  setAnnotation(key: string, value: string): void;
  /** Writes the membership Lease now (split liveness: to show the hold-down passed, or to rejoin after a reap). */
  touch?(): void;
  /**
   * This node's own Lease as the watch delivered it: a record written by another client (by hand,
   * an older speaker) is written again once the next election has judged it (k8s/node-lease.ts).
   */
  echoed?(lease: { readonly version: string; readonly announcing: readonly string[]; readonly holderIdentity: string | undefined }): void;
}

export interface SpeakerOptions {
  readonly ignoreExcludeLabel: boolean;
  /** Rejoin hold-down (docs/election.md); default 10 s. */
  readonly holdDownMs?: number;
  /** Changes arriving within this window are folded into one election. */
  readonly debounceMs?: number;
  /** Re-probes of conflicts and self-checks of owned IPs (speaker/conflicts.ts). */
  readonly conflicts?: ConflictTiming;
  /**
   * This node runs split liveness (docs/election.md, "1,000 nodes"): its membership Lease is
   * written on change, it judges itself by its heartbeat, and it rejoins when a standby reaps it.
   * Absent: its one Lease is renewed (`--liveness lease`). Either way every peer's Lease is judged
   * by its own writer's rule, and with `SpeakerDeps.standby` this node stands by for the split
   * owners it is named for (docs/election.md, "Mixed modes").
   */
  readonly split?: { readonly standbyCount: number };
}

export interface SpeakerDeps {
  readonly self: NodeName;
  readonly inputs: SpeakerInputs;
  readonly announcer: AnnouncerPort;
  readonly membership: MembershipPort;
  readonly events: EventSink;
  readonly metrics: SpeakerMetrics;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly options: SpeakerOptions;
  /**
   * The standby's probes, heartbeat watch and reaping of split-mode owners. In split mode always;
   * in lease mode too, so that a cluster switching modes node by node checks every split owner.
   */
  readonly standby?: StandbyLoop;
}

/** The speaker's control loop: API state + liveness -> election -> packet engine, Lease record, Events. */
export interface Speaker {
  /** A speaker Lease was added or changed (watch event); observed at the local time of the call. */
  observeLease(lease: SpeakerLeaseView): void;
  /** A speaker Lease was deleted. */
  forgetLease(node: NodeName): void;
  /** Something in the API state changed: elect again soon. */
  changed(): void;
  /**
   * Another MAC claims `ip` (gratuitous ARP, ARP reply, NA). Logged and counted; the first claim
   * is answered with one gratuitous announcement, a second within 10 s is a conflict
   * (speaker/conflicts.ts `claimSeen`); never a burst (no ARP war).
   */
  conflict(ip: string, mac: string, iface: string): void;
  /** Stops announcing at once (SIGTERM, before the Lease is released). Final. */
  silence(): void;
  /** The IPs this node announces now. */
  owned(): ReadonlySet<string>;
  /** Elects once `ready` resolves (caches synced), then on every change, until `signal` aborts. */
  run(signal: AbortSignal, ready: Promise<void>): Promise<void>;
}

const defaultDebounceMs = 10;
/** One conflict line per (ip, MAC) per this long: a peer re-announcing every few seconds must not flood the log. */
const conflictLogEveryMs = 10_000;

/** Creates the speaker loop; it starts nothing until `run`. */
export function createSpeaker(deps: SpeakerDeps): Speaker {
  return new SpeakerLoop(deps);
}

class SpeakerLoop implements Speaker {
  private readonly tracker: LivenessTracker;
  // node -> latest Lease view
  private readonly leases = new Map<NodeName, SpeakerLeaseView>();
  private desired: DesiredAnnouncements = noAnnouncements;
  // Rendezvous orders kept across elections: an election after a reap or a release hashes nothing (docs/election.md, "Cost").
  private readonly rendezvous = createRendezvousMemo({ hash: sha256Hex });
  private readonly announced: AnnouncedSeries;
  // `${ip}|${mac}` -> local time of the last conflict line
  private readonly conflictLogged = new Map<string, number>();
  private silenced = false;
  // Read through `applyFinishedProbes()`, which applies `finishedProbes` first.
  private address: AddressState = noAddressState;
  // Probe results not yet applied to `address`, in the order they came (one copy of the state per batch, not per result).
  private finishedProbes: FinishedProbe[] = [];
  // ip -> `${mac}|${node}` of the conflict last reported (Event, log), so each is reported once
  private readonly reported = new Map<string, string>();
  private runSignal: AbortSignal | undefined;
  private readonly alarm: Alarm;
  private config: Config | undefined;
  private isLayer2: (ip: string) => boolean = () => false;
  private readonly log: Logger;
  // Split liveness: this node's own membership as its watch shows it (see observeSelf).
  private readonly self = { reaped: false, settleAt: undefined as number | undefined };
  // Whether the Lease watch has shown this node's own Lease held by it. Until then this node is
  // no candidate: its view may predate its peers (every speaker of a DaemonSet starts at once, and
  // a list taken before the others wrote their Leases shows nobody), and the watch delivers in
  // resourceVersion order, so once its own Lease is there every Lease written before it is too.
  private ownLeaseSeen = false;
  // What the standby loop was last handed: its duties and the split members' Lease versions.
  private handed: { readonly duties: StandbyDuties; readonly members: ReadonlyMap<NodeName, string> } | undefined;
  // The Lease watch's lostAt at the last election (to notice it coming back).
  private leaseViewLostAt: number | undefined;
  // wall-clock ms minus local ms, taken once: the conflicts record's `since` stays the same text
  // for the same sighting (a new value would cost a Lease write per election)
  private readonly wallOffset: number;
  // MAC -> node from the published interfaces records; undefined once a record changed (see macOwners)
  private macOwnerCache: ReadonlyMap<string, NodeName> | undefined;
  // What the loop reads of a decision's noInterface list, worked out once per list: every IP of
  // one reach split shares its list (election.ts), and at 1,000 members each lists up to 996
  // nodes. Joined per IP and election, they took most of a speaker's election time.
  private readonly noInterfaceFacts = new WeakMap<readonly NodeName[], { readonly key: string; readonly hasSelf: boolean }>();

  constructor(private readonly deps: SpeakerDeps) {
    this.wallOffset = deps.clock.wallTime().getTime() - deps.clock.now();
    this.tracker = new LivenessTracker(defaultExpiryGraceMs);
    this.log = deps.logger.child({ component: 'speaker', node: deps.self });
    this.alarm = createAlarm({ clock: deps.clock });
    this.announced = announcedSeries(deps.metrics.announced);
  }

  observeLease(lease: SpeakerLeaseView): void {
    const now = this.deps.clock.now();
    const before = this.standing(lease.node, now);
    const previous = this.leases.get(lease.node);
    this.leases.set(lease.node, lease);
    if (lease.node === this.deps.self && lease.holderIdentity === this.deps.self) this.ownLeaseSeen = true;
    // Judged by its writer's rule: a split membership Lease by its holder, any other by its renewals.
    this.tracker.observe({ ...lease, observedAt: now, expires: lease.mode !== 'split' });
    this.observeSelf(lease, now);
    const interfacesChanged = this.interfacesSeen(previous, lease);
    // A plain renewal changes nothing election reads: skip the election (one per peer per second otherwise).
    if (before !== this.standing(lease.node, now) || previous?.announcing.join(',') !== lease.announcing.join(',') || interfacesChanged) this.changed();
    else this.handMemberVersion(lease);
  }

  /**
   * A split member's Lease written with nothing the election reads changed (its conflicts record,
   * the settling write, the hourly re-assertion): the standby loop gets its new resourceVersion
   * without an election. It reaps with the version it was handed, and one left stale meets a 409
   * and waits for the next election: a crashed owner whose conflicts record had changed since was
   * reaped only 19 s later, when something else made every speaker elect.
   */
  private handMemberVersion(lease: SpeakerLeaseView): void {
    const handed = this.handed;
    if (handed === undefined || !handed.members.has(lease.node) || handed.members.get(lease.node) === lease.version) return;
    this.handed = { duties: handed.duties, members: new Map(handed.members).set(lease.node, lease.version) };
    this.deps.standby?.update(this.handed.duties, this.handed.members);
  }

  /**
   * Split liveness: this node's membership Lease as the watch delivers it, handed to the Lease
   * writer (a record another client wrote is written again). Held: note when the
   * hold-down will have passed (one more write then shows peers `renewTime - acquireTime`
   * past it; nothing is renewed otherwise). Without a holder after we held it, and not stopping:
   * a standby reaped us (docs/election.md, "1,000 nodes"): stop answering at once and take the
   * Lease back, which sets a fresh `acquireTime`, so the sticky record keeps the IPs where they went.
   */
  private observeSelf(lease: SpeakerLeaseView, now: number): void {
    if (this.deps.options.split === undefined || lease.node !== this.deps.self) return;
    this.deps.membership.echoed?.(lease);
    if (lease.holderIdentity === this.deps.self) {
      this.self.reaped = false;
      const up = upTime(lease.acquireTime, lease.renewTime);
      this.self.settleAt = up !== undefined && up < this.holdDownMs ? now + this.holdDownMs - up + settleMarginMs : undefined;
      return;
    }
    if (this.ownLeaseSeen && !this.silenced && !this.self.reaped) this.reapedAlive();
  }

  /**
   * A standby reaped this node while it runs: stop at once, take the Lease back, reap nobody for a
   * while. The stop and the emptied record happen here, not in the next election: the write that
   * takes the Lease back must not record the IPs again, and its echo can come back before the loop
   * runs (then `reaped` is already over). Either way this node stayed the recorded owner, took its
   * IPs straight back and was reaped again (CI: three reaps in 4 s, two answers for 63 ms).
   */
  private reapedAlive(): void {
    this.self.reaped = true;
    this.self.settleAt = undefined;
    this.log.warn({ event: 'selfReaped' }, 'a standby reaped this node (it did not answer its probes, or its heartbeat ran out): stopped announcing, rejoining');
    const stopped = [...this.desired.owned];
    this.apply(noAnnouncements);
    for (const ip of stopped) this.log.info({ event: 'announceStopped', ip, reason: 'reaped' }, 'stopped announcing');
    this.deps.metrics.ownershipChanges.inc({ change: 'stopped' }, stopped.length);
    this.deps.membership.touch?.();
    this.deps.standby?.selfReaped();
    this.changed();
  }

  /** Whether a Lease brings a changed interfaces record; a new or changed one drops the MAC map and is logged when odd. */
  private interfacesSeen(previous: SpeakerLeaseView | undefined, lease: SpeakerLeaseView): boolean {
    const changed = recordKey(previous?.interfaces) !== recordKey(lease.interfaces);
    if (previous !== undefined && !changed) return false;
    this.macOwnerCache = undefined;
    if (lease.holderIdentity !== undefined && lease.holderIdentity !== '') this.logInterfaces(lease.node, lease.interfaces);
    return changed;
  }

  /** One line when a speaker's interfaces record turns unknown or unreadable (ignored: it counts as reaching every IP). */
  private logInterfaces(node: NodeName, record: InterfacesRecord | undefined): void {
    if (record === undefined || record.kind === 'absent') {
      this.log.info({ event: 'peerInterfacesUnknown', peer: node }, 'a speaker publishes no interfaces (an older ironlb?): it counts as reaching every address');
    } else if (record.kind === 'invalid') {
      this.log.warn({ event: 'peerInterfacesInvalid', peer: node, value: record.text.slice(0, 200), err: record.message }, 'ignoring an unreadable interfaces record: the speaker counts as reaching every address');
    }
  }

  forgetLease(node: NodeName): void {
    this.leases.delete(node);
    this.macOwnerCache = undefined;
    this.tracker.remove(node);
    this.changed();
  }

  changed(): void {
    this.alarm.ring();
  }

  conflict(ip: string, mac: string, iface: string): void {
    if (!this.desired.owned.has(ip)) return;
    this.deps.metrics.ipConflicts.inc({ ip });
    const now = this.deps.clock.now();
    const key = `${ip}|${mac}`;
    const last = this.conflictLogged.get(key);
    if (last === undefined || now - last >= conflictLogEveryMs) {
      this.conflictLogged.set(key, now);
      this.log.warn({ event: 'ipConflict', ip, mac, interface: iface }, 'another MAC announces an IP this node owns; defending once, electing again from API state (no ARP war)');
    }
    const claimed = claimSeen(this.applyFinishedProbes(), { ip, mac, iface }, now, this.conflictTiming.reprobeMs, this.macOwners());
    this.address = claimed.state;
    if (claimed.defend) this.deps.announcer.defend(ip);
    this.changed();
  }

  private get conflictTiming(): ConflictTiming {
    return this.deps.options.conflicts ?? defaultConflictTiming;
  }

  /** Applies every probe result that came since the last call, in order; returns the address state. */
  private applyFinishedProbes(): AddressState {
    if (this.finishedProbes.length > 0) {
      this.address = probesFinished(this.address, this.finishedProbes, this.conflictTiming.reprobeMs, this.macOwners());
      this.finishedProbes = [];
    }
    return this.address;
  }

  /**
   * MAC (lower-case) -> the node whose speaker published it in its interfaces record
   * (interfaces-record.ts). Kept until a record changes: every claim a responder hears reads it,
   * and a walk over 1,000 members' records per claim took a second of CPU at start-up.
   */
  private macOwners(): ReadonlyMap<string, NodeName> {
    this.macOwnerCache ??= publishedMacOwners(this.leases.values());
    return this.macOwnerCache;
  }

  private noInterfaceFactsOf(list: readonly NodeName[]): { readonly key: string; readonly hasSelf: boolean } {
    let facts = this.noInterfaceFacts.get(list);
    if (facts === undefined) {
      facts = { key: list.join(' '), hasSelf: list.includes(this.deps.self) };
      this.noInterfaceFacts.set(list, facts);
    }
    return facts;
  }

  /**
   * Probes `ip` in the background; its result is queued for the address state (applied, with
   * every other result that came meanwhile, before the state is next read) and wakes the loop.
   * A re-probe of an address in conflict asks one thing: does the other host still answer? Only
   * an answer counts there, not another node probing the same address: every speaker that saw the
   * conflict re-probes it on the same schedule, and two that saw it at the same moment probe at
   * the same moment every time. Counted as claims, their probes (RFC 5227 2.1.1's rule for two
   * hosts claiming one address) kept each other's quarantine in place after the host had left.
   */
  private startProbe(ip: string): void {
    const before = this.address.conflicts.get(ip);
    const finish = (result: ProbeResult): void => {
      if (result.kind === 'conflict') this.deps.metrics.ipConflicts.inc({ ip });
      if (before !== undefined) this.log.info({ event: 'addressConflictReprobed', ip, heard: result.kind === 'conflict' ? result.mac : undefined }, result.kind === 'conflict' ? 'a re-probe of an address in conflict was answered' : 'a re-probe of an address in conflict was not answered');
      this.finishedProbes.push({ ip, result, at: this.deps.clock.now() });
      this.changed();
    };
    // A node heard answering is checked the same way: does it still answer? So is a late takeover
    // of an IP another node announced (conflicts.ts, takeoverTrustMs): a standby checking the
    // leaving owner probes that IP too, and counted as a claim its probe held the takeover back.
    const takeover = this.address.announced.has(ip) && !this.desired.owned.has(ip);
    const recheck = before !== undefined || this.address.answering.has(ip) || takeover;
    this.deps.announcer.probe(ip, this.runSignal, recheck ? { answersOnly: true } : undefined).then(
      // Nowhere to probe means nowhere to announce either: nothing stands in the way.
      (outcome) => { finish(outcome.kind === 'conflict' ? outcome : { kind: 'clear' }); },
      (e: unknown) => {
        this.log.warn({ event: 'probeFailed', ip, err: e }, 'probing failed; announcing without a probe');
        finish({ kind: 'clear' });
      },
    );
  }

  silence(): void {
    this.silenced = true;
    this.apply(noAnnouncements);
    this.log.info({ event: 'speakerSilenced' }, 'stopped announcing');
  }

  owned(): ReadonlySet<string> {
    return this.desired.owned;
  }

  async run(signal: AbortSignal, ready: Promise<void>): Promise<void> {
    const stopped = (): boolean => signal.aborted || this.silenced;
    this.runSignal = signal;
    await Promise.race([ready, new Promise<void>((resolve) => { signal.addEventListener('abort', () => { resolve(); }, { once: true }); })]);
    while (!stopped()) {
      this.alarm.arm();
      const next = this.elect();
      await this.sleepUntil(next, signal);
      if (stopped()) break;
      // Fold a burst of watch events into one election.
      await this.deps.clock.sleep(this.deps.options.debounceMs ?? defaultDebounceMs, signal).catch(() => undefined);
    }
  }

  private peerTime(now: number): number {
    return peerTime(now, this.deps.inputs.leaseViewLostAt());
  }

  /**
   * When the Lease watch comes back after a gap, peers that were alive when it went down count
   * as just renewed (LivenessTracker.resume): the relist may arrive before they renew again.
   */
  private resumeLeaseView(now: number): void {
    const lostAt = this.deps.inputs.leaseViewLostAt();
    const was = this.leaseViewLostAt;
    this.leaseViewLostAt = lostAt;
    if (lostAt !== undefined || was === undefined) return;
    this.tracker.resume(was, now);
    this.log.info({ event: 'leaseViewBack', downMs: now - was }, 'the Lease watch is back; peers alive before it went down count as alive for one more Lease duration');
  }

  private get holdDownMs(): number {
    return this.deps.options.holdDownMs ?? defaultHoldDownMs;
  }

  private standing(node: NodeName, now: number): string {
    return standing(this.tracker, node, this.peerTime(now), this.holdDownMs);
  }

  /** One election; returns the local time at which liveness next changes (a timer), if any. */
  private elect(): number | undefined {
    const now = this.deps.clock.now();
    this.refreshConfig();
    this.resumeLeaseView(now);
    const peersAt = this.peerTime(now);
    const { alive, settled } = membership({
      self: this.deps.self,
      now,
      peersAt,
      tracker: this.tracker,
      selfAliveUntil: this.self.reaped || !this.ownLeaseSeen ? undefined : this.deps.membership.aliveUntil(),
      silenced: this.silenced,
      selfLease: this.leases.get(this.deps.self),
      holdDownMs: this.holdDownMs,
    });
    const records = this.deps.inputs.services();
    const currentOwners = recordedOwners(this.withOwnRecord(), alive);
    const elected = desiredAnnouncements({
      self: this.deps.self,
      services: records.map((r) => r.service),
      nodes: this.deps.inputs.nodes(),
      alive,
      settled,
      currentOwners,
      reach: reachOfLeases(this.leases.values()),
      isLayer2: this.isLayer2,
      options: { ignoreExcludeLabel: this.deps.options.ignoreExcludeLabel },
      ...this.standbyCount(alive),
    }, undefined, this.rendezvous);
    const gated = gate(this.applyFinishedProbes(), { elected, recorded: currentOwners.keys(), now, timing: this.conflictTiming });
    this.address = gated.state;
    this.deps.metrics.evaluations.inc();
    this.deps.metrics.aliveSpeakers.set(alive.size);
    const selfAlive = alive.has(this.deps.self);
    const refs = new Map(records.map((r) => [r.service.key, r.ref]));
    this.report(gated.desired, refs, selfAlive);
    this.reportConflicts(gated.desired, refs);
    if (!this.silenced) for (const ip of gated.probe) this.startProbe(ip);
    this.updateStandby(elected, currentOwners, alive, now);
    const liveness = nextLivenessChange(now, peersAt, this.tracker, selfAlive ? this.deps.membership.aliveUntil() : undefined);
    return earliest([liveness, gated.nextAt, this.self.settleAt]);
  }

  /**
   * The speakers' Lease views, this node's own record counted as what it announces now as well as
   * what its watch last echoed back. The echo lags by a write and a watch delivery, seconds on a
   * loaded node; judged by the echo alone, a node that had just taken an IP saw nobody recording
   * it and hashed it away again, while the node it took it from did the same the other way: with
   * 10 speakers and 1,000 Services two nodes traded a dozen IPs every few seconds, at times both
   * announcing them (docs/election.md, "Status"). The echo still counts, so a restarted speaker
   * keeps what its Lease recorded, as before.
   */
  private withOwnRecord(): Iterable<SpeakerLeaseView> {
    const own = this.leases.get(this.deps.self);
    if (own === undefined || this.desired.owned.size === 0) return this.leases.values();
    const announcing = [...new Set([...own.announcing, ...this.desired.owned])].sort(compareStrings);
    return [...this.leases.values()].map((l) => (l === own ? { ...l, announcing } : l));
  }

  /**
   * Standbys to name per owner: this node's own setting in split mode; in lease mode the default
   * while some alive peer runs split (a switch under way), so the split owners are checked; none
   * in a cluster that is all lease, which needs none and is spared the hashing.
   */
  private standbyCount(alive: ReadonlySet<NodeName>): { readonly standbyCount?: number } {
    if (this.deps.standby === undefined) return {};
    if (this.deps.options.split !== undefined) return { standbyCount: this.deps.options.split.standbyCount };
    return this.splitNodes(alive).size > 0 ? { standbyCount: defaultStandbyCount } : {};
  }

  /** The alive peers whose speaker runs split liveness (their Lease says so), with this node if it does. */
  private splitNodes(alive: ReadonlySet<NodeName>): ReadonlySet<NodeName> {
    return new Set([...alive].filter((node) => (node === this.deps.self ? this.deps.options.split !== undefined : this.leases.get(node)?.mode === 'split')));
  }

  /** Hands the standby loop its duties (split owners only), and, in split mode, writes the membership Lease once the hold-down passed. */
  private updateStandby(elected: DesiredAnnouncements, recorded: ReadonlyMap<string, NodeName>, alive: ReadonlySet<NodeName>, now: number): void {
    const standby = this.deps.standby;
    if (standby === undefined) return;
    if (this.self.settleAt !== undefined && now >= this.self.settleAt) {
      this.self.settleAt = undefined;
      this.deps.membership.touch?.();
    }
    const split = this.splitNodes(alive);
    // Only split members are reaped: a lease-mode peer runs out on its own.
    const members = new Map<NodeName, string>();
    for (const node of split) {
      const version = this.leases.get(node)?.version;
      if (node !== this.deps.self && version !== undefined) members.set(node, version);
    }
    this.handed = { duties: this.silenced ? { probe: new Map(), watch: [] } : standbyDuties(this.deps.self, elected.ips.values(), recorded, split), members };
    standby.update(this.handed.duties, members);
  }

  /**
   * Conflicts out to the world, each once: a Warning Event on the Services of the IP, a log line,
   * the `ironlb_address_conflicts` gauge, and the Lease annotation the controller quarantines by.
   */
  private reportConflicts(desired: DesiredAnnouncements, refs: ReadonlyMap<ServiceKey, ObjectRef>): void {
    const conflicts = this.address.conflicts;
    for (const [ip, c] of conflicts) {
      const key = `${c.mac}|${c.node ?? ''}`;
      if (this.reported.get(ip) === key) continue;
      this.reported.set(ip, key);
      this.deps.metrics.addressConflicts.set({ ip }, 1);
      this.log.warn({ event: 'addressConflict', ip, mac: c.mac, interface: c.iface, node: c.node }, conflictMessage(c));
      for (const serviceKey of desired.ips.get(ip)?.serviceKeys ?? []) {
        const ref = refs.get(serviceKey);
        if (ref !== undefined) this.deps.events.emit(ref, 'Warning', 'AddressConflict', conflictMessage(c));
      }
    }
    for (const ip of [...this.reported.keys()]) {
      if (conflicts.has(ip)) continue;
      this.reported.delete(ip);
      this.deps.metrics.addressConflicts.remove({ ip });
      this.log.info({ event: 'addressConflictCleared', ip }, 'no other host answers for this IP any more');
    }
    this.deps.membership.setAnnotation(conflictsAnnotation, conflictsRecord(conflicts.values(), (local) => new Date(local + this.wallOffset)));
  }

  private refreshConfig(): void {
    const config = this.deps.inputs.config();
    if (config === this.config) return;
    this.config = config;
    this.isLayer2 = layer2Membership(config);
  }

  /** Applies a new desired state: packet engine first, then the record, Events, metrics, logs. */
  private report(next: DesiredAnnouncements, refs: ReadonlyMap<ServiceKey, ObjectRef>, selfAlive: boolean): void {
    const previous = this.desired;
    const diff = diffAnnouncements(previous, next);
    this.apply(next, selfAlive);
    for (const ip of diff.started) this.log.info({ event: 'announceStarted', ip, services: next.ips.get(ip)?.serviceKeys }, 'announcing');
    for (const ip of diff.stopped) this.log.info({ event: 'announceStopped', ip, owner: next.ips.get(ip)?.owner, reason: next.ips.get(ip)?.reason ?? 'gone' }, 'stopped announcing');
    this.deps.metrics.ownershipChanges.inc({ change: 'started' }, diff.started.length);
    this.deps.metrics.ownershipChanges.inc({ change: 'stopped' }, diff.stopped.length);
    for (const { serviceKey } of diff.assigned) {
      const ref = refs.get(serviceKey);
      if (ref !== undefined) this.deps.events.emit(ref, 'Normal', 'nodeAssigned', `announcing from node ${this.deps.self} with protocol layer2`);
    }
    this.reportFallback(previous, next, refs);
    for (const decision of next.ips.values()) this.logDecision(previous.ips.get(decision.ip), decision);
    const decisions = [...next.ips.values()];
    this.deps.metrics.noInterfaceIps.set(decisions.filter((d) => this.noInterfaceFactsOf(d.noInterface).hasSelf).length);
    this.deps.metrics.interfaceFallbackIps.set(decisions.filter((d) => d.interfaceFallback).length);
  }

  /**
   * The owner of an IP that no alive node has an interface for says so, once per change: a log
   * line and a Warning Event on each of its Services (docs/election.md, "Reach").
   */
  private reportFallback(previous: DesiredAnnouncements, next: DesiredAnnouncements, refs: ReadonlyMap<ServiceKey, ObjectRef>): void {
    for (const ip of next.owned) {
      const now = next.ips.get(ip);
      if (now?.interfaceFallback !== true) continue;
      if (previous.owned.has(ip) && previous.ips.get(ip)?.interfaceFallback === true) continue;
      this.log.info({ event: 'noInterfaceFallback', ip, services: now.serviceKeys }, 'no node has an interface on this address\'s subnet; announcing it from this node on its default-route interface');
      for (const key of now.serviceKeys) {
        const ref = refs.get(key);
        const message = `no node has an interface whose prefix contains ${ip}; announcing it from node ${this.deps.self} on its default-route interface, where clients may not reach it`;
        if (ref !== undefined) this.deps.events.emit(ref, 'Warning', 'noInterfaceFallback', message);
      }
    }
  }

  /**
   * Makes `next` the announced state: announcer, Lease record and the announced metric. While
   * this node does not count itself alive (its renewals lapsed) it stops answering but keeps
   * its record: peers read a record only while they see the Lease alive, so for them it still
   * holds; writing an empty one would let a peer that saw no lapse hash the IPs afresh and take
   * them. After a real outage the record loses to the new owners' (earlier acquireTime).
   */
  private apply(next: DesiredAnnouncements, record = true): void {
    const owned = [...next.owned].sort(compareStrings);
    const set = this.deps.announcer.setOwned(owned);
    if (!set.ok) this.log.error({ event: 'announceFailed', err: set.error.message }, 'the packet engine refused the owned set');
    if (record) this.deps.membership.setRecord(owned);
    this.announced.update(owned.flatMap((ip) => (next.ips.get(ip)?.serviceKeys ?? []).map((service) => ({ service, ip }))));
    this.desired = next;
  }

  /** Info once per change for IPs nobody announces; debug for the rest. */
  private logDecision(before: IpDecision | undefined, now: IpDecision): void {
    const noInterface = this.noInterfaceFactsOf(now.noInterface).key;
    if (before?.reason === now.reason && before.owner === now.owner && this.noInterfaceFactsOf(before.noInterface).key === noInterface) return;
    const fields = { ip: now.ip, services: now.serviceKeys, owner: now.owner, reason: now.reason, ...(noInterface === '' ? {} : { noInterface }) };
    if (now.reason === 'noEligibleNode') {
      this.log.info({ ...fields, event: 'noEligibleNode', ineligible: now.ineligible.map((i) => `${i.node}:${i.reason}`).join(' ') }, 'no node may announce this IP');
    } else if (now.reason === 'noEndpoints') {
      this.log.info({ ...fields, event: 'noEndpoints' }, 'no endpoints, not announced');
    } else {
      this.log.debug({ ...fields, event: 'decision' }, 'election');
    }
  }

  private async sleepUntil(at: number | undefined, signal: AbortSignal): Promise<void> {
    // A timer only for liveness changes; everything else wakes us through `changed`.
    const ms = at === undefined ? 3_600_000 : Math.max(0, at - this.deps.clock.now()) + 1;
    await this.alarm.wait(signal, ms);
  }
}

/** After the hold-down, the settling write waits this much longer, so peers surely read it as past. */
const settleMarginMs = 200;

/** The earliest of some local times, if any. */
function earliest(times: readonly (number | undefined)[]): number | undefined {
  const set = times.filter((t): t is number => t !== undefined);
  return set.length === 0 ? undefined : Math.min(...set);
}

/** Tells records apart cheaply: a peer renews every second and its record rarely changes. */
function recordKey(record: InterfacesRecord | undefined): string {
  if (record === undefined || record.kind === 'absent') return 'absent';
  if (record.kind === 'invalid') return `invalid:${record.text}`;
  return `published:${record.interfaces.map((i) => `${i.name}=${i.mac};${i.prefixes.map((p) => `${p.base}/${p.prefix}`).join(',')}`).join(' ')}`;
}
