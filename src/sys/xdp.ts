import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { formatIpv4, formatIpv6, type IpBytes } from '../layer2/packet/address.js';
import type { NeighborOffload, NeighborOffloadFactory, OffloadCounts, OffloadFallbackReason } from '../layer2/neighbor-offload.js';
import type { PacketKind } from '../layer2/packet-conn.js';
import type { DropReason } from '../layer2/responder.js';
import { AppError, describeError } from '../shared/errors.js';
import { err, ok, type Result } from '../shared/result.js';

/** The shape of native/xdp/xdp.c's XdpResponder. */
interface NativeXdp {
  set(mac: Buffer, ipv4: Buffer, ipv6: Buffer): void;
  counters(): { ipv4: [Buffer, number][]; ipv6: [Buffer, number][]; reasons: number[] };
  close(): void;
}

interface NativeModule {
  XdpResponder: new (ifindex: number, objectPath: string) => NativeXdp;
  probe(objectPath: string): void;
}

/** The frames the program saw, by what it did: index = enum reason in native/xdp/responder.bpf.c. */
export const xdpReasons = ['answeredArp', 'answeredNdp', 'notOwned', 'badSender', 'conflict', 'badHopLimit', 'badChecksum', 'invalidSolicitation', 'other'] as const;

/** The program's reasons that are drops, under the AF_PACKET responder's name for them. */
const dropOf: ReadonlyMap<(typeof xdpReasons)[number], DropReason> = new Map([
  ['notOwned', 'notOwned'],
  ['badSender', 'badSender'],
  ['conflict', 'conflict'],
  ['badHopLimit', 'badHopLimit'],
  ['badChecksum', 'badChecksum'],
  ['invalidSolicitation', 'invalidSolicitation'],
] as const);

// Offsets and limits of native/xdp/responder.bpf.c: an ARP body after a 14-byte Ethernet header,
// the ICMPv6 message after a 40-byte IPv6 header, NS of 24 to 128 bytes (longer ones go up).
const arpLength = 42;
const icmpAt = 54;
const nsFixed = 24;
const maxIcmp = 128;

/**
 * Whether the XDP program judges `frame` (counts it under a reason other than `other`) rather
 * than leaving it to userspace: mirrors the program's checks before it looks at addresses. ARP:
 * 42 bytes or more, Ethernet/IPv4 with 6- and 4-byte addresses (RFC 826). NDP: IPv6, next
 * header ICMPv6, type 135, a payload of 24 to 128 bytes in 8-byte units, all in the frame.
 * Pure; the AF_PACKET sockets hand over only ARP requests and hop-limit-255 NS, so those checks
 * (which the program makes before these) need no mirror here.
 */
export function xdpJudges(kind: PacketKind, f: Uint8Array): boolean {
  return kind === 'arp' ? f.length >= arpLength && startsWith(f, 12, arpHeader) : judgesSolicitation(f);
}

/** IPv6 (version 6), next header ICMPv6 (58), type 135, with the fixed part in the frame. */
function isSolicitation(f: Uint8Array): boolean {
  return f.length >= icmpAt + nsFixed && startsWith(f, 12, ipv6Type) && (f[14] ?? 0) >> 4 === 6 && f[20] === 58 && f[icmpAt] === 135;
}

function judgesSolicitation(f: Uint8Array): boolean {
  const payload = ((f[18] ?? 0) << 8) | (f[19] ?? 0);
  return isSolicitation(f) && payload >= nsFixed && payload <= maxIcmp && payload % 8 === 0 && icmpAt + payload <= f.length;
}

// EtherType ARP, htype 1 (Ethernet), ptype IPv4, hlen 6, plen 4 (RFC 826).
const arpHeader = [0x08, 0x06, 0, 1, 0x08, 0, 6, 4];
const ipv6Type = [0x86, 0xdd];

function startsWith(f: Uint8Array, at: number, bytes: readonly number[]): boolean {
  return bytes.every((b, i) => f[at + i] === b);
}

/** The datapath responder could not be used; the speaker answers through AF_PACKET instead. */
export class OffloadError extends AppError {
  constructor(
    readonly reason: OffloadFallbackReason,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`ERR_XDP_${reason.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()}`, message, options);
  }
}

/** Where the build put the program and its loader (resolves from both src/sys and dist/sys). */
const objectPath = fileURLToPath(new URL('../../native/xdp/build/responder.bpf.o', import.meta.url));

function errnoCode(e: unknown): string | undefined {
  return typeof e === 'object' && e !== null && 'code' in e && typeof e.code === 'string' ? e.code : undefined;
}

/** Loading needs CAP_BPF and CAP_NET_ADMIN (CAP_SYS_ADMIN before Linux 5.8). */
function loadError(e: unknown, what: string): OffloadError {
  const code = errnoCode(e);
  if (code === 'EPERM' || code === 'EACCES') {
    return new OffloadError('noCapability', `${what}: needs CAP_BPF and CAP_NET_ADMIN (${describeError(e)})`, { cause: e });
  }
  return new OffloadError('kernel', `${what}: ${describeError(e)}`, { cause: e });
}

function table(ips: readonly IpBytes[], family: 4 | 6): Buffer {
  return Buffer.concat(ips.filter((ip) => ip.family === family).map((ip) => Buffer.from(ip.bytes)));
}

class XdpOffload implements NeighborOffload {
  // ip text -> answers counted so far (the program's counters are cumulative)
  private readonly seen = new Map<string, number>();
  // index in xdpReasons -> frames counted so far
  private reasonsSeen: readonly number[] = [];
  private closed = false;

  constructor(private readonly native: NativeXdp) {}

  set(mac: Uint8Array, ips: readonly IpBytes[]): void {
    if (this.closed) return;
    this.native.set(Buffer.from(mac), table(ips, 4), table(ips, 6));
  }

  take(): OffloadCounts {
    if (this.closed) return { answered: new Map(), drops: new Map() };
    const raw = this.native.counters();
    return { answered: this.answered(raw), drops: this.drops(raw.reasons) };
  }

  judged(kind: PacketKind, frame: Uint8Array): boolean {
    return xdpJudges(kind, frame);
  }

  private drops(reasons: readonly number[]): ReadonlyMap<DropReason, number> {
    const out = new Map<DropReason, number>();
    xdpReasons.forEach((name, i) => {
      const delta = (reasons[i] ?? 0) - (this.reasonsSeen[i] ?? 0);
      const reason = dropOf.get(name);
      if (reason !== undefined && delta > 0) out.set(reason, delta);
    });
    this.reasonsSeen = reasons;
    return out;
  }

  private answered(raw: ReturnType<NativeXdp['counters']>): ReadonlyMap<string, number> {
    const out = new Map<string, number>();
    const all = [...raw.ipv4.map(([ip, n]) => [formatIpv4(ip), n] as const), ...raw.ipv6.map(([ip, n]) => [formatIpv6(ip), n] as const)];
    const present = new Set<string>();
    for (const [ip, n] of all) {
      present.add(ip);
      const delta = n - (this.seen.get(ip) ?? 0);
      if (delta > 0) out.set(ip, delta);
      this.seen.set(ip, n);
    }
    // A released address's counter went with its map entry; a re-added one starts at zero.
    for (const ip of this.seen.keys()) if (!present.has(ip)) this.seen.delete(ip);
    return out;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.native.close();
  }
}

/** Loads the loader addon; its absence (no libbpf, not built) means no XDP here. */
function addon(): NativeModule {
  const require = createRequire(import.meta.url);
  try {
    return require('../../native/xdp/build/Release/xdp.node') as NativeModule;
  } catch (e: unknown) {
    throw new OffloadError('noProgram', `the XDP loader is not built or libbpf is missing (build with clang and libbpf-dev): ${describeError(e)}`, { cause: e });
  }
}

/**
 * The XDP responder, when this process can use it: the program is built, libbpf is there and
 * the kernel loads (verifies) it with this process's capabilities. Else why not, for the
 * caller's one fallback line.
 */
export function createXdpOffloads(): Result<NeighborOffloadFactory, OffloadError> {
  let native: NativeModule;
  try {
    native = addon();
  } catch (e: unknown) {
    return err(e instanceof OffloadError ? e : new OffloadError('noProgram', describeError(e), { cause: e }));
  }
  if (!existsSync(objectPath)) return err(new OffloadError('noProgram', `the XDP program ${objectPath} is not built (build with clang and libbpf-dev)`));
  try {
    native.probe(objectPath);
  } catch (e: unknown) {
    return err(loadError(e, 'loading the XDP program'));
  }
  return ok({
    attach(iface) {
      try {
        return ok(new XdpOffload(new native.XdpResponder(iface.index, objectPath)));
      } catch (e: unknown) {
        const error = loadError(e, `attaching the XDP program to ${iface.name}`);
        return err(error.reason === 'kernel' ? new OffloadError('attach', error.message, { cause: e }) : error);
      }
    },
  });
}
