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

/**
 * A test for interface names against `patterns` (names or globs), each compiled once: build it
 * once per policy, not once per address, since a speaker chooses interfaces for every address it
 * owns or probes.
 */
export function patternMatcher(patterns: readonly string[]): (name: string) => boolean {
  if (patterns.length === 0) return () => true;
  const compiled = patterns.map(globToRegExp);
  return (name) => compiled.some((re) => re.test(name));
}

/** Whether `name` matches one of the patterns (or there are none). */
export function matchesPatterns(name: string, patterns: readonly string[]): boolean {
  return patternMatcher(patterns)(name);
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

/** The interfaces of `ifaces` that may announce anything: usable ones whose names pass `matches` ({@link patternMatcher}). */
export function eligibleInterfaces(ifaces: readonly NetInterface[], matches: (name: string) => boolean): readonly NetInterface[] {
  return ifaces.filter((i) => isUsable(i) && matches(i.name));
}

/**
 * Among `eligible` ({@link eligibleInterfaces}), the ones that announce `ip`: all of them when
 * `explicit`, else those whose prefixes contain it, else those with the default route of its family.
 */
export function pickInterfaces(ip: IpBytes, eligible: readonly NetInterface[], explicit: boolean): readonly NetInterface[] {
  if (explicit) return eligible;
  const onLink = eligible.filter((i) => i.prefixes.some((p) => prefixContains(p, ip)));
  if (onLink.length > 0) return onLink;
  return eligible.filter((i) => (ip.family === 4 ? i.defaultRoute4 : i.defaultRoute6));
}

/**
 * The interfaces that announce `ip`: usable ones matching the policy whose prefixes contain it,
 * else the usable default-route interfaces of its family (DESIGN.md "Election and announcement").
 */
export function chooseInterfaces(ip: IpBytes, ifaces: readonly NetInterface[], policy: InterfacePolicy): readonly NetInterface[] {
  return pickInterfaces(ip, eligibleInterfaces(ifaces, patternMatcher(policy.patterns)), policy.explicit);
}

const samePrefix = (a: InterfacePrefix, b: InterfacePrefix): boolean =>
  a.family === b.family && a.length === b.length && a.bytes.length === b.bytes.length && a.bytes.every((x, i) => x === b.bytes[i]);

const sameLink = (a: NetInterface, b: NetInterface): boolean =>
  a.name === b.name && a.index === b.index && a.mac === b.mac && a.up === b.up && a.noArp === b.noArp && a.loopback === b.loopback && a.member === b.member;

const sameRouting = (a: NetInterface, b: NetInterface): boolean =>
  a.defaultRoute4 === b.defaultRoute4 && a.defaultRoute6 === b.defaultRoute6 && a.prefixes.length === b.prefixes.length && a.prefixes.every((p, i) => samePrefix(p, b.prefixes[i] ?? p));

/**
 * Whether two readings of the host's interfaces say the same, field by field and in the same
 * order: when they do, every address keeps the interfaces chosen for it.
 */
export function sameInterfaces(a: readonly NetInterface[], b: readonly NetInterface[]): boolean {
  return a.length === b.length && a.every((iface, i) => { const other = b[i]; return other !== undefined && sameLink(iface, other) && sameRouting(iface, other); });
}
