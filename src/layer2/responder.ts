import { arpRequest, buildArpReply, parseArp } from './packet/arp.js';
import { formatIpv4, formatIpv6, ipv4Key, ipv6Key } from './packet/address.js';
import { buildSolicitedAdvertisement, icmpv6NeighborAdvertisement, parseNeighborAdvertisement, parseNeighborSolicitation } from './packet/ndp.js';

/** Why a received frame got no answer; counted in `ironlb_layer2_drops_total{reason}`. */
export type DropReason =
  | 'malformed'
  | 'notRequest'
  | 'notOwned'
  | 'badSender'
  | 'conflict'
  | 'badHopLimit'
  | 'badChecksum'
  | 'invalidSolicitation';

/** The drop reasons, for pre-registering metric series. */
export const dropReasons: readonly DropReason[] = ['malformed', 'notRequest', 'notOwned', 'badSender', 'conflict', 'badHopLimit', 'badChecksum', 'invalidSolicitation'];

/** What the responder decided for one frame. */
export type Decision =
  | { readonly kind: 'reply'; readonly ip: string; readonly frame: Uint8Array }
  | { readonly kind: 'drop'; readonly reason: DropReason };

/** What the responder needs to know about one interface: its MAC and the addresses owned on it. */
export interface ResponderView {
  readonly mac: Uint8Array;
  /** IPv4 key (ipv4Key) -> owned here */
  ownsIpv4(key: number): boolean;
  /** IPv6 key (ipv6Key) -> owned here */
  ownsIpv6(key: string): boolean;
}

const drop = (reason: DropReason): Decision => ({ kind: 'drop', reason });

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** A group (multicast or broadcast) or all-zero MAC: no host has it, so nobody to answer. */
function badMac(mac: Uint8Array): boolean {
  return ((mac[0] ?? 0) & 1) === 1 || mac.every((b) => b === 0);
}

/**
 * An ARP request whose sender could not be a host: a group or zero hardware address (in the
 * Ethernet header or the ARP body), or a multicast/broadcast sender IP (224.0.0.0/4 and up).
 * 0.0.0.0 stays valid: that is an RFC 5227 probe, answered like any request.
 */
function badArpSender(ethSrc: Uint8Array, senderMac: Uint8Array, senderIp: Uint8Array): boolean {
  return badMac(ethSrc) || badMac(senderMac) || (senderIp[0] ?? 0) >= 224;
}

/**
 * Decides the answer to an ARP frame: a reply from `view.mac` for a request (including an
 * RFC 5227 probe from 0.0.0.0) whose target is owned here, else a drop reason. Pure.
 */
export function respondArp(frame: Uint8Array, view: ResponderView): Decision {
  const parsed = parseArp(frame);
  if (!parsed.ok) return drop('malformed');
  const arp = parsed.value;
  // Another MAC using an address we own as its sender (a gratuitous ARP, RFC 5227 "conflict"):
  // not a question to answer, and never a reason to change who owns it (the interface session
  // reports it; the speaker logs and counts it; ownership comes from the API only).
  if (view.ownsIpv4(ipv4Key(arp.senderIp)) && !sameBytes(arp.senderMac, view.mac)) return drop('conflict');
  if (arp.op !== arpRequest) return drop('notRequest');
  if (badArpSender(arp.ethSrc, arp.senderMac, arp.senderIp)) return drop('badSender');
  if (!view.ownsIpv4(ipv4Key(arp.targetIp))) return drop('notOwned');
  return { kind: 'reply', ip: formatIpv4(arp.targetIp), frame: buildArpReply(arp, view.mac) };
}

/**
 * A Neighbor Advertisement is never answered; one for an owned address from another MAC (its
 * target link-layer option, else the Ethernet source) is another host claiming it: `conflict`,
 * as the ARP side does for gratuitous ARP (RFC 4862 5.4.4).
 */
function advertisementDrop(frame: Uint8Array, view: ResponderView): Decision {
  const na = parseNeighborAdvertisement(frame);
  if (!na.ok) return drop(na.error === 'notIcmpv6' || na.error === 'truncated' ? 'malformed' : na.error === 'notSolicitation' ? 'notRequest' : na.error);
  if (!view.ownsIpv6(ipv6Key(na.value.target))) return drop('notRequest');
  return sameBytes(na.value.targetLinkAddress ?? na.value.ethSrc, view.mac) ? drop('notRequest') : drop('conflict');
}

/**
 * Decides the answer to an IPv6 frame: a Neighbor Advertisement for a valid Neighbor
 * Solicitation (multicast or unicast, with or without a source link-layer option, or DAD)
 * whose target is owned here, else a drop reason. Pure.
 */
export function respondNdp(frame: Uint8Array, view: ResponderView): Decision {
  if (frame[54] === icmpv6NeighborAdvertisement) return advertisementDrop(frame, view);
  const parsed = parseNeighborSolicitation(frame);
  if (!parsed.ok) {
    switch (parsed.error) {
      case 'truncated':
      case 'notIcmpv6':
        return drop('malformed');
      case 'notSolicitation':
        return drop('notRequest');
      default:
        return drop(parsed.error);
    }
  }
  const ns = parsed.value;
  if (!view.ownsIpv6(ipv6Key(ns.target))) return drop('notOwned');
  return { kind: 'reply', ip: formatIpv6(ns.target), frame: buildSolicitedAdvertisement(ns, view.mac) };
}
