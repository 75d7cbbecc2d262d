import { formatMac } from '../../src/layer2/packet/address.js';
import type { ArpOffload, FramesHandler, NdpOffload, PacketConn, PacketConnCounters, PacketConnFactory, PacketKind } from '../../src/layer2/packet-conn.js';

/**
 * A native fast path's table as the announcer last set it, and how often it was set: packs the
 * addresses into one buffer as src/sys/af-packet.ts does before handing them to the addon.
 */
export class MemoryOffload implements ArpOffload, NdpOffload {
  /** Calls of `set` and `disable` so far. */
  pushes = 0;
  /** The packed table in force; undefined while the fast path is off. */
  table: Uint8Array | undefined;
  constructor(private readonly width: 4 | 16) {}
  set(_mac: Uint8Array, ips: readonly Uint8Array[], _mirror: boolean): void {
    this.pushes += 1;
    const table = new Uint8Array(ips.length * this.width);
    ips.forEach((ip, i) => { table.set(ip.subarray(0, this.width), i * this.width); });
    this.table = table;
  }
  disable(): void {
    this.pushes += 1;
    this.table = undefined;
  }
  /** How many addresses the fast path answers for now (0 while off). */
  get size(): number {
    return (this.table?.length ?? 0) / this.width;
  }
}

/** One side of an in-memory link: records what the announcer sends, lets the test deliver frames. */
export class MemoryConn implements PacketConn {
  readonly sent: Uint8Array[] = [];
  readonly groups = new Set<string>();
  closed = false;
  readonly arpOffload: MemoryOffload | undefined;
  readonly ndpOffload: MemoryOffload | undefined;
  constructor(readonly iface: string, readonly kind: PacketKind, private readonly onFrames: FramesHandler, fastPath = false) {
    this.arpOffload = fastPath && kind === 'arp' ? new MemoryOffload(4) : undefined;
    this.ndpOffload = fastPath && kind === 'ndp' ? new MemoryOffload(16) : undefined;
  }
  send(frame: Uint8Array): boolean {
    this.sent.push(frame);
    return true;
  }
  joinGroup(mac: Uint8Array): void {
    this.groups.add(formatMac(mac));
  }
  leaveGroup(mac: Uint8Array): void {
    this.groups.delete(formatMac(mac));
  }
  takeCounters(): PacketConnCounters {
    return { backlogDrops: 0, fastPath: undefined };
  }
  close(): void {
    this.closed = true;
  }
  /** The peer sends a frame; returns what came back. */
  deliver(frame: Uint8Array): Uint8Array[] {
    const before = this.sent.length;
    if (!this.closed) this.onFrames([frame], []);
    return this.sent.slice(before);
  }
}

/** What a MemoryConns gives its conns. */
export interface MemoryConnsOptions {
  /** Conns carry a native fast path ({@link MemoryOffload}) as the AF_PACKET addon's do; default false. */
  readonly fastPath?: boolean;
}

/** A packet-socket factory of in-memory links: every conn the code under test opened. */
export class MemoryConns implements PacketConnFactory {
  readonly opened: MemoryConn[] = [];
  constructor(private readonly options: MemoryConnsOptions = {}) {}
  open(iface: { name: string }, kind: PacketKind, onFrames: FramesHandler): PacketConn {
    const conn = new MemoryConn(iface.name, kind, onFrames, this.options.fastPath === true);
    this.opened.push(conn);
    return conn;
  }
  /** The open conn of `kind` on `iface` (the latest, if it was reopened). */
  find(iface: string, kind: PacketKind): MemoryConn {
    const c = this.opened.filter((o) => o.iface === iface && o.kind === kind && !o.closed).at(-1);
    if (c === undefined) throw new Error(`no open ${kind} conn on ${iface}`);
    return c;
  }
}
