import type { Logger } from 'pino';
import type { NetInterface } from '../layer2/interfaces.js';
import { parseArp } from '../layer2/packet/arp.js';
import { formatIpv4, formatMac } from '../layer2/packet/address.js';
import type { PacketConn, PacketConnFactory } from '../layer2/packet-conn.js';
import type { Clock } from '../shared/clock.js';

/** Someone else claims an IP: `mac` sent ARP with `ip` as its sender address on `iface`. */
export type ConflictHandler = (ip: string, mac: string, iface: string) => void;

export interface ConflictGuardDeps {
  readonly conns: PacketConnFactory;
  /** The host's interfaces (index and MAC of the ones we announce on). */
  readonly interfaces: { list(): Promise<readonly NetInterface[]> };
  /** ip -> interfaces it is announced on now (Announcer.announced). */
  readonly announced: () => ReadonlyMap<string, readonly string[]>;
  readonly onConflict: ConflictHandler;
  readonly clock: Clock;
  readonly logger: Logger;
  /** How often the set of watched interfaces is brought in line with the announced set. */
  readonly pollMs: number;
}

/**
 * The split-brain guard: on each interface that announces IPv4 addresses it keeps one extra,
 * passive ARP socket (no fast path, so every ARP request reaches it) and reports an ARP
 * request whose *sender* address is an IP we announce but whose sender MAC is not ours - the
 * request half of another node's gratuitous ARP (ironlb and MetalLB send both halves; the
 * socket filter passes requests only). It never answers. IPv6 is not watched: the NDP socket
 * filter passes only solicitations, not advertisements.
 */
export function checkArpConflict(frame: Uint8Array, ourMac: string, owned: (ip: string) => boolean): { ip: string; mac: string } | undefined {
  const arp = parseArp(frame);
  if (!arp.ok) return undefined;
  const ip = formatIpv4(arp.value.senderIp);
  if (!owned(ip)) return undefined;
  const mac = formatMac(arp.value.senderMac);
  return mac === ourMac ? undefined : { ip, mac };
}

/** Watches for conflicts until `signal` aborts; settles after closing its sockets. */
export async function runConflictGuard(deps: ConflictGuardDeps, signal: AbortSignal): Promise<void> {
  const log = deps.logger.child({ component: 'conflict-guard' });
  // interface name -> its passive socket and the ifindex it was opened on
  const watching = new Map<string, { conn: PacketConn; index: number }>();
  // interface name -> IPv4 addresses announced on it, refreshed each round (read per frame: no allocation there)
  let ownedBy = new Map<string, Set<string>>();
  const ownedOn = (name: string) => (ip: string): boolean => ownedBy.get(name)?.has(ip) === true;

  const open = (iface: NetInterface): void => {
    const mac = (iface.mac ?? '').toLowerCase();
    const owned = ownedOn(iface.name);
    try {
      const conn = deps.conns.open({ name: iface.name, index: iface.index }, 'arp', (frames) => {
        for (const frame of frames) {
          const hit = checkArpConflict(frame, mac, owned);
          if (hit !== undefined) deps.onConflict(hit.ip, hit.mac, iface.name);
        }
      });
      watching.set(iface.name, { conn, index: iface.index });
    } catch (e: unknown) {
      log.warn({ event: 'conflictGuardFailed', interface: iface.name, err: e }, 'cannot watch this interface for conflicts');
    }
  };

  const reconcile = async (): Promise<void> => {
    ownedBy = ipv4ByInterface(deps.announced());
    const wanted = new Set(ownedBy.keys());
    const ifaces = wanted.size === 0 ? [] : await deps.interfaces.list().catch(() => []);
    for (const [name, w] of watching) {
      const now = ifaces.find((i) => i.name === name);
      if (wanted.has(name) && now?.index === w.index) continue;
      w.conn.close();
      watching.delete(name);
    }
    for (const iface of ifaces) if (wanted.has(iface.name) && !watching.has(iface.name)) open(iface);
  };

  try {
    while (!signal.aborted) {
      await reconcile();
      await deps.clock.sleep(deps.pollMs, signal).catch(() => undefined);
    }
  } finally {
    for (const w of watching.values()) w.conn.close();
    watching.clear();
  }
}

/** interface name -> IPv4 addresses announced on it */
function ipv4ByInterface(announced: ReadonlyMap<string, readonly string[]>): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  for (const [ip, names] of announced) {
    if (ip.includes(':')) continue;
    for (const name of names) out.set(name, (out.get(name) ?? new Set()).add(ip));
  }
  return out;
}
