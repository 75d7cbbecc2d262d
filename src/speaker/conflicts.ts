import type { NodeName } from '../shared/brand.js';
import { compareStrings } from '../election/eligibility.js';
import type { DesiredAnnouncements, IpDecision } from './desired.js';

/**
 * Address conflicts with other hosts on the LAN (docs/speaker.md "Address conflicts"): when to
 * probe before announcing, what a claim by another MAC does, when to look again. Pure: the
 * speaker loop (speaker.ts) runs the probes and applies the results.
 */

/** Another host seen using an address. */
export interface Conflict {
  readonly ip: string;
  /** The other host's MAC (lower-case, colon-separated). */
  readonly mac: string;
  /** The interface it was seen on. */
  readonly iface: string;
  /** The cluster node that MAC belongs to, when it is one (split brain, IPVS without strictARP). */
  readonly node: NodeName | undefined;
  /** Local time of the first sighting. */
  readonly since: number;
  /** Local time of the next re-probe. */
  readonly nextProbeAt: number;
}

/** The speaker's knowledge about addresses, besides the election. */
export interface AddressState {
  /**
   * IPs announced (by this node or a peer's Lease record) since they were assigned: taking one
   * over does not probe, so failover stays as fast as before. Dropped once no Service has it.
   */
  readonly announced: ReadonlySet<string>;
  /** ip -> conflict seen and not cleared by a probe since. */
  readonly conflicts: ReadonlyMap<string, Conflict>;
  /** IPs with a probe in flight. */
  readonly probing: ReadonlySet<string>;
  /** ip -> local time this node last defended it with a gratuitous announcement. */
  readonly defended: ReadonlyMap<string, number>;
  /** ip -> local time of the next self-check probe of an owned IP. */
  readonly nextCheckAt: ReadonlyMap<string, number>;
  /**
   * ip -> the cluster node a first probe heard answering for it, while this node is elected for
   * it: that node still owns it in its own view, and ours is the one behind (a watch delivery
   * late on a loaded node, a record not yet seen). Withheld and probed again every
   * {@link nodeAnsweringReprobeMs} until nobody answers or the election moves the IP.
   */
  readonly answering: ReadonlyMap<string, { readonly node: NodeName; readonly nextProbeAt: number }>;
  /**
   * ip -> local time of the first election that found an `announced` IP recorded by nobody
   * alive (its owner crashed, was reaped or released it). A takeover is trusted without a probe
   * for {@link takeoverTrustMs} after that (see {@link gate}).
   */
  readonly unrecordedSince: ReadonlyMap<string, number>;
}

/** Nothing known yet. */
export const noAddressState: AddressState = { announced: new Set(), conflicts: new Map(), probing: new Set(), defended: new Map(), nextCheckAt: new Map(), answering: new Map(), unrecordedSince: new Map() };

/**
 * How long after an IP's owner left (in this node's view) another node takes it over without a
 * probe. Every node elects on the same watch event, so the rightful new owner takes it within an
 * election's time (0.15-0.45 s in the bench's logs at 1,000 members and at 10 speakers under
 * load). A node that elects itself later has seen something the others may not have (it passed
 * its hold-down, its view caught up) and another node may already answer: it probes first, and a
 * node heard answering is waited for (\`answering\`). Without this, such late takeovers answered
 * beside the node that had taken the IP, for 1.3-1.9 s in the bench's churn.
 */
export const takeoverTrustMs = 750;

/**
 * How soon an IP a cluster node was heard answering is probed again: the node lets it go within a
 * watch delivery or two once its view agrees, and a crashed one is silent at the next probe.
 */
export const nodeAnsweringReprobeMs = 1000;

/** Timing of re-probes and self-checks. */
export interface ConflictTiming {
  /** How often an address in conflict is probed again (the quarantine lifts after a clear probe). */
  readonly reprobeMs: number;
  /** How often an owned address is probed to find other answerers; 0 = never. */
  readonly selfCheckMs: number;
  /** Probe before a first announcement (default true; `--no-probe` announces at once, as before). */
  readonly probeFirst?: boolean;
}

/**
 * RFC 5227 2.4 DEFEND_INTERVAL: a host defends an address at most once per 10 s; a second claim
 * inside that time means it gives the address up (here: reports and stops announcing it) rather
 * than trade gratuitous ARP with the other host.
 */
export const defendIntervalMs = 10_000;

/** Default timing: re-probe conflicts every 30 s, self-check owned IPs every 60 s. */
export const defaultConflictTiming: ConflictTiming = { reprobeMs: 30_000, selfCheckMs: 60_000 };

/** Why an IP elected for this node is not announced (yet). */
export type WithheldReason = 'probing' | 'addressConflict';

/** What the loop should do after one election. */
export interface Gated {
  /** The election's result with withheld IPs taken out of `owned` and their reason set. */
  readonly desired: DesiredAnnouncements;
  /** IPs to probe now (first announcement, re-probe of a conflict, or self-check of an owned IP). */
  readonly probe: readonly string[];
  readonly state: AddressState;
  /** Local time of the next re-probe or self-check, if any. */
  readonly nextAt: number | undefined;
}

/** Inputs of {@link gate} besides the state. */
export interface GateInputs {
  readonly elected: DesiredAnnouncements;
  /** IPs recorded as announced on alive speakers' Leases (this node's included). */
  readonly recorded: Iterable<string>;
  readonly now: number;
  readonly timing: ConflictTiming;
}

/** A conflict with a host outside the cluster stops this node announcing the IP; one with a node does not (the election settles it). */
export function withholds(c: Conflict | undefined): boolean {
  return c !== undefined && c.node === undefined;
}

/**
 * Decides, after an election, which elected IPs this node announces and which it probes first:
 * an IP not yet announced by anyone since it was assigned is probed and announced only once the
 * probe comes back clear; an IP in conflict with a host outside the cluster is not announced;
 * conflicts are re-probed every `reprobeMs`; owned IPs are self-checked every `selfCheckMs`.
 */
export function gate(state: AddressState, inputs: GateInputs): Gated {
  const { elected, now, timing } = inputs;
  const assigned = new Set(elected.ips.keys());
  const recorded = new Set(inputs.recorded);
  const announced = new Set([...state.announced, ...recorded].filter((ip) => assigned.has(ip)));
  const unrecordedSince = new Map([...announced].filter((ip) => !recorded.has(ip)).map((ip) => [ip, state.unrecordedSince.get(ip) ?? now]));
  const takeable = [...announced].filter((ip) => now - (unrecordedSince.get(ip) ?? now) <= takeoverTrustMs);
  const conflicts = settledByElection(state.conflicts, elected.owned);
  const answering = stillElected(state.answering, elected.owned);
  const current = { ...state, conflicts, answering, unrecordedSince };
  const { owned, withheld, probe } = sortElected(current, elected.owned, new Set(timing.probeFirst === false ? elected.owned : takeable));
  const due = [...[...conflicts.values()].map((c) => [c.ip, c.nextProbeAt] as const), ...[...answering].map(([ip, a]) => [ip, a.nextProbeAt] as const)];
  for (const [ip, at] of due) if (at <= now && !state.probing.has(ip) && !probe.includes(ip)) probe.push(ip);
  const nextCheckAt = selfChecks(current, owned, now, timing.selfCheckMs, probe);
  const times = [...due.map(([, at]) => at), ...nextCheckAt.values()].filter((t) => t > now);
  return {
    desired: withhold(elected, owned, withheld),
    probe: probe.sort(compareStrings),
    state: { ...current, announced: new Set([...announced, ...owned]), probing: new Set([...state.probing, ...probe]), nextCheckAt },
    nextAt: times.length === 0 ? undefined : Math.min(...times),
  };
}

/**
 * The conflicts still worth keeping: one with a cluster node matters only while this node is
 * elected for the IP (two answerers). Once the election gives the IP to another node, that
 * node answering is the intended state, not a conflict: the report is dropped at once rather
 * than re-probed (a re-probe would hear the rightful owner and report it again, for ever).
 * Conflicts with hosts outside the cluster stay, whoever owns the IP: they quarantine it.
 */
function settledByElection(conflicts: ReadonlyMap<string, Conflict>, elected: ReadonlySet<string>): ReadonlyMap<string, Conflict> {
  const kept = [...conflicts].filter(([ip, c]) => c.node === undefined || elected.has(ip));
  return kept.length === conflicts.size ? conflicts : new Map(kept);
}

/** The entries for IPs this node is still elected for. */
function stillElected<V>(byIp: ReadonlyMap<string, V>, elected: ReadonlySet<string>): ReadonlyMap<string, V> {
  const kept = [...byIp].filter(([ip]) => elected.has(ip));
  return kept.length === byIp.size ? byIp : new Map(kept);
}

/** Elected IPs into announced now, withheld (and why), and to probe first. */
function sortElected(state: AddressState, elected: ReadonlySet<string>, announced: ReadonlySet<string>): { owned: Set<string>; withheld: Map<string, WithheldReason>; probe: string[] } {
  const owned = new Set<string>();
  const withheld = new Map<string, WithheldReason>();
  const probe: string[] = [];
  for (const ip of elected) {
    if (withholds(state.conflicts.get(ip))) withheld.set(ip, 'addressConflict');
    else if (state.answering.has(ip)) withheld.set(ip, 'probing');
    else if (announced.has(ip)) owned.add(ip);
    else {
      withheld.set(ip, 'probing');
      if (!state.probing.has(ip)) probe.push(ip);
    }
  }
  return { owned, withheld, probe };
}

/** ip -> next self-check of each owned IP; the ones due now are added to `probe`. */
function selfChecks(state: AddressState, owned: ReadonlySet<string>, now: number, everyMs: number, probe: string[]): Map<string, number> {
  const next = new Map<string, number>();
  if (everyMs <= 0) return next;
  for (const ip of owned) {
    const at = state.nextCheckAt.get(ip) ?? now + everyMs;
    const due = at <= now && !state.probing.has(ip) && !probe.includes(ip);
    if (due) probe.push(ip);
    next.set(ip, due ? now + everyMs : at);
  }
  return next;
}

function withhold(elected: DesiredAnnouncements, owned: ReadonlySet<string>, withheld: ReadonlyMap<string, WithheldReason>): DesiredAnnouncements {
  if (withheld.size === 0) return elected;
  const ips = new Map<string, IpDecision>();
  for (const [ip, d] of elected.ips) {
    const reason = withheld.get(ip);
    ips.set(ip, reason === undefined ? d : { ...d, reason });
  }
  return { ips, owned };
}

/** What a probe of one IP found, in speaker terms (layer2's ProbeOutcome, narrowed). */
export type ProbeResult = { readonly kind: 'clear' } | { readonly kind: 'conflict'; readonly mac: string; readonly iface: string };

/** A probe that finished, at the local time it did. */
export interface FinishedProbe {
  readonly ip: string;
  readonly result: ProbeResult;
  readonly at: number;
}

/**
 * Applies a finished probe: clear lifts the conflict and lets the IP be announced (it counts as
 * announced from now on); a claimant records or refreshes the conflict, to be probed again in
 * `reprobeMs`.
 *
 * A probe before the first announcement that hears a cluster node's MAC heard a node that owns
 * the IP in its own view: this node's view is behind (its peers' records and hold-downs reach it
 * a watch delivery late; at 1,000 members and at start-up, seconds late). That is no conflict with
 * another host and nothing is reported, but the IP is not taken either: taking it answered beside
 * a live owner for seconds (the bench's start-up and restart churn). It waits in `answering`,
 * probed again every {@link nodeAnsweringReprobeMs}, and is announced once a probe hears nobody
 * (the node let it go, or died) or dropped once the election gives it to someone else. A crashed
 * or silenced previous owner does not answer, so takeovers after a crash or a release are not
 * slowed.
 */
export function probeFinished(state: AddressState, ip: string, result: ProbeResult, now: number, reprobeMs: number, nodeOfMac: ReadonlyMap<string, NodeName>): AddressState {
  return probesFinished(state, [{ ip, result, at: now }], reprobeMs, nodeOfMac);
}

/**
 * {@link probeFinished} for several probes, in order, copying the state once. Probes finish in
 * bursts: every address of a new owner is probed at once (1,000 with 1,000 Services), and a copy
 * of the sets per result made that burst quadratic: 10,000 addresses kept a speaker busy for
 * minutes, and 1,000 left megabytes of garbage behind each time (docs/speaker.md, "Memory").
 */
export function probesFinished(state: AddressState, finished: readonly FinishedProbe[], reprobeMs: number, nodeOfMac: ReadonlyMap<string, NodeName>): AddressState {
  if (finished.length === 0) return state;
  const probing = new Set(state.probing);
  const conflicts = new Map(state.conflicts);
  const announced = new Set(state.announced);
  const answering = new Map(state.answering);
  const unrecordedSince = new Map(state.unrecordedSince);
  for (const { ip, result, at } of finished) {
    // Judged against what was announced before this probe's result, as one result at a time would be.
    const wasAnnounced = announced.has(ip);
    probing.delete(ip);
    const node = result.kind === 'clear' ? undefined : nodeOfMac.get(result.mac);
    if (result.kind === 'clear') {
      conflicts.delete(ip);
      answering.delete(ip);
      announced.add(ip);
      // Nobody answers now: taken at the next election, however late it runs.
      unrecordedSince.delete(ip);
    } else if (!wasAnnounced && node !== undefined) {
      // A conflict this probe did not settle waits its full interval, whatever answered: a
      // re-probe due at once would run back to back, for ever (an unassigned address never counts
      // as announced, so every re-probe of a quarantined one that hears a node lands here).
      const kept = conflicts.get(ip);
      if (kept !== undefined) {
        announced.add(ip);
        conflicts.set(ip, { ...kept, nextProbeAt: at + reprobeMs });
      } else answering.set(ip, { node, nextProbeAt: at + nodeAnsweringReprobeMs });
    } else {
      answering.delete(ip);
      const before = conflicts.get(ip);
      const since = before?.mac === result.mac ? before.since : at;
      conflicts.set(ip, { ip, mac: result.mac, iface: result.iface, node: nodeOfMac.get(result.mac), since, nextProbeAt: at + reprobeMs });
    }
  }
  return { ...state, probing, conflicts, announced, answering, unrecordedSince };
}

/** What to do about another MAC claiming an owned IP. */
export interface ClaimOutcome {
  readonly state: AddressState;
  /** Send one gratuitous announcement now (RFC 5227 2.4 (b)). */
  readonly defend: boolean;
}

/**
 * Another MAC claims an IP this node announces (a gratuitous ARP, a reply, an NA). RFC 5227
 * 2.4 (b): the first claim is answered with one gratuitous announcement; a claim within
 * {@link defendIntervalMs} of that defence records a conflict (this node then stops announcing
 * it unless the MAC is a cluster node's). Never more than one announcement per interval: no
 * ARP war.
 */
export function claimSeen(state: AddressState, claim: { ip: string; mac: string; iface: string }, now: number, reprobeMs: number, nodeOfMac: ReadonlyMap<string, NodeName>): ClaimOutcome {
  const last = state.defended.get(claim.ip);
  if (last === undefined || now - last >= defendIntervalMs) {
    return { state: { ...state, defended: new Map([...state.defended, [claim.ip, now]]) }, defend: true };
  }
  const conflicts = new Map(state.conflicts);
  const before = conflicts.get(claim.ip);
  const since = before?.mac === claim.mac ? before.since : now;
  conflicts.set(claim.ip, { ...claim, node: nodeOfMac.get(claim.mac), since, nextProbeAt: now + reprobeMs });
  return { state: { ...state, conflicts }, defend: false };
}

/** The annotation a speaker keeps on its own Lease with the conflicts it sees (docs/speaker.md). */
export const conflictsAnnotation = 'ironlb.io/conflicts';

/** One entry of {@link conflictsAnnotation}: JSON, so `kubectl get lease -o yaml` reads plainly. */
export interface ConflictEntry {
  readonly ip: string;
  readonly mac: string;
  readonly interface: string;
  /** Present when the MAC is a cluster node's. */
  readonly node?: string;
  /** When this node first saw it (RFC 3339, whole seconds, UTC), for `ironlb sandbox status` and admins. */
  readonly since: string;
}

/**
 * The annotation value for `conflicts`: a JSON array sorted by IP, '' for none. `wallOf` turns
 * a local time into wall-clock time; it must give the same answer for the same local time (a
 * fixed offset), so an unchanged set of conflicts keeps an unchanged value and costs no write.
 */
export function conflictsRecord(conflicts: Iterable<Conflict>, wallOf: (local: number) => Date): string {
  const entries: ConflictEntry[] = [...conflicts]
    .sort((a, b) => compareStrings(a.ip, b.ip))
    .map((c) => ({ ip: c.ip, mac: c.mac, interface: c.iface, ...(c.node === undefined ? {} : { node: c.node }), since: wholeSeconds(wallOf(c.since)) }));
  return entries.length === 0 ? '' : JSON.stringify(entries);
}

/** `2026-12-04T21:00:03Z`: RFC 3339 without the milliseconds nobody reads. */
function wholeSeconds(d: Date): string {
  return `${d.toISOString().slice(0, 19)}Z`;
}

/** The message of the Warning Event on a Service whose IP is in conflict. */
export function conflictMessage(c: Conflict): string {
  if (c.node !== undefined) return `IP ${c.ip} is also answered by node ${c.node} (MAC ${c.mac}, seen on ${c.iface}): two answerers; check kube-proxy strictARP (IPVS) or a split brain`;
  return `IP ${c.ip} is in use by another host on the LAN (MAC ${c.mac}, seen on ${c.iface}); not announced until it leaves`;
}
