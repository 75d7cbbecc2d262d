import type { Result } from '../shared/result.js';
import type { IpBytes } from './packet/address.js';
import type { PacketKind } from './packet-conn.js';
import type { DropReason } from './responder.js';

/** What a datapath responder did since the previous `take`. */
export interface OffloadCounts {
  /** IP text -> requests answered (each one request received and one answer sent) */
  readonly answered: ReadonlyMap<string, number>;
  /** reason -> frames judged and passed up unanswered, by the reasons the AF_PACKET responder uses */
  readonly drops: ReadonlyMap<DropReason, number>;
}

/**
 * A responder in the kernel's datapath for one interface (the XDP program of native/xdp/): it
 * answers ARP requests and Neighbor Solicitations for the owned addresses before they reach a
 * socket, and passes every other frame up to the PacketConns unchanged.
 */
export interface NeighborOffload {
  /** The owned addresses and the MAC to answer from; in force for every frame once this returns. */
  set(mac: Uint8Array, ips: readonly IpBytes[]): void;
  /** Answers and drops counted since the previous call. */
  take(): OffloadCounts;
  /**
   * Whether the datapath judged this frame, which it passed up unanswered, and counted it in
   * `take().drops`: then the AF_PACKET responder must not count it again. False for the forms
   * it leaves to userspace to judge.
   */
  judged(kind: PacketKind, frame: Uint8Array): boolean;
  /** Stops answering and detaches. Idempotent. */
  close(): void;
}

/** Why the datapath responder is not used: counted in `ironlb_layer2_xdp_fallbacks_total{reason}`. */
export type OffloadFallbackReason = 'noProgram' | 'noCapability' | 'kernel' | 'attach';

/** Why one interface refused the datapath responder. */
export interface OffloadRefusal {
  readonly reason: OffloadFallbackReason;
  readonly message: string;
}

/** Attaches NeighborOffloads, one per interface. */
export interface NeighborOffloadFactory {
  attach(iface: { readonly name: string; readonly index: number }): Result<NeighborOffload, OffloadRefusal>;
}
