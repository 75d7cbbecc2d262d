/** Which frames a PacketConn carries: ARP requests, or ICMPv6 Neighbor Solicitations. */
export type PacketKind = 'arp' | 'ndp';

/** Per-IP counts from the native ARP fast path since the previous `take`. */
export interface ArpOffloadCounters {
  /** IPv4 key (ipv4Key) -> requests answered */
  readonly answered: ReadonlyMap<number, number>;
  readonly notOwned: number;
  readonly sendErrors: number;
}

/** Per-IP counts from the native NDP fast path since the previous `take`. */
export interface NdpOffloadCounters {
  /** IPv6 key (ipv6Key) -> solicitations answered */
  readonly answered: ReadonlyMap<string, number>;
  readonly notOwned: number;
  readonly sendErrors: number;
}

/**
 * An ARP fast path inside the socket: requests for the IPv4 addresses in the table are answered
 * without calling JavaScript, others are counted and dropped. Optional: a PacketConn without it
 * hands every ARP request to the responder in JS.
 */
export interface ArpOffload {
  /** Replaces the table. `mirror` also hands answered requests to `onFrames` (for debug logs). */
  set(mac: Uint8Array, ipv4: readonly Uint8Array[], mirror: boolean): void;
  /** Turns the fast path off: every request goes to JS again. */
  disable(): void;
}

/**
 * The NDP counterpart of ArpOffload: valid Neighbor Solicitations for the IPv6 addresses in the
 * table are answered without calling JavaScript, valid ones for other addresses counted and
 * dropped; everything else (DAD for an owned address, advertisements, invalid frames) goes to JS.
 */
export interface NdpOffload {
  /** Replaces the table. `mirror` also hands answered solicitations to `onFrames` (for debug logs). */
  set(mac: Uint8Array, ipv6: readonly Uint8Array[], mirror: boolean): void;
  /** Turns the fast path off: every solicitation goes to JS again. */
  disable(): void;
}

/** A PacketConn's own counts since the previous `takeCounters`. */
export interface PacketConnCounters {
  /** Frames dropped because they came faster than JS took them. */
  readonly backlogDrops: number;
  /** The ARP fast path's counts (read them before `ArpOffload.set` replaces the table); undefined without one. */
  readonly fastPath: ArpOffloadCounters | undefined;
  /** The NDP fast path's counts, on an NDP conn that has one. */
  readonly ndpFastPath?: NdpOffloadCounters | undefined;
}

/** One link-layer socket on one interface (the port src/sys implements with the AF_PACKET addon). */
export interface PacketConn {
  /** Sends one whole Ethernet frame; false when the kernel queue was full. */
  send(frame: Uint8Array): boolean;
  /** Receives frames sent to an Ethernet multicast group (solicited-node groups for NDP). */
  joinGroup(mac: Uint8Array): void;
  leaveGroup(mac: Uint8Array): void;
  readonly arpOffload: ArpOffload | undefined;
  /** On NDP conns with a native fast path. */
  readonly ndpOffload?: NdpOffload | undefined;
  /** Counters since the previous call (one call drains them all). */
  takeCounters(): PacketConnCounters;
  /** Idempotent; no callback runs afterwards. */
  close(): void;
}

/** Called once per batch: frames left to JS, and (when mirroring) requests the fast path answered. */
export type FramesHandler = (frames: readonly Uint8Array[], answered: readonly Uint8Array[]) => void;

/** Opens PacketConns; throws an AppError (e.g. ERR_NO_CAP_NET_RAW) when the OS refuses. */
export interface PacketConnFactory {
  open(iface: { readonly name: string; readonly index: number }, kind: PacketKind, onFrames: FramesHandler): PacketConn;
}
