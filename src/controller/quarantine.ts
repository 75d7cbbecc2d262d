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

/**
 * ip text -> quarantine, from the Leases of speakers that hold theirs (a released Lease, at
 * SIGTERM, no longer counts). An entry naming a `node` is a cluster node answering too (split
 * brain, IPVS without strictARP): the speakers settle that, it quarantines nothing. When several
 * speakers report one address, the lowest node name is named.
 */
export function quarantinedAddresses(leases: readonly SpeakerLeaseView[]): ReadonlyMap<string, Quarantined> {
  const out = new Map<string, Quarantined>();
  const names = (l: SpeakerLeaseView): string => l.metadata?.name ?? '';
  const held = leases.filter((l) => names(l).startsWith(speakerLeasePrefix) && (l.spec?.holderIdentity ?? '') !== '');
  for (const lease of held.sort((a, b) => (names(a) < names(b) ? -1 : 1))) {
    const reporter = names(lease).slice(speakerLeasePrefix.length);
    for (const e of entries(lease.metadata?.annotations?.[conflictsAnnotation] ?? '')) {
      const q = toQuarantined(e, reporter);
      if (q !== undefined && !out.has(q.text)) out.set(q.text, q);
    }
  }
  return out;
}

/** One annotation entry as a quarantine, or undefined (a cluster node's MAC, or not an address). */
function toQuarantined(e: Record<string, unknown>, reporter: string): Quarantined | undefined {
  if (e.node !== undefined || typeof e.ip !== 'string') return undefined;
  const ip = parseIp(e.ip);
  if (!ip.ok) return undefined;
  const text = (v: unknown): string => (typeof v === 'string' ? v : '?');
  return { ip: ip.value, text: formatIp(ip.value), mac: text(e.mac), iface: text(e.interface), reporter };
}

/** The Event message for a Service moved off a quarantined address. */
export function reassignedMessage(from: Quarantined, to: readonly string[]): string {
  return `IP ${from.text} is in use by another host on the LAN (MAC ${from.mac}, seen by node ${from.reporter} on ${from.iface}); assigned [${to.join(' ')}] instead`;
}
