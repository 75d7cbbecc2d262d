import { formatIp, parseIp, type IpAddr } from '../ip/ip-addr.js';

/**
 * The quarantine (docs/controller.md "Quarantine"): addresses another host on the LAN answers
 * for, as the speakers report them on their own Leases (annotation `ironlb.io/conflicts`, a
 * JSON array of `{ip, mac, interface, node?}`). Pure.
 */

/** The annotation speakers write their conflicts to (speaker/conflicts.ts writes it). */
export const conflictsAnnotation = 'ironlb.io/conflicts';
const speakerLeasePrefix = 'ironlb-speaker-';

/** A speaker Lease as far as the quarantine reads it (structurally a V1Lease). */
export interface SpeakerLeaseView {
  readonly metadata?: { readonly name?: string; readonly namespace?: string; readonly annotations?: Readonly<Record<string, string>> };
  readonly spec?: { readonly holderIdentity?: string };
}

/** One quarantined address and who saw what. */
export interface Quarantined {
  readonly ip: IpAddr;
  /** Canonical text. */
  readonly text: string;
  readonly mac: string;
  readonly iface: string;
  /** The node whose speaker reported it. */
  readonly reporter: string;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null;
}

/** The entries of one annotation value; malformed text or entries are skipped (a speaker of another version must not stop the controller). */
function entries(value: string): readonly Record<string, unknown>[] {
  if (value.trim() === '') return [];
  try {
    const parsed: unknown = JSON.parse(value);
    return Array.isArray(parsed) ? parsed.filter(isRecord) : [];
  } catch {
    return [];
  }
}

/** One entry of a speaker's `ironlb.io/conflicts` record, read back: who saw which other MAC on an address. */
export interface ConflictReport extends Quarantined {
  /** The cluster node that MAC belongs to (split brain, IPVS without strictARP); undefined for a host outside the cluster. */
  readonly node: string | undefined;
  /** When the reporter first saw it (RFC 3339), if its speaker wrote it. */
  readonly since: string | undefined;
}

/**
 * Every conflict the speakers that hold their Leases report (a released Lease, at SIGTERM, no
 * longer counts), by reporter name, each reporter's entries in its own order. Entries that name
 * no address are skipped.
 */
export function conflictReports(leases: readonly SpeakerLeaseView[]): readonly ConflictReport[] {
  const names = (l: SpeakerLeaseView): string => l.metadata?.name ?? '';
  const held = leases.filter((l) => names(l).startsWith(speakerLeasePrefix) && (l.spec?.holderIdentity ?? '') !== '');
  return [...held]
    .sort((a, b) => (names(a) < names(b) ? -1 : 1))
    .flatMap((lease) => entries(lease.metadata?.annotations?.[conflictsAnnotation] ?? '').flatMap((e) => toReport(e, names(lease).slice(speakerLeasePrefix.length)) ?? []));
}

/**
 * ip text -> quarantine, from {@link conflictReports}. An entry naming a `node` is a cluster node
 * answering too (split brain, IPVS without strictARP): the speakers settle that, it quarantines
 * nothing. When several speakers report one address, the lowest node name is named.
 */
export function quarantinedAddresses(leases: readonly SpeakerLeaseView[]): ReadonlyMap<string, Quarantined> {
  const out = new Map<string, Quarantined>();
  for (const r of conflictReports(leases)) {
    if (r.node === undefined && !out.has(r.text)) out.set(r.text, { ip: r.ip, text: r.text, mac: r.mac, iface: r.iface, reporter: r.reporter });
  }
  return out;
}

/** One annotation entry as a report, or undefined when it names no address. */
function toReport(e: Record<string, unknown>, reporter: string): ConflictReport | undefined {
  if (typeof e.ip !== 'string') return undefined;
  const ip = parseIp(e.ip);
  if (!ip.ok) return undefined;
  const text = (v: unknown): string => (typeof v === 'string' ? v : '?');
  const optional = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
  return { ip: ip.value, text: formatIp(ip.value), mac: text(e.mac), iface: text(e.interface), reporter, node: e.node === undefined ? undefined : text(e.node), since: optional(e.since) };
}

/** The Event message for a Service moved off a quarantined address. */
export function reassignedMessage(from: Quarantined, to: readonly string[]): string {
  return `IP ${from.text} is in use by another host on the LAN (MAC ${from.mac}, seen by node ${from.reporter} on ${from.iface}); assigned [${to.join(' ')}] instead`;
}
