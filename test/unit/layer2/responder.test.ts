import { describe, expect, it } from 'vitest';
import { ipv4Key, ipv6Key, parseIpv4, parseIpv6 } from '../../../src/layer2/packet/address.js';
import { icmpv6Checksum } from '../../../src/layer2/packet/ndp.js';
import { respondArp, respondNdp, type ResponderView } from '../../../src/layer2/responder.js';
import { hex, packet, toHex } from './fixtures.js';

function view(v4: readonly string[], v6: readonly string[]): ResponderView {
  const k4 = new Set(v4.map((ip) => ipv4Key(parseIpv4(ip)!)));
  const k6 = new Set(v6.map((ip) => ipv6Key(parseIpv6(ip)!)));
  return { mac: hex('020000000001'), ownsIpv4: (k) => k4.has(k), ownsIpv6: (k) => k6.has(k) };
}

const arp = packet('arp-request');
const ns = packet('ns-multicast');
const dad = packet('ns-dad');
const owner = view(['10.0.0.100'], ['fd00::100', 'fe80::ff:fe00:1']);
const other = view(['10.0.0.101'], ['fd00::101']);

function withBytes(frame: Uint8Array, at: number, values: readonly number[]): Uint8Array {
  const out = frame.slice();
  out.set(values, at);
  return out;
}

function withByte(frame: Uint8Array, at: number, value: number): Uint8Array {
  const out = frame.slice();
  out[at] = value;
  return out;
}

describe('respondArp', () => {
  it.each([
    { name: 'owned request', frame: arp, v: owner, want: { kind: 'reply', ip: '10.0.0.100' } },
    { name: 'request for another IP', frame: arp, v: other, want: { kind: 'drop', reason: 'notOwned' } },
    { name: 'a reply', frame: withByte(arp, 21, 2), v: owner, want: { kind: 'drop', reason: 'notRequest' } },
    { name: 'truncated', frame: arp.subarray(0, 30), v: owner, want: { kind: 'drop', reason: 'malformed' } },
    { name: 'not ARP at all', frame: ns, v: owner, want: { kind: 'drop', reason: 'malformed' } },
    { name: 'an RFC 5227 probe from 0.0.0.0 is answered', frame: withBytes(arp, 28, [0, 0, 0, 0]), v: owner, want: { kind: 'reply', ip: '10.0.0.100' } },
    { name: 'broadcast sender MAC', frame: withBytes(arp, 22, [0xff, 0xff, 0xff, 0xff, 0xff, 0xff]), v: owner, want: { kind: 'drop', reason: 'badSender' } },
    { name: 'multicast sender MAC', frame: withBytes(arp, 22, [0x01, 0x00, 0x5e, 0, 0, 1]), v: owner, want: { kind: 'drop', reason: 'badSender' } },
    { name: 'zero sender MAC', frame: withBytes(arp, 22, [0, 0, 0, 0, 0, 0]), v: owner, want: { kind: 'drop', reason: 'badSender' } },
    { name: 'multicast Ethernet source', frame: withBytes(arp, 6, [0x33, 0x33, 0, 0, 0, 1]), v: owner, want: { kind: 'drop', reason: 'badSender' } },
    { name: 'broadcast sender IP', frame: withBytes(arp, 28, [255, 255, 255, 255]), v: owner, want: { kind: 'drop', reason: 'badSender' } },
    { name: 'multicast sender IP', frame: withBytes(arp, 28, [224, 0, 0, 1]), v: owner, want: { kind: 'drop', reason: 'badSender' } },
    { name: 'gratuitous ARP from another MAC for an owned IP', frame: withBytes(arp, 28, [10, 0, 0, 100]), v: owner, want: { kind: 'drop', reason: 'conflict' } },
    { name: 'a reply from another MAC claiming an owned IP', frame: withBytes(withByte(arp, 21, 2), 28, [10, 0, 0, 100]), v: owner, want: { kind: 'drop', reason: 'conflict' } },
  ])('$name', ({ frame, v, want }) => {
    expect(respondArp(frame, v)).toMatchObject(want);
  });

  it('replies from the interface MAC', () => {
    const d = respondArp(arp, owner);
    expect(d.kind === 'reply' && toHex(d.frame.subarray(6, 12))).toBe('020000000001');
  });
});

describe('respondNdp', () => {
  it.each([
    { name: 'owned multicast NS', frame: ns, v: owner, want: { kind: 'reply', ip: 'fd00::100' } },
    { name: 'owned DAD NS', frame: dad, v: owner, want: { kind: 'reply', ip: 'fe80::ff:fe00:1' } },
    { name: 'NS for another IP', frame: ns, v: other, want: { kind: 'drop', reason: 'notOwned' } },
    { name: 'hop limit 254', frame: withByte(ns, 21, 254), v: owner, want: { kind: 'drop', reason: 'badHopLimit' } },
    { name: 'corrupted checksum', frame: withByte(ns, 70, 0x77), v: owner, want: { kind: 'drop', reason: 'badChecksum' } },
    { name: 'truncated', frame: ns.subarray(0, 70), v: owner, want: { kind: 'drop', reason: 'malformed' } },
    { name: 'an ARP frame', frame: arp, v: owner, want: { kind: 'drop', reason: 'malformed' } },
  ])('$name', ({ frame, v, want }) => {
    expect(respondNdp(frame, v)).toMatchObject(want);
  });

  it('never answers with a bad checksum', () => {
    const d = respondNdp(ns, owner);
    if (d.kind !== 'reply') throw new Error('expected a reply');
    expect(icmpv6Checksum(d.frame.subarray(22, 38), d.frame.subarray(38, 54), d.frame.subarray(54))).toBe(0);
    expect(d.frame[21]).toBe(255);
  });
});
