import type { Logger } from 'pino';
import { buildGratuitousArp, parseArp } from './packet/arp.js';
import { formatIpv4, formatIpv6, formatMac, type IpBytes } from './packet/address.js';
import { buildUnsolicitedAdvertisement, icmpv6NeighborAdvertisement, multicastMac, parseNeighborAdvertisement, solicitedNodeIp } from './packet/ndp.js';
import { buildProbe, claimant } from './probe.js';
import type { Layer2Metrics } from './metrics.js';
import type { NeighborOffload, NeighborOffloadFactory, OffloadCounts } from './neighbor-offload.js';
import type { ArpOffload, ArpOffloadCounters, NdpOffload, NdpOffloadCounters, PacketConn, PacketConnCounters, PacketConnFactory, PacketKind } from './packet-conn.js';
import { respondArp, respondNdp, type Decision, type ResponderView } from './responder.js';

/**
 * Someone else claims an IP this interface announces: `mac` sent ARP with `ip` as its sender
 * address on `iface` (a gratuitous ARP, a reply, or a request from a host using it; the native
 * fast path leaves such frames to JavaScript), or a Neighbor Advertisement for `ip`.
 */
export type ConflictHandler = (ip: string, mac: string, iface: string) => void;

/** What a native fast path is told: off, or the owned table of this version (see `version4`). */
type FastPathState = 'off' | number;

/** What one interface session needs. */
export interface SessionDeps {
  readonly conns: PacketConnFactory;
  readonly logger: Logger;
  readonly metrics: Layer2Metrics;
  /** Answer ARP and NDP in the sockets' native fast paths when they have them. */
  readonly fastPath: boolean;
  /** Answer ARP and NDP in the kernel's datapath (XDP) first; absent: AF_PACKET only. */
  readonly offloads?: NeighborOffloadFactory;
  /** Told of every frame the responder judges a `conflict`; it never answers them. */
  readonly onConflict?: ConflictHandler | undefined;
}

/**
 * The announcing state of one interface: its owned IPs, its sockets (opened once, lazily per
 * family, never per IP) and its solicited-node group memberships. Changing the owned set takes
 * effect before `setIps` returns, so a released IP is never answered again.
 */
export class InterfaceSession implements ResponderView {
  readonly mac: Uint8Array;
  // IPv4 key -> ip
  private readonly v4 = new Map<number, IpBytes>();
  // IPv6 key -> ip
  private readonly v6 = new Map<string, IpBytes>();
  // solicited-node group MAC text -> number of owned IPv6 addresses in it
  private readonly groups = new Map<string, number>();
  private arp: PacketConn | undefined;
  private ndp: PacketConn | undefined;
  // ip text -> a probe in progress for it (not owned here while probed)
  // ip text -> probe in progress; `answersOnly`: another host's probe for it is not a claim (a standby's check)
  private readonly probes = new Map<string, { readonly ip: IpBytes; readonly onClaim: (mac: string) => void; readonly answersOnly: boolean }>();
  // attached on the first owned IP; 'failed' after a refusal (AF_PACKET answers alone then)
  private offload: NeighborOffload | 'failed' | undefined;
  // bumped on every change to v4 / v6: which owned table a fast path was last given
  private version4 = 0;
  private version6 = 0;
  // family -> what its native fast path was last told (absent: nothing yet)
  private readonly pushed = new Map<4 | 6, FastPathState>();
  private readonly debug: boolean;

  constructor(
    readonly name: string,
    readonly index: number,
    mac: Uint8Array,
    private readonly deps: SessionDeps,
  ) {
    this.mac = mac;
    this.debug = deps.logger.isLevelEnabled('debug');
  }

  ownsIpv4(key: number): boolean {
    return this.v4.has(key);
  }

  ownsIpv6(key: string): boolean {
    return this.v6.has(key);
  }

  /**
   * Makes `ips` the owned set on this interface; returns the ones that are new. The datapath and
   * fast-path tables are pushed only when the set changed: each push copies the whole table.
   */
  setIps(ips: readonly IpBytes[]): readonly IpBytes[] {
    const wanted = new Set(ips.map((ip) => ip.text));
    let removed = 0;
    for (const ip of [...this.v4.values(), ...this.v6.values()]) {
      if (wanted.has(ip.text)) continue;
      this.remove(ip);
      removed += 1;
    }
    const added = ips.filter((ip) => !(ip.family === 4 ? this.v4.has(ip.key) : this.v6.has(ip.key)));
    for (const ip of added) this.add(ip);
    if (removed === 0 && added.length === 0) return added;
    this.syncOffload();
    this.syncFastPaths();
    return added;
  }

  /** Whether it owns an address or a probe runs on it: a session that is neither is kept only to linger. */
  get busy(): boolean {
    return this.v4.size + this.v6.size + this.probes.size > 0;
  }

  /** Sends the gratuitous announcement for `ip` (ARP request + reply, or an unsolicited NA). */
  announce(ip: IpBytes): void {
    const frames = ip.family === 4 ? buildGratuitousArp(this.mac, ip.bytes) : [buildUnsolicitedAdvertisement(this.mac, ip.bytes)];
    const conn = ip.family === 4 ? this.arp : this.ndp;
    if (conn === undefined) return;
    for (const frame of frames) conn.send(frame);
    this.deps.metrics.gratuitousSent.inc({ ip: ip.text, interface: this.name });
    this.deps.logger.debug({ event: 'gratuitousSent', ip: ip.text, interface: this.name }, 'announced');
  }

  /**
   * Watches for other hosts claiming `ip` (layer2/probe.ts `claimant`) until the returned stop
   * function is called; `onClaim` gets each claimant's MAC. Opens the family's socket (and, for
   * IPv6, joins the solicited-node group, where other hosts' DAD probes go) without owning the
   * address. While a probe that needs them runs (see {@link needsRequests}) the family's native
   * fast path is off, so requests a host using the address sends (and other hosts' DAD probes for
   * it) reach the check too.
   */
  startProbe(ip: IpBytes, onClaim: (mac: string) => void, answersOnly = false): () => void {
    this.probes.set(ip.text, { ip, onClaim, answersOnly });
    if (ip.family === 4) this.arp ??= this.open('arp');
    else {
      this.ndp ??= this.open('ndp');
      this.joinSolicited(ip);
    }
    this.syncFastPaths();
    return () => {
      if (this.probes.get(ip.text)?.onClaim !== onClaim) return;
      this.probes.delete(ip.text);
      if (ip.family === 6) this.leaveSolicited(ip);
      this.syncFastPaths();
    };
  }

  /** Sends one probe for `ip` (an ARP probe or a DAD solicitation, RFC 5227 / RFC 4862). */
  sendProbe(ip: IpBytes): void {
    const conn = ip.family === 4 ? this.arp : this.ndp;
    if (conn?.send(buildProbe(this.mac, ip)) === true) this.deps.metrics.probesSent.inc({ interface: this.name });
  }

  /** Folds the sockets' own counters (native fast path, backlog drops) into the metrics. */
  flushCounters(): void {
    const none: PacketConnCounters = { backlogDrops: 0, fastPath: undefined };
    const arp = this.arp?.takeCounters() ?? none;
    const ndp = this.ndp?.takeCounters() ?? none;
    const backlog = arp.backlogDrops + ndp.backlogDrops;
    if (backlog > 0) this.deps.metrics.drops.inc({ reason: 'backlog', interface: this.name }, backlog);
    if (this.deps.fastPath) for (const counts of [arp.fastPath, ndp.ndpFastPath]) if (counts !== undefined) this.flushFastPath(counts);
    if (typeof this.offload === 'object') this.flushOffload(this.offload.take());
  }

  /**
   * Counts what the datapath responder did: each answer was one request received and one
   * answer sent; each frame it judged and passed up is a drop by the same reasons as here.
   */
  private flushOffload(counts: OffloadCounts): void {
    for (const [ip, n] of counts.answered) {
      const labels = { ip, interface: this.name };
      this.deps.metrics.requestsReceived.inc(labels, n);
      this.deps.metrics.responsesSent.inc(labels, n);
    }
    for (const [reason, n] of counts.drops) this.deps.metrics.drops.inc({ reason, interface: this.name }, n);
  }

  private flushFastPath(counts: ArpOffloadCounters | NdpOffloadCounters): void {
    for (const [key, n] of counts.answered) {
      const ip = typeof key === 'number' ? formatIpv4(new Uint8Array([key >>> 24, (key >>> 16) & 0xff, (key >>> 8) & 0xff, key & 0xff])) : formatIpv6(Buffer.from(key, 'hex'));
      const labels = { ip, interface: this.name };
      this.deps.metrics.requestsReceived.inc(labels, n);
      this.deps.metrics.responsesSent.inc(labels, n);
    }
    // Behind an attached datapath responder, every request the fast path finds unowned was
    // judged notOwned there first and is counted from its counters.
    if (counts.notOwned > 0 && typeof this.offload !== 'object') this.deps.metrics.drops.inc({ reason: 'notOwned', interface: this.name }, counts.notOwned);
    if (counts.sendErrors > 0) this.deps.metrics.sendErrors.inc({ interface: this.name }, counts.sendErrors);
  }

  /** Closes both sockets; nothing is answered afterwards. Idempotent. */
  close(): void {
    this.flushCounters();
    if (typeof this.offload === 'object') this.offload.close();
    this.offload = undefined;
    this.arp?.close();
    this.ndp?.close();
    this.arp = undefined;
    this.ndp = undefined;
    this.pushed.clear();
    this.v4.clear();
    this.v6.clear();
    this.groups.clear();
    this.probes.clear();
  }

  private add(ip: IpBytes): void {
    if (ip.family === 4) {
      this.version4 += 1;
      this.v4.set(ip.key, ip);
      this.arp ??= this.open('arp');
      return;
    }
    this.version6 += 1;
    this.v6.set(ip.key, ip);
    this.ndp ??= this.open('ndp');
    this.joinSolicited(ip);
  }

  private joinSolicited(ip: IpBytes): void {
    const group = multicastMac(solicitedNodeIp(ip.bytes));
    const key = formatMac(group);
    const count = this.groups.get(key) ?? 0;
    if (count === 0) this.ndp?.joinGroup(group);
    this.groups.set(key, count + 1);
  }

  private leaveSolicited(ip: IpBytes): void {
    const group = multicastMac(solicitedNodeIp(ip.bytes));
    const key = formatMac(group);
    const count = (this.groups.get(key) ?? 1) - 1;
    if (count > 0) this.groups.set(key, count);
    else {
      this.groups.delete(key);
      this.ndp?.leaveGroup(group);
    }
  }

  private remove(ip: IpBytes): void {
    if (ip.family === 4) {
      this.version4 += 1;
      this.v4.delete(ip.key);
      return;
    }
    this.version6 += 1;
    this.v6.delete(ip.key);
    this.leaveSolicited(ip);
  }

  /**
   * Pushes the owned IPv4 and IPv6 tables into the native fast paths (read their counters
   * first). Behind an attached datapath responder the NDP fast path stays off: XDP answers NDP,
   * and the solicitations it leaves to userspace (longer than it parses) must be judged and
   * counted by JS, which knows which frames XDP counted (`judged`). A fast path already in the
   * wanted state is left alone: a standby's probe (fast path on) starts and ends without copying
   * the owned table, however many addresses this node owns.
   */
  private syncFastPaths(): void {
    if (!this.deps.fastPath) return;
    const stale = this.fastPaths().filter(({ family, want }) => this.pushed.get(family) !== want);
    if (stale.length === 0) return;
    this.flushCounters(); // a push discards the table's counters
    for (const { family, offload, want } of stale) {
      if (want === 'off') offload.disable();
      else offload.set(this.mac, [...(family === 4 ? this.v4 : this.v6).values()].map((ip) => ip.bytes), this.debug);
      this.pushed.set(family, want);
    }
  }

  /** The open sockets' fast paths and what each should be: off while a probe needs the requests it drops (NDP also behind XDP), else the current owned table. */
  private fastPaths(): { readonly family: 4 | 6; readonly offload: ArpOffload | NdpOffload; readonly want: FastPathState }[] {
    const out: { readonly family: 4 | 6; readonly offload: ArpOffload | NdpOffload; readonly want: FastPathState }[] = [];
    const arp = this.arp?.arpOffload;
    const ndp = this.ndp?.ndpOffload;
    if (arp !== undefined) out.push({ family: 4, offload: arp, want: this.probingNeedsRequests(4) ? 'off' : this.version4 });
    if (ndp !== undefined) out.push({ family: 6, offload: ndp, want: this.probingNeedsRequests(6) || typeof this.offload === 'object' ? 'off' : this.version6 });
    return out;
  }

  /** Whether a probe of this family needs the requests the fast path drops; stops at the first (no copy of the probes: a speaker taking 1,000 addresses runs 1,000 at once). */
  private probingNeedsRequests(family: 4 | 6): boolean {
    for (const p of this.probes.values()) if (p.ip.family === family && this.needsRequests(p)) return true;
    return false;
  }

  /**
   * Pushes the owned set into the datapath responder, attaching it with the first owned IP. A
   * refusal (another XDP program, a driver without XDP) leaves this interface to AF_PACKET,
   * said once in the log and in ironlb_layer2_xdp_fallbacks_total.
   */
  private syncOffload(): void {
    const factory = this.deps.offloads;
    if (factory === undefined || this.offload === 'failed') return;
    const ips = [...this.v4.values(), ...this.v6.values()];
    if (this.offload === undefined) {
      if (ips.length === 0) return;
      const attached = factory.attach({ name: this.name, index: this.index });
      if (!attached.ok) {
        this.offload = 'failed';
        const { reason, message } = attached.error;
        this.deps.metrics.xdpFallbacks.inc({ reason });
        this.deps.logger.warn({ event: 'xdpFallback', interface: this.name, reason, error: message }, 'XDP responder not attached on this interface; answering through AF_PACKET');
        return;
      }
      this.offload = attached.value;
      this.deps.logger.info({ event: 'xdpAttached', interface: this.name }, 'XDP responder attached');
    } else {
      this.flushOffload(this.offload.take());
    }
    this.offload.set(this.mac, ips);
  }

  private open(kind: PacketKind): PacketConn {
    const respond = kind === 'arp' ? respondArp : respondNdp;
    return this.deps.conns.open({ name: this.name, index: this.index }, kind, (frames, answered) => {
      for (const frame of frames) if (this.probes.size === 0 || !this.claimed(frame)) this.handle(kind, respond(frame, this), frame);
      for (const frame of answered) this.logFastAnswer(kind, frame);
    });
  }

  private handle(kind: PacketKind, decision: Decision, frame: Uint8Array): void {
    if (decision.kind === 'drop') {
      // A frame the datapath responder judged before passing it up is counted from its counters.
      if (typeof this.offload !== 'object' || !this.offload.judged(kind, frame)) this.deps.metrics.drops.inc({ reason: decision.reason, interface: this.name });
      if (decision.reason === 'conflict') this.reportConflict(frame);
      if (this.debug) this.deps.logger.debug({ event: 'requestDropped', reason: decision.reason, interface: this.name }, 'not answered');
      return;
    }
    const labels = { ip: decision.ip, interface: this.name };
    this.deps.metrics.requestsReceived.inc(labels);
    const conn = kind === 'arp' ? this.arp : this.ndp;
    if (conn?.send(decision.frame) !== true) return;
    this.deps.metrics.responsesSent.inc(labels);
    if (this.debug) this.deps.logger.debug({ event: 'requestAnswered', ip: decision.ip, interface: this.name, path: 'js' }, 'answered');
  }

  /**
   * Whether `probe` must see the requests the native fast paths drop (requests and solicitations
   * for addresses not owned here: another host probing for the address, a host using it asking
   * for someone else). Only a probe before announcing an address not owned here counts those as
   * claims (layer2/probe.ts `claimant`). A standby's check (`answersOnly`) and a self-check of an
   * owned address count only frames with the address as sender (ARP replies, requests from an
   * owned sender) and Neighbor Advertisements, which the fast paths always hand to JS
   * (native/arp-fast-path.c, native/ndp-fast-path.c). Keeping the fast path on for those keeps
   * this node's own answers in the receiver thread: a node that is an owner and a standby at once
   * (every node, with many Services) probes nearly all the time, and answering its owned
   * addresses from a busy event loop instead let its standbys miss three rounds and reap it.
   */
  private needsRequests(probe: { readonly ip: IpBytes; readonly answersOnly: boolean }): boolean {
    if (probe.answersOnly) return false;
    return probe.ip.family === 4 ? !this.v4.has(probe.ip.key) : !this.v6.has(probe.ip.key);
  }

  /** Whether a probe in progress takes `frame` as another host's claim (it is then not answered). */
  private claimed(frame: Uint8Array): boolean {
    for (const probe of this.probes.values()) {
      const owned = probe.answersOnly || (probe.ip.family === 4 ? this.v4.has(probe.ip.key) : this.v6.has(probe.ip.key));
      const mac = claimant(frame, probe.ip, this.mac, owned);
      if (mac !== undefined) {
        probe.onClaim(mac);
        return true;
      }
    }
    return false;
  }

  /** A conflict frame is rare: parsing it again here keeps the per-packet path free of it. */
  private reportConflict(frame: Uint8Array): void {
    if (frame[54] === icmpv6NeighborAdvertisement) {
      const na = parseNeighborAdvertisement(frame);
      if (na.ok) this.deps.onConflict?.(formatIpv6(na.value.target), formatMac(na.value.targetLinkAddress ?? na.value.ethSrc), this.name);
      return;
    }
    const arp = parseArp(frame);
    if (arp.ok) this.deps.onConflict?.(formatIpv4(arp.value.senderIp), formatMac(arp.value.senderMac), this.name);
  }

  private logFastAnswer(kind: PacketKind, frame: Uint8Array): void {
    // ARP: the target IP at 38, the sender MAC at 22; NS: the target at 62, the Ethernet source at 6.
    const ip = kind === 'arp' ? formatIpv4(frame, 38) : formatIpv6(frame, 62);
    const from = kind === 'arp' ? formatMac(frame, 22) : formatMac(frame, 6);
    this.deps.logger.debug({ event: 'requestAnswered', ip, from, interface: this.name, path: 'native' }, 'answered');
  }
}
