import { compareStrings } from '../election/eligibility.js';
import type { NodeReach } from '../election/reach.js';
import { formatCidr, parseCidr, type Cidr } from '../ip/cidr.js';
import type { NodeName } from '../shared/brand.js';
import { err, ok, type Result } from '../shared/result.js';

/**
 * The annotation a speaker keeps on its own Lease: the interfaces it can announce on, with
 * their MACs and on-link prefixes, e.g.
 * `ironlb.io/interfaces: eth0=02:00:00:00:00:01;192.0.2.0/24,2001:db8::/64 eth1=02:00:00:00:00:02;`.
 * Peers read it to elect only nodes that can reach an IP (docs/election.md, "Reach") and to
 * name the node behind a MAC (docs/speaker.md).
 */
export const interfacesAnnotation = 'ironlb.io/interfaces';

/** One announceable interface as a speaker publishes it. */
export interface PublishedInterface {
  /** The kernel's name for it (at most 15 bytes, never containing `/`, `:` or white space). */
  readonly name: string;
  /** Lower-case `aa:bb:cc:dd:ee:ff`. */
  readonly mac: string;
  /** On-link networks (host bits zero), deduplicated, IPv4 first, each family in address order. */
  readonly prefixes: readonly Cidr[];
}

/**
 * What a peer's Lease says about its interfaces: the list it published, nothing (a speaker of
 * an older version, or one that has not read its interfaces yet), or a value this version
 * cannot read (a newer format, or damage). Election treats the last two alike.
 */
export type InterfacesRecord =
  | { readonly kind: 'published'; readonly interfaces: readonly PublishedInterface[] }
  | { readonly kind: 'absent' }
  | { readonly kind: 'invalid'; readonly text: string; readonly message: string };

const macPattern = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;

function compareCidrs(a: Cidr, b: Cidr): number {
  if (a.family !== b.family) return a.family - b.family;
  if (a.base !== b.base) return a.base < b.base ? -1 : 1;
  return a.prefix - b.prefix;
}

/** The interface with its MAC lower-cased and its prefixes deduplicated and sorted: the canonical form. */
export function canonicalInterface(iface: PublishedInterface): PublishedInterface {
  const byText = new Map(iface.prefixes.map((p) => [formatCidr(p), p]));
  return { name: iface.name, mac: iface.mac.toLowerCase(), prefixes: [...byText.values()].sort(compareCidrs) };
}

/**
 * The annotation value for `interfaces`: `name=mac;prefix,prefix` per interface, sorted by
 * name, separated by one space. The same set always gives the same text, so an unchanged set
 * costs no extra Lease write.
 */
export function formatInterfacesRecord(interfaces: readonly PublishedInterface[]): string {
  return [...interfaces]
    .map(canonicalInterface)
    .sort((a, b) => compareStrings(a.name, b.name))
    .map((i) => `${i.name}=${i.mac};${i.prefixes.map(formatCidr).join(',')}`)
    .join(' ');
}

/**
 * Parses an annotation value written by {@link formatInterfacesRecord}. Strict: one bad entry
 * makes the whole value unreadable (the error names it), so a peer is never judged on half of
 * what it said. The name is everything before the entry's last `=` (Linux allows `=` and `;`
 * in interface names, but not in MACs or prefixes).
 */
export function parseInterfacesRecord(text: string): Result<readonly PublishedInterface[], string> {
  const out: PublishedInterface[] = [];
  const entries = text.split(/\s+/).filter((e) => e !== '');
  for (const [i, entry] of entries.entries()) {
    const parsed = parseEntry(entry);
    if (!parsed.ok) return err(`entry ${i + 1} "${entry}": ${parsed.error}`);
    if (out.some((o) => o.name === parsed.value.name)) return err(`entry ${i + 1} "${entry}": interface ${parsed.value.name} listed twice`);
    out.push(parsed.value);
  }
  return ok(out);
}

function parseEntry(entry: string): Result<PublishedInterface, string> {
  const eq = entry.lastIndexOf('=');
  if (eq <= 0) return err('expected name=mac;prefixes');
  const name = entry.slice(0, eq);
  const rest = entry.slice(eq + 1);
  const semi = rest.indexOf(';');
  if (semi < 0) return err('expected name=mac;prefixes (no ";")');
  const mac = rest.slice(0, semi).toLowerCase();
  if (!macPattern.test(mac)) return err(`MAC "${rest.slice(0, semi)}" is not of the form aa:bb:cc:dd:ee:ff`);
  const prefixes: Cidr[] = [];
  for (const text of rest.slice(semi + 1).split(',').filter((p) => p !== '')) {
    const cidr = parseCidr(text);
    if (!cidr.ok) return err(`prefix "${text}" is not a network (${cidr.error.kind === 'invalid' ? cidr.error.reason : 'host bits set'})`);
    prefixes.push(cidr.value);
  }
  return ok(canonicalInterface({ name, mac, prefixes }));
}

/** The record a Lease annotation value stands for (undefined: the annotation is absent). */
export function toInterfacesRecord(value: string | undefined): InterfacesRecord {
  if (value === undefined) return { kind: 'absent' };
  const parsed = parseInterfacesRecord(value);
  return parsed.ok ? { kind: 'published', interfaces: parsed.value } : { kind: 'invalid', text: value, message: parsed.error };
}

/** What election may conclude from a record: the published prefixes, or unknown (absent or unreadable). */
export function reachOf(record: InterfacesRecord | undefined): NodeReach {
  if (record?.kind !== 'published') return { kind: 'unknown' };
  return { kind: 'prefixes', prefixes: record.interfaces.flatMap((i) => i.prefixes) };
}

/** A speaker Lease's node and interfaces record, as far as {@link nodeOfMac} needs it. */
export interface InterfacesOfNode {
  readonly node: NodeName;
  readonly interfaces?: InterfacesRecord | undefined;
}

/**
 * The node whose speaker published `mac` on one of its interfaces, or undefined when no Lease
 * lists it (a host outside the cluster, or a node whose speaker publishes nothing). Case does
 * not matter. Two nodes listing one MAC (cloned VMs) give the lower node name, the same on every
 * speaker. Every Lease given is searched, alive or not: a dead speaker's node may still answer.
 */
export function nodeOfMac(leases: Iterable<InterfacesOfNode>, mac: string): NodeName | undefined {
  const wanted = mac.toLowerCase();
  let found: NodeName | undefined;
  for (const lease of leases) {
    if (lease.interfaces?.kind !== 'published') continue;
    if (!lease.interfaces.interfaces.some((i) => i.mac === wanted)) continue;
    if (found === undefined || compareStrings(lease.node, found) < 0) found = lease.node;
  }
  return found;
}

/**
 * MAC -> the node whose speaker published it, over every Lease given: {@link nodeOfMac} for
 * all MACs at once (a lookup per conflicting frame without walking the Leases). Two nodes
 * listing one MAC give the lower node name, as `nodeOfMac` does.
 */
export function macOwners(leases: Iterable<InterfacesOfNode>): ReadonlyMap<string, NodeName> {
  const out = new Map<string, NodeName>();
  for (const lease of leases) {
    if (lease.interfaces?.kind !== 'published') continue;
    for (const { mac } of lease.interfaces.interfaces) {
      const other = out.get(mac);
      if (other === undefined || compareStrings(lease.node, other) < 0) out.set(mac, lease.node);
    }
  }
  return out;
}

/** node -> what election may conclude of its reach, from every Lease given. */
export function reachOfLeases(leases: Iterable<InterfacesOfNode>): ReadonlyMap<NodeName, NodeReach> {
  return new Map([...leases].map((l) => [l.node, reachOf(l.interfaces)]));
}
