import type { IpBytes } from './packet/address.js';

/** An on-link prefix configured on an interface. */
export interface InterfacePrefix {
  readonly family: 4 | 6;
  readonly bytes: Uint8Array;
  readonly length: number;
}

/** What the announcer needs to know about one network interface (read by src/sys). */
export interface NetInterface {
  readonly name: string;
  readonly index: number;
  /** `aa:bb:cc:dd:ee:ff`; undefined for links without an Ethernet address. */
  readonly mac: string | undefined;
  /** Administratively up and carrier present (IFF_UP and IFF_LOWER_UP). */
  readonly up: boolean;
  readonly noArp: boolean;
  readonly loopback: boolean;
  /** Enslaved to a bond or bridge: the master answers, not the member (MetalLB #597). */
  readonly member: boolean;
  readonly prefixes: readonly InterfacePrefix[];
  /** Carries the default route for that family. */
  readonly defaultRoute4: boolean;
  readonly defaultRoute6: boolean;
}

/** How interfaces are chosen for an IP. */
export interface InterfacePolicy {
  /** Names or globs (`*`, `?`); empty = any interface. */
  readonly patterns: readonly string[];
  /**
   * When true, every usable interface matching `patterns` announces every IP (the `announce`
   * command: the user named the interface). When false, prefix match, else default route.
   */
  readonly explicit: boolean;
}

function globToRegExp(glob: string): RegExp {
  const body = glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${body}$`);
}

/** Whether `name` matches one of the patterns (or there are none). */
export function matchesPatterns(name: string, patterns: readonly string[]): boolean {
  return patterns.length === 0 || patterns.some((p) => globToRegExp(p).test(name));
}

/** Up, ARP-capable, not loopback, not a bond/bridge member, with a MAC. */
export function isUsable(iface: NetInterface): boolean {
  return iface.up && !iface.noArp && !iface.loopback && !iface.member && iface.mac !== undefined;
}

/** Whether `ip` lies inside `prefix`. */
export function prefixContains(prefix: InterfacePrefix, ip: IpBytes): boolean {
  if (prefix.family !== ip.family) return false;
  let bits = prefix.length;
  for (let i = 0; i < prefix.bytes.length && bits > 0; i++, bits -= 8) {
    const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
    if (((prefix.bytes[i] ?? 0) & mask) !== ((ip.bytes[i] ?? 0) & mask)) return false;
  }
  return true;
}

/**
 * The interfaces that announce `ip`: usable ones matching the policy whose prefixes contain it,
 * else the usable default-route interfaces of its family (DESIGN.md "Election and announcement").
 */
export function chooseInterfaces(ip: IpBytes, ifaces: readonly NetInterface[], policy: InterfacePolicy): readonly NetInterface[] {
  const usable = ifaces.filter((i) => isUsable(i) && matchesPatterns(i.name, policy.patterns));
  if (policy.explicit) return usable;
  const onLink = usable.filter((i) => i.prefixes.some((p) => prefixContains(p, ip)));
  if (onLink.length > 0) return onLink;
  return usable.filter((i) => (ip.family === 4 ? i.defaultRoute4 : i.defaultRoute6));
}
