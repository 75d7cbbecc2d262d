import { arpRequest, buildArpProbe, parseArp } from './packet/arp.js';
import { formatMac, ipv4Key, ipv6Key, type IpBytes } from './packet/address.js';
import { buildDadSolicitation, icmpv6NeighborAdvertisement, parseNeighborAdvertisement, parseNeighborSolicitation } from './packet/ndp.js';

/**
 * Probing an address before announcing it (RFC 5227 for IPv4, RFC 4862 5.4 DAD for IPv6):
 * what goes out, when, and which received frame means "another host uses it". Pure.
 */

/** When probes go out and when the answer window closes, from the start of a probe. */
export interface ProbeTiming {
  /** Offsets of the probes (ARP probe / DAD solicitation), ms. */
  readonly sendAtMs: readonly number[];
  /** No conflict seen by this offset: the address is free, ms. */
  readonly windowMs: number;
}

/**
 * Three probes 200 ms apart and a 600 ms window, where RFC 5227 2.1.1 takes 1-2 s between
 * probes after a random 0-1 s wait (PROBE_WAIT) and waits ANNOUNCE_WAIT (2 s) after the last,
 * and RFC 4862 5.4 waits one RetransTimer (1 s) after one solicitation. Why shorter:
 * - The random wait exists so that hosts powered on together do not probe in step; here one
 *   elected node probes each address, so there is nobody to desynchronise from.
 * - A host that has the address answers at once: its kernel replies from the receive path
 *   (docs/layer2.md measured 3-26 us on veth). The window only has to cover the LAN's worst
 *   round trip and a busy host, which is milliseconds, not seconds.
 * - Three probes, not one: a lost frame must not let a conflict through (RFC 5227 sends
 *   PROBE_NUM = 3 for the same reason). The last leaves 200 ms before the window closes.
 * The cost: 600 ms before the first gratuitous announcement of an address since it was
 * assigned (bench row `speaker.first_announce_ms`); a takeover of an address already
 * announced does not probe.
 */
export const defaultProbeTiming: ProbeTiming = { sendAtMs: [0, 200, 400], windowMs: 600 };

/** The frame that probes `ip` from `mac`: an ARP probe (sender 0.0.0.0) or a DAD solicitation (from ::). */
export function buildProbe(mac: Uint8Array, ip: IpBytes): Uint8Array {
  return ip.family === 4 ? buildArpProbe(mac, ip.bytes) : buildDadSolicitation(mac, ip.bytes);
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

const allZero = (b: Uint8Array): boolean => b.every((x) => x === 0);

/**
 * The MAC of another host claiming `ip`, when `frame` is one, else undefined. A claim is
 * (RFC 5227 2.1.1, RFC 4862 5.4.3-5.4.4):
 * - ARP, any operation, with `ip` as sender address (an answer to our probe, a gratuitous ARP,
 *   an ordinary request from a host using it);
 * - an ARP probe for `ip` (sender 0.0.0.0) from another MAC: a host probing for it too;
 * - a Neighbor Advertisement for `ip` (an answer to our DAD probe, or unsolicited);
 * - a DAD solicitation for `ip` (from ::) from another MAC.
 * Frames from `ourMac` are ours (a loop, a bond) and never a claim.
 *
 * `owned`: we announce `ip` already (a self-check). Another host's probe is then a question we
 * answer, not a claim: RFC 5227 2.4 counts only ARP with our address as the *sender* as a
 * conflict once an address is in use, and a standby checks its owner with exactly such probes
 * (docs/election.md, "1,000 nodes").
 */
export function claimant(frame: Uint8Array, ip: IpBytes, ourMac: Uint8Array, owned = false): string | undefined {
  return ip.family === 4 ? arpClaimant(frame, ip.key, ourMac, owned) : ndpClaimant(frame, ip.key, ourMac, owned);
}

function arpClaimant(frame: Uint8Array, key: number, ourMac: Uint8Array, owned: boolean): string | undefined {
  const parsed = parseArp(frame);
  if (!parsed.ok) return undefined;
  const arp = parsed.value;
  if (sameBytes(arp.senderMac, ourMac)) return undefined;
  if (ipv4Key(arp.senderIp) === key) return formatMac(arp.senderMac);
  const probing = !owned && arp.op === arpRequest && allZero(arp.senderIp) && ipv4Key(arp.targetIp) === key;
  return probing ? formatMac(arp.senderMac) : undefined;
}

function ndpClaimant(frame: Uint8Array, key: string, ourMac: Uint8Array, owned: boolean): string | undefined {
  if (frame[54] === icmpv6NeighborAdvertisement) return advertisementClaimant(frame, key, ourMac);
  if (owned) return undefined;
  const ns = parseNeighborSolicitation(frame);
  if (!ns.ok || !allZero(ns.value.srcIp) || ipv6Key(ns.value.target) !== key) return undefined;
  return sameBytes(ns.value.ethSrc, ourMac) ? undefined : formatMac(ns.value.ethSrc);
}

function advertisementClaimant(frame: Uint8Array, key: string, ourMac: Uint8Array): string | undefined {
  const na = parseNeighborAdvertisement(frame);
  if (!na.ok || ipv6Key(na.value.target) !== key) return undefined;
  const mac = na.value.targetLinkAddress ?? na.value.ethSrc;
  return sameBytes(mac, ourMac) ? undefined : formatMac(mac);
}
