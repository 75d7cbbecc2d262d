import { broadcastMac, etherTypeArp, etherTypeIpv4, ethernetHeaderLength, writeEthernetHeader } from './ethernet.js';
import { hasBytes, u16 } from './bytes.js';
import { err, ok, type Result } from '../../shared/result.js';

/** RFC 826 operation codes. */
export const arpRequest = 1;
export const arpReply = 2;
/** Ethernet + ARP for IPv4 over Ethernet: 14 + 28 bytes (shorter on the wire never; padding follows). */
export const arpFrameLength = ethernetHeaderLength + 28;

/** An ARP packet for IPv4 over Ethernet, as views into the frame (no copies). */
export interface ArpPacket {
  readonly op: number;
  readonly ethSrc: Uint8Array;
  readonly senderMac: Uint8Array;
  readonly senderIp: Uint8Array;
  readonly targetMac: Uint8Array;
  readonly targetIp: Uint8Array;
}

/** Why a frame is not an IPv4-over-Ethernet ARP packet. */
export type ArpParseError = 'truncated' | 'notArp' | 'unsupportedArp';

/** Parses an Ethernet frame carrying ARP; never throws. */
export function parseArp(frame: Uint8Array): Result<ArpPacket, ArpParseError> {
  if (frame.length < arpFrameLength) return err('truncated');
  if (u16(frame, 12) !== etherTypeArp) return err('notArp');
  // htype 1 (Ethernet), ptype 0x0800, hlen 6, plen 4.
  if (!hasBytes(frame, 14, [0, 1, etherTypeIpv4 >> 8, etherTypeIpv4 & 0xff, 6, 4])) return err('unsupportedArp');
  return ok({
    op: u16(frame, 20),
    ethSrc: frame.subarray(6, 12),
    senderMac: frame.subarray(22, 28),
    senderIp: frame.subarray(28, 32),
    targetMac: frame.subarray(32, 38),
    targetIp: frame.subarray(38, 42),
  });
}

/** What an ARP frame we send says. */
export interface ArpFields {
  readonly ethDst: Uint8Array;
  readonly ethSrc: Uint8Array;
  readonly op: number;
  readonly senderMac: Uint8Array;
  readonly senderIp: Uint8Array;
  readonly targetMac: Uint8Array;
  readonly targetIp: Uint8Array;
}

/** Builds a 42-byte Ethernet + ARP frame (the NIC pads it to 60). */
export function buildArp(f: ArpFields): Uint8Array {
  const out = new Uint8Array(arpFrameLength);
  writeEthernetHeader(out, f.ethDst, f.ethSrc, etherTypeArp);
  out.set([0, 1, etherTypeIpv4 >> 8, 0, 6, 4, f.op >> 8, f.op & 0xff], 14);
  out.set(f.senderMac.subarray(0, 6), 22);
  out.set(f.senderIp.subarray(0, 4), 28);
  out.set(f.targetMac.subarray(0, 6), 32);
  out.set(f.targetIp.subarray(0, 4), 38);
  return out;
}

/** The reply to `request` for its target IP, from `mac`, unicast to the requester. */
export function buildArpReply(request: ArpPacket, mac: Uint8Array): Uint8Array {
  return buildArp({
    ethDst: request.senderMac,
    ethSrc: mac,
    op: arpReply,
    senderMac: mac,
    senderIp: request.targetIp,
    targetMac: request.senderMac,
    // 0.0.0.0 for an RFC 5227 probe: the reply still goes to the prober's MAC.
    targetIp: request.senderIp,
  });
}

const zeroMac = new Uint8Array(6);

/**
 * Gratuitous ARP for `ip` from `mac`, as MetalLB sends it: a broadcast request
 * `who-has IP tell IP` and a broadcast reply `IP is-at MAC` (sender = target = IP), so peers
 * that honour either form update their caches (RFC 5227 2.4, RFC 5944 4.6).
 */
export function buildGratuitousArp(mac: Uint8Array, ip: Uint8Array): readonly [Uint8Array, Uint8Array] {
  const common = { ethDst: broadcastMac, ethSrc: mac, senderMac: mac, senderIp: ip, targetIp: ip };
  return [buildArp({ ...common, op: arpRequest, targetMac: zeroMac }), buildArp({ ...common, op: arpReply, targetMac: broadcastMac })];
}

const unspecifiedIpv4 = new Uint8Array(4);

/**
 * An ARP probe for `ip` from `mac` (RFC 5227 2.1.1): a broadcast request with sender IP
 * 0.0.0.0, so that no peer's cache is touched, and target hardware address zero. Any host
 * using `ip` answers it.
 */
export function buildArpProbe(mac: Uint8Array, ip: Uint8Array): Uint8Array {
  return buildArp({ ethDst: broadcastMac, ethSrc: mac, op: arpRequest, senderMac: mac, senderIp: unspecifiedIpv4, targetMac: zeroMac, targetIp: ip });
}
