import { describe, expect, it } from 'vitest';
import { xdpJudges } from '../../../src/sys/xdp.js';
import { packet } from './fixtures.js';

/** `frame` with byte `at` set to `value`. */
function withByte(frame: Uint8Array, at: number, value: number): Uint8Array {
  const out = new Uint8Array(frame);
  out[at] = value;
  return out;
}

/** An NS whose IPv6 payload length says `length` and which carries that many ICMPv6 bytes. */
function withPayload(ns: Uint8Array, length: number): Uint8Array {
  const out = new Uint8Array(54 + length);
  out.set(ns.subarray(0, Math.min(ns.length, out.length)));
  out[18] = length >> 8;
  out[19] = length & 0xff;
  return out;
}

const arp = packet('arp-request');
const ns = packet('ns-multicast');

// Which frames native/xdp/responder.bpf.c judges itself (counting them under a drop reason when
// it passes them up) and which it leaves to userspace (its `other` reason): the interface session
// counts a drop from the AF_PACKET responder only for the latter, so each frame counts once.
describe('xdpJudges mirrors the XDP program', () => {
  it.each([
    { name: 'an ARP request', kind: 'arp' as const, frame: arp, want: true },
    { name: 'an ARP request padded to the Ethernet minimum', kind: 'arp' as const, frame: new Uint8Array([...arp, ...new Uint8Array(18)]), want: true },
    { name: 'a truncated ARP frame', kind: 'arp' as const, frame: arp.subarray(0, 41), want: false },
    { name: 'ARP over another hardware type', kind: 'arp' as const, frame: withByte(arp, 15, 6), want: false },
    { name: 'ARP with 16-byte protocol addresses', kind: 'arp' as const, frame: withByte(arp, 19, 16), want: false },
    { name: 'an NS with a source link-layer option', kind: 'ndp' as const, frame: ns, want: true },
    { name: 'an NS without options', kind: 'ndp' as const, frame: withPayload(ns, 24), want: true },
    { name: 'an NS of 128 bytes', kind: 'ndp' as const, frame: withPayload(ns, 128), want: true },
    { name: 'an NS longer than 128 bytes', kind: 'ndp' as const, frame: withPayload(ns, 136), want: false },
    { name: 'an NS whose length is not in 8-byte units', kind: 'ndp' as const, frame: withPayload(ns, 36), want: false },
    { name: 'an NS whose payload length runs past the frame', kind: 'ndp' as const, frame: withPayload(ns, 32).subarray(0, 80), want: false },
    { name: 'an ICMPv6 message other than NS', kind: 'ndp' as const, frame: withByte(ns, 54, 136), want: false },
    { name: 'a next header other than ICMPv6', kind: 'ndp' as const, frame: withByte(ns, 20, 17), want: false },
  ])('$name: $want', ({ kind, frame, want }) => {
    expect(xdpJudges(kind, frame)).toBe(want);
  });
});
