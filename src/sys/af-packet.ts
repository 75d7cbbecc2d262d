import { createRequire } from 'node:module';
import { AppError, describeError } from '../shared/errors.js';
import type { ArpOffload, FramesHandler, NdpOffload, PacketConn, PacketConnCounters, PacketConnFactory, PacketKind } from '../layer2/packet-conn.js';

/** The shape of native/afpacket.c's PacketSocket. */
interface NativeSocket {
  send(frame: Uint8Array): boolean;
  addMembership(mac: Buffer): void;
  dropMembership(mac: Buffer): void;
  setArpTable(mac: Buffer | null, ips: Buffer, mirror: boolean): void;
  setNdpTable(mac: Buffer | null, ips: Buffer, mirror: boolean): void;
  /** answered: [IPv4 as a number (ARP sockets) or IPv6 as 16 bytes (NDP sockets), count] */
  takeCounters(): { answered: [number | Buffer, number][]; notOwned: number; sendErrors: number; rxFrames: number; queueDrops: number };
  close(): void;
}

interface NativeModule {
  PacketSocket: new (ifindex: number, kind: PacketKind, onFrames: (frames: Buffer[], answered: Buffer[]) => void) => NativeSocket;
}

let loaded: NativeModule | undefined;

/** Loads the addon once (resolves from both src/sys and dist/sys). */
function addon(): NativeModule {
  if (loaded !== undefined) return loaded;
  const require = createRequire(import.meta.url);
  try {
    loaded = require('../../native/build/Release/afpacket.node') as NativeModule;
  } catch (e: unknown) {
    throw new AppError('ERR_NATIVE_MISSING', `the AF_PACKET addon is not built (run npm run build:native): ${describeError(e)}`, { cause: e });
  }
  return loaded;
}

function errnoCode(e: unknown): string | undefined {
  return typeof e === 'object' && e !== null && 'code' in e && typeof e.code === 'string' ? e.code : undefined;
}

function wrapOpenError(e: unknown, what: string): AppError {
  const code = errnoCode(e);
  if (code === 'EPERM' || code === 'EACCES') {
    return new AppError('ERR_NO_CAP_NET_RAW', `${what}: needs CAP_NET_RAW (opening an AF_PACKET socket was refused)`, { cause: e });
  }
  return new AppError('ERR_PACKET_SOCKET', `${what}: ${describeError(e)}`, { cause: e });
}

/**
 * The fast-path table of one socket, ARP (4-byte addresses, setArpTable) or NDP (16-byte
 * addresses, setNdpTable): the addon takes the owned addresses packed into one Buffer.
 */
class NativeOffload implements ArpOffload, NdpOffload {
  private readonly width: 4 | 16;

  constructor(
    private readonly socket: NativeSocket,
    private readonly kind: PacketKind,
  ) {
    this.width = kind === 'arp' ? 4 : 16;
  }

  set(mac: Uint8Array, ips: readonly Uint8Array[], mirror: boolean): void {
    const table = Buffer.alloc(ips.length * this.width);
    ips.forEach((ip, i) => {
      table.set(ip.subarray(0, this.width), i * this.width);
    });
    this.setTable(Buffer.from(mac), table, mirror);
  }

  disable(): void {
    this.setTable(null, Buffer.alloc(0), false);
  }

  private setTable(mac: Buffer | null, table: Buffer, mirror: boolean): void {
    if (this.kind === 'arp') this.socket.setArpTable(mac, table, mirror);
    else this.socket.setNdpTable(mac, table, mirror);
  }
}

class NativeConn implements PacketConn {
  readonly arpOffload: ArpOffload | undefined;
  readonly ndpOffload: NdpOffload | undefined;
  private closed = false;

  constructor(private readonly socket: NativeSocket, kind: PacketKind) {
    this.arpOffload = kind === 'arp' ? new NativeOffload(socket, kind) : undefined;
    this.ndpOffload = kind === 'ndp' ? new NativeOffload(socket, kind) : undefined;
  }

  send(frame: Uint8Array): boolean {
    return !this.closed && this.socket.send(frame);
  }

  joinGroup(mac: Uint8Array): void {
    this.socket.addMembership(Buffer.from(mac));
  }

  leaveGroup(mac: Uint8Array): void {
    if (!this.closed) this.socket.dropMembership(Buffer.from(mac));
  }

  takeCounters(): PacketConnCounters {
    const raw = this.socket.takeCounters();
    const count = { notOwned: raw.notOwned, sendErrors: raw.sendErrors };
    if (this.ndpOffload !== undefined) {
      const answered = new Map(raw.answered.flatMap(([ip, n]) => (typeof ip === 'number' ? [] : [[ip.toString('hex'), n] as const])));
      return { backlogDrops: raw.queueDrops, fastPath: undefined, ndpFastPath: { answered, ...count } };
    }
    const answered = new Map(raw.answered.flatMap(([ip, n]) => (typeof ip === 'number' ? [[ip, n] as const] : [])));
    return { backlogDrops: raw.queueDrops, fastPath: this.arpOffload === undefined ? undefined : { answered, ...count } };
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.socket.close();
  }
}

/**
 * PacketConns over AF_PACKET sockets (native/afpacket.c): one socket per (interface, kind),
 * kernel BPF filter, a receiver thread, and for ARP the native fast path.
 */
export function createAfPacketConns(): PacketConnFactory {
  return {
    open(iface, kind, onFrames: FramesHandler) {
      const { PacketSocket } = addon();
      try {
        return new NativeConn(new PacketSocket(iface.index, kind, onFrames), kind);
      } catch (e: unknown) {
        throw wrapOpenError(e, `${kind} socket on ${iface.name}`);
      }
    },
  };
}

/**
 * Fails early with ERR_NO_CAP_NET_RAW ("needs CAP_NET_RAW") when packet sockets are refused,
 * before the process claims to be announcing anything.
 */
export function checkPacketCapability(): void {
  const { PacketSocket } = addon();
  try {
    // ifindex 0 binds to no particular interface; closed at once.
    new PacketSocket(0, 'arp', () => undefined).close();
  } catch (e: unknown) {
    throw wrapOpenError(e, 'layer2');
  }
}
