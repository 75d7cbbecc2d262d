import { formatMac } from '../../src/layer2/packet/address.js';
import type { ArpOffload, FramesHandler, PacketConn, PacketConnCounters, PacketConnFactory, PacketKind } from '../../src/layer2/packet-conn.js';

/** One side of an in-memory link: records what the announcer sends, lets the test deliver frames. */
export class MemoryConn implements PacketConn {
  readonly sent: Uint8Array[] = [];
  readonly groups = new Set<string>();
  closed = false;
  readonly arpOffload: ArpOffload | undefined = undefined;
  constructor(readonly iface: string, readonly kind: PacketKind, private readonly onFrames: FramesHandler) {}
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

/** A packet-socket factory of in-memory links: every conn the code under test opened. */
export class MemoryConns implements PacketConnFactory {
  readonly opened: MemoryConn[] = [];
  open(iface: { name: string }, kind: PacketKind, onFrames: FramesHandler): PacketConn {
    const conn = new MemoryConn(iface.name, kind, onFrames);
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
