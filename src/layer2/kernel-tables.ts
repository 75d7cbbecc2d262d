import type { InterfacePrefix, NetInterface } from './interfaces.js';
import { parseIpv4, parseIpv6 } from './packet/address.js';

/**
 * What the kernel says about one link, as read from `/sys/class/net/IF/` (see the kernel's
 * Documentation/ABI/testing/sysfs-class-net). Parsed into a {@link NetInterface} by
 * {@link toNetInterfaces}; reading the files is src/sys's job.
 */
export interface LinkFacts {
  readonly name: string;
  /** `ifindex`. */
  readonly index: number;
  /** `type`: an ARPHRD_* number (1 = Ethernet, 772 = loopback). */
  readonly type: number;
  /** `address`: the link-layer address as the kernel prints it. */
  readonly address: string;
  /** `flags`: the IFF_* bits in hex (`0x1003`). */
  readonly flags: number;
  /** `carrier` reads 1 (netif_carrier_ok, what `ip` shows as LOWER_UP); false when unreadable (link down). */
  readonly carrier: boolean;
  /** The `master` link's name (bond, bridge, VRF, team, OVS), if any. */
  readonly master: string | undefined;
  /** DEVTYPE from the master's `uevent` (`bridge`, `bond`, `vrf`, ...), if it has one. */
  readonly masterKind: string | undefined;
}

/** An IPv4 address as `os.networkInterfaces()` reports it: the name may be a label (`eth0:1`). */
export interface Ipv4Entry {
  readonly name: string;
  readonly address: string;
  /** Prefix length, from the entry's `cidr`. */
  readonly length: number;
}

// include/uapi/linux/if.h
const iffUp = 0x1;
const iffLoopback = 0x8;
const iffNoArp = 0x80;
// include/uapi/linux/if_arp.h
const arphrdEther = 1;
// include/uapi/linux/if_addr.h: a DAD-failed address is not the node's (RFC 4862 5.4.5).
const ifaFDadFailed = 0x08;
// include/uapi/linux/route.h
const rtfUp = 0x0001;
const rtfReject = 0x0200;

/**
 * Parses `/proc/net/if_inet6` ("address ifindex prefixlen scope flags name", hex fields, one
 * address a line) into prefixes per interface name. DAD-failed addresses are left out; tentative
 * ones are kept, their prefix is on-link whatever DAD says. Lines it cannot read are skipped.
 */
export function parseIfInet6(text: string): ReadonlyMap<string, readonly InterfacePrefix[]> {
  const out = new Map<string, InterfacePrefix[]>();
  for (const line of text.split('\n')) {
    const entry = parseIfInet6Line(line);
    if (entry !== undefined) out.set(entry.name, [...(out.get(entry.name) ?? []), entry.prefix]);
  }
  return out;
}

function parseIfInet6Line(line: string): { name: string; prefix: InterfacePrefix } | undefined {
  const [hex, , len, , flags, name] = line.trim().split(/\s+/);
  if (hex?.length !== 32 || len === undefined || flags === undefined || name === undefined) return undefined;
  if ((Number.parseInt(flags, 16) & ifaFDadFailed) !== 0) return undefined;
  const bytes = parseIpv6(hex.replace(/(.{4})(?!$)/g, '$1:'));
  const length = Number.parseInt(len, 16);
  return bytes === undefined || !(length >= 0 && length <= 128) ? undefined : { name, prefix: { family: 6, bytes, length } };
}

/**
 * The interfaces carrying an IPv4 default route, from `/proc/net/route` (header line, then
 * "Iface Destination Gateway Flags RefCnt Use Metric Mask ..." in hex): destination and mask 0,
 * route up and not a reject route.
 */
export function defaultRouteDevices4(text: string): ReadonlySet<string> {
  const out = new Set<string>();
  for (const line of text.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    const [dev, dst, , flags, , , , mask] = f;
    if (dev === undefined || flags === undefined || dst !== '00000000' || mask !== '00000000') continue;
    if (isUsableRoute(flags)) out.add(dev);
  }
  return out;
}

/**
 * The interfaces carrying an IPv6 default route, from `/proc/net/ipv6_route` ("dst dstlen src
 * srclen nexthop metric refcnt use flags dev", hex): `::/0`, up and not a reject route (the
 * kernel lists unreachable defaults on `lo`).
 */
export function defaultRouteDevices6(text: string): ReadonlySet<string> {
  const out = new Set<string>();
  for (const line of text.split('\n')) {
    const [dst, dstLen, , , , , , , flags, dev] = line.trim().split(/\s+/);
    if (dev === undefined || flags === undefined || dst !== '0'.repeat(32) || dstLen !== '00') continue;
    if (isUsableRoute(flags)) out.add(dev);
  }
  return out;
}

function isUsableRoute(flagsHex: string): boolean {
  const flags = Number.parseInt(flagsHex, 16);
  return (flags & rtfUp) !== 0 && (flags & rtfReject) === 0;
}

function ipv4Prefixes(entries: readonly Ipv4Entry[]): ReadonlyMap<string, readonly InterfacePrefix[]> {
  const out = new Map<string, InterfacePrefix[]>();
  for (const e of entries) {
    // A label is the device name, ':' and a suffix; ':' is not allowed in a device name (dev_valid_name).
    const device = e.name.split(':')[0] ?? e.name;
    const bytes = parseIpv4(e.address);
    if (bytes === undefined || !(e.length >= 0 && e.length <= 32)) continue;
    out.set(device, [...(out.get(device) ?? []), { family: 4, bytes, length: e.length }]);
  }
  return out;
}

/** The kernel tables an interface list is built from. */
export interface KernelTables {
  readonly links: readonly LinkFacts[];
  readonly ipv4: readonly Ipv4Entry[];
  /** `/proc/net/if_inet6` text. */
  readonly ifInet6: string;
  /** `/proc/net/route` text. */
  readonly route4: string;
  /** `/proc/net/ipv6_route` text. */
  readonly route6: string;
}

/**
 * Builds the announcer's view of the interfaces from what the kernel says. A link enslaved to a
 * master counts as a member (the master answers for the segment, MetalLB #597), except under a
 * VRF, which routes for its links rather than answering in their place.
 */
export function toNetInterfaces(tables: KernelTables): readonly NetInterface[] {
  const v4 = ipv4Prefixes(tables.ipv4);
  const v6 = parseIfInet6(tables.ifInet6);
  const d4 = defaultRouteDevices4(tables.route4);
  const d6 = defaultRouteDevices6(tables.route6);
  return tables.links.map((l) => ({
    name: l.name,
    index: l.index,
    mac: l.type === arphrdEther ? l.address : undefined,
    up: (l.flags & iffUp) !== 0 && l.carrier,
    noArp: (l.flags & iffNoArp) !== 0,
    loopback: (l.flags & iffLoopback) !== 0,
    member: l.master !== undefined && l.masterKind !== 'vrf',
    prefixes: [...(v4.get(l.name) ?? []), ...(v6.get(l.name) ?? [])],
    defaultRoute4: d4.has(l.name),
    defaultRoute6: d6.has(l.name),
  }));
}
