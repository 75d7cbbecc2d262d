import type { Result } from '../shared/result.js';
import type { IpBytes } from './packet/address.js';

/**
 * A responder in the kernel's datapath for one interface (the XDP program of native/xdp/): it
 * answers ARP requests and Neighbor Solicitations for the owned addresses before they reach a
 * socket, and passes every other frame up to the PacketConns unchanged.
 */
export interface NeighborOffload {
  /** The owned addresses and the MAC to answer from; in force for every frame once this returns. */
  set(mac: Uint8Array, ips: readonly IpBytes[]): void;
  /** Answers sent since the previous call, by IP text. */
  take(): ReadonlyMap<string, number>;
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
