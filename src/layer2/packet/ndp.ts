import { err, ok, type Result } from '../../shared/result.js';
import { hasBytes, u16, u8 } from './bytes.js';
import { etherTypeIpv6, ethernetHeaderLength, writeEthernetHeader } from './ethernet.js';

/** IPv6 next header value for ICMPv6. */
export const nextHeaderIcmpv6 = 58;
export const icmpv6NeighborSolicitation = 135;
export const icmpv6NeighborAdvertisement = 136;
/** RFC 4861 7.1.1 / 7.1.2: ND messages must arrive with hop limit 255 (not forwarded). */
export const ndHopLimit = 255;
const ipv6HeaderLength = 40;
const icmpOffset = ethernetHeaderLength + ipv6HeaderLength;
/** ICMPv6 type + code + checksum + reserved/flags + target: 24 bytes before options. */
const ndFixedLength = 24;
const optionSourceLinkAddress = 1;
const optionTargetLinkAddress = 2;

/** NA flags (RFC 4861 4.4). */
export const naFlagRouter = 0x80;
export const naFlagSolicited = 0x40;
export const naFlagOverride = 0x20;

/** ff02::1, all nodes (RFC 4291 2.7.1). */
export const allNodesIp: Uint8Array = new Uint8Array([0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
/** 33:33:00:00:00:01, the Ethernet group of ff02::1 (RFC 2464 7). */
export const allNodesMac: Uint8Array = new Uint8Array([0x33, 0x33, 0, 0, 0, 1]);

/** A parsed, validated Neighbor Solicitation, as views into the frame. */
export interface NeighborSolicitation {
  readonly ethSrc: Uint8Array;
  readonly srcIp: Uint8Array;
  readonly dstIp: Uint8Array;
  readonly target: Uint8Array;
  /** The source link-layer address option, when present (absent in DAD and some unicast NUD probes). */
  readonly sourceLinkAddress: Uint8Array | undefined;
}

/** Why a frame is not an acceptable Neighbor Solicitation (RFC 4861 7.1.1). */
export type NsParseError = 'truncated' | 'notIcmpv6' | 'notSolicitation' | 'badHopLimit' | 'badChecksum' | 'invalidSolicitation';

/** The solicited-node multicast address of `ip` (ff02::1:ffXX:XXXX, RFC 4291 2.7.1). */
export function solicitedNodeIp(ip: Uint8Array): Uint8Array {
  const out = new Uint8Array([0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff, 0, 0, 0]);
  out.set(ip.subarray(13, 16), 13);
  return out;
}

/** The Ethernet group of an IPv6 multicast address: 33:33 + its last 4 bytes (RFC 2464 7). */
export function multicastMac(ip: Uint8Array): Uint8Array {
  const out = new Uint8Array([0x33, 0x33, 0, 0, 0, 0]);
  out.set(ip.subarray(12, 16), 2);
  return out;
}

/** The Internet checksum of the ICMPv6 message `icmp` with the IPv6 pseudo-header (RFC 4443 2.3). */
export function icmpv6Checksum(src: Uint8Array, dst: Uint8Array, icmp: Uint8Array): number {
  let sum = icmp.length + nextHeaderIcmpv6;
  for (let i = 0; i < 16; i += 2) sum += u16(src, i) + u16(dst, i);
  for (let i = 0; i < icmp.length; i += 2) sum += u16(icmp, i);
  while (sum > 0xffff) sum = (sum & 0xffff) + Math.floor(sum / 0x10000);
  return ~sum & 0xffff;
}

function isUnspecified(ip: Uint8Array): boolean {
  return ip.every((b) => b === 0);
}

function isSolicitedNodeGroup(ip: Uint8Array): boolean {
  return hasBytes(ip, 0, [0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff]);
}

/** Walks NDP options; returns the link-layer address option of `type`, null when one is malformed. */
function readLinkAddress(options: Uint8Array, type = optionSourceLinkAddress): Uint8Array | undefined | null {
  let found: Uint8Array | undefined;
  for (let at = 0; at < options.length; ) {
    const units = u8(options, at + 1);
    // RFC 4861 4.6: a zero length is invalid and the packet must be dropped.
    if (units === 0 || at + units * 8 > options.length) return null;
    if (options[at] === type && units === 1) found = options.subarray(at + 2, at + 8);
    at += units * 8;
  }
  return found;
}

/** Header checks before the ICMPv6 body of an ND message of `type`; returns the ICMPv6 message or a reason. */
function icmpv6Message(frame: Uint8Array, type = icmpv6NeighborSolicitation): Result<Uint8Array, NsParseError> {
  if (frame.length < icmpOffset + ndFixedLength) return err('truncated');
  const isIpv6 = u16(frame, 12) === etherTypeIpv6 && u8(frame, 14) >> 4 === 6;
  if (!isIpv6 || frame[20] !== nextHeaderIcmpv6) return err('notIcmpv6');
  const payloadLength = u16(frame, 18);
  if (payloadLength < ndFixedLength || icmpOffset + payloadLength > frame.length) return err('truncated');
  if (frame[icmpOffset] !== type) return err('notSolicitation');
  if (frame[21] !== ndHopLimit) return err('badHopLimit');
  return ok(frame.subarray(icmpOffset, icmpOffset + payloadLength));
}

/**
 * Parses and validates an Ethernet frame carrying an ICMPv6 Neighbor Solicitation, as RFC 4861
 * 7.1.1 requires: hop limit 255, valid checksum, code 0, target not multicast, options well
 * formed, and a DAD solicitation (source ::) sent to a solicited-node group without a source
 * link-layer option. Never throws.
 */
export function parseNeighborSolicitation(frame: Uint8Array): Result<NeighborSolicitation, NsParseError> {
  const message = icmpv6Message(frame);
  if (!message.ok) return message;
  const icmp = message.value;
  const srcIp = frame.subarray(22, 38);
  const dstIp = frame.subarray(38, 54);
  if (icmpv6Checksum(srcIp, dstIp, icmp) !== 0) return err('badChecksum');
  const target = icmp.subarray(8, 24);
  const sourceLinkAddress = readLinkAddress(icmp.subarray(ndFixedLength));
  if (icmp[1] !== 0 || target[0] === 0xff || sourceLinkAddress === null) return err('invalidSolicitation');
  if (isUnspecified(srcIp) && (!isSolicitedNodeGroup(dstIp) || sourceLinkAddress !== undefined)) return err('invalidSolicitation');
  return ok({ ethSrc: frame.subarray(6, 12), srcIp, dstIp, target, sourceLinkAddress });
}

/** What a Neighbor Advertisement we send says. */
export interface AdvertisementFields {
  readonly ethDst: Uint8Array;
  readonly ethSrc: Uint8Array;
  readonly srcIp: Uint8Array;
  readonly dstIp: Uint8Array;
  readonly target: Uint8Array;
  /** naFlag* bits */
  readonly flags: number;
  /** Sent as the target link-layer address option. */
  readonly targetMac: Uint8Array;
}

/** Builds Ethernet + IPv6 (hop limit 255) + NA with a target link-layer option and its checksum: 86 bytes. */
export function buildNeighborAdvertisement(f: AdvertisementFields): Uint8Array {
  const icmpLength = ndFixedLength + 8;
  const out = new Uint8Array(icmpOffset + icmpLength);
  writeEthernetHeader(out, f.ethDst, f.ethSrc, etherTypeIpv6);
  out.set([0x60, 0, 0, 0, icmpLength >> 8, icmpLength & 0xff, nextHeaderIcmpv6, ndHopLimit], 14);
  out.set(f.srcIp.subarray(0, 16), 22);
  out.set(f.dstIp.subarray(0, 16), 38);
  const icmp = out.subarray(icmpOffset);
  icmp[0] = icmpv6NeighborAdvertisement;
  icmp[4] = f.flags;
  icmp.set(f.target.subarray(0, 16), 8);
  icmp.set([optionTargetLinkAddress, 1], 24);
  icmp.set(f.targetMac.subarray(0, 6), 26);
  const sum = icmpv6Checksum(f.srcIp, f.dstIp, icmp);
  icmp[2] = sum >> 8;
  icmp[3] = sum & 0xff;
  return out;
}

/** An unsolicited NA for `ip` from `mac`: to ff02::1, override set, solicited clear (RFC 4861 7.2.6). */
export function buildUnsolicitedAdvertisement(mac: Uint8Array, ip: Uint8Array): Uint8Array {
  return buildNeighborAdvertisement({ ethDst: allNodesMac, ethSrc: mac, srcIp: ip, dstIp: allNodesIp, target: ip, flags: naFlagOverride, targetMac: mac });
}

/**
 * The answer to `ns` from `mac` (RFC 4861 7.2.4), sent from the target address as the kernel
 * does for its own addresses (ndisc6 ignores an NA from a link-local source for a global target).
 * A DAD solicitation (source ::) gets an NA to ff02::1 without the solicited flag; others get a
 * solicited NA unicast to the soliciter: to its source link-layer option, or, when it sent none
 * (unicast NUD probes, MetalLB #2920), to the frame's Ethernet source.
 */
export function buildSolicitedAdvertisement(ns: NeighborSolicitation, mac: Uint8Array): Uint8Array {
  if (isUnspecified(ns.srcIp)) return buildUnsolicitedAdvertisement(mac, ns.target);
  return buildNeighborAdvertisement({
    ethDst: ns.sourceLinkAddress ?? ns.ethSrc,
    ethSrc: mac,
    srcIp: ns.target,
    dstIp: ns.srcIp,
    target: ns.target,
    flags: naFlagSolicited | naFlagOverride,
    targetMac: mac,
  });
}

/** A parsed, validated Neighbor Advertisement, as views into the frame. */
export interface NeighborAdvertisement {
  readonly ethSrc: Uint8Array;
  readonly target: Uint8Array;
  /** The target link-layer address option, when present (RFC 4861 4.4). */
  readonly targetLinkAddress: Uint8Array | undefined;
}

/**
 * Parses and validates an Ethernet frame carrying an ICMPv6 Neighbor Advertisement as RFC 4861
 * 7.1.2 requires (hop limit 255, valid checksum, code 0, target not multicast, options well
 * formed). Another host's answer to a DAD probe, or its unsolicited claim of an address.
 * Never throws.
 */
export function parseNeighborAdvertisement(frame: Uint8Array): Result<NeighborAdvertisement, NsParseError> {
  const message = icmpv6Message(frame, icmpv6NeighborAdvertisement);
  if (!message.ok) return message;
  const icmp = message.value;
  if (icmpv6Checksum(frame.subarray(22, 38), frame.subarray(38, 54), icmp) !== 0) return err('badChecksum');
  const target = icmp.subarray(8, 24);
  const targetLinkAddress = readLinkAddress(icmp.subarray(ndFixedLength), optionTargetLinkAddress);
  if (icmp[1] !== 0 || target[0] === 0xff || targetLinkAddress === null) return err('invalidSolicitation');
  return ok({ ethSrc: frame.subarray(6, 12), target, targetLinkAddress });
}

const unspecifiedIp = new Uint8Array(16);

/**
 * A Duplicate Address Detection probe for `target` from `mac` (RFC 4862 5.4.2): a Neighbor
 * Solicitation from the unspecified address to the target's solicited-node group, hop limit
 * 255, without a source link-layer option (RFC 4861 7.1.1 forbids one from ::). 78 bytes.
 */
export function buildDadSolicitation(mac: Uint8Array, target: Uint8Array): Uint8Array {
  const group = solicitedNodeIp(target);
  const out = new Uint8Array(icmpOffset + ndFixedLength);
  writeEthernetHeader(out, multicastMac(group), mac, etherTypeIpv6);
  out.set([0x60, 0, 0, 0, 0, ndFixedLength, nextHeaderIcmpv6, ndHopLimit], 14);
  out.set(unspecifiedIp, 22);
  out.set(group, 38);
  const icmp = out.subarray(icmpOffset);
  icmp[0] = icmpv6NeighborSolicitation;
  icmp.set(target.subarray(0, 16), 8);
  const sum = icmpv6Checksum(unspecifiedIp, group, icmp);
  icmp[2] = sum >> 8;
  icmp[3] = sum & 0xff;
  return out;
}
