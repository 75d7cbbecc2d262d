import { describe, expect, it } from 'vitest';
import { formatIpv6, parseIp, parseIpv4, parseIpv6, parseMac } from '../../../src/layer2/packet/address.js';
import { buildArpReply, buildGratuitousArp, parseArp } from '../../../src/layer2/packet/arp.js';
import {
  buildSolicitedAdvertisement,
  buildUnsolicitedAdvertisement,
  icmpv6Checksum,
  multicastMac,
  parseNeighborSolicitation,
  solicitedNodeIp,
} from '../../../src/layer2/packet/ndp.js';
import { hex, packet, toHex } from './fixtures.js';

const ourMac = hex('02:00:00:00:00:01');

/** Recomputes the ICMPv6 checksum of an Ethernet+IPv6+ICMPv6 frame after a test edited it. */
function reChecksum(frame: Uint8Array): Uint8Array {
  const out = frame.slice();
  out[56] = 0;
  out[57] = 0;
  const sum = icmpv6Checksum(out.subarray(22, 38), out.subarray(38, 54), out.subarray(54));
  out[56] = sum >> 8;
  out[57] = sum & 0xff;
  return out;
}

function edit(frame: Uint8Array, at: number, bytes: readonly number[]): Uint8Array {
  const out = frame.slice();
  out.set(bytes, at);
  return out;
}

describe('addresses', () => {
  it.each([
    { name: 'dotted quad', text: '10.0.0.100', out: '10.0.0.100' },
    { name: 'v6 compressed', text: 'fd00::100', out: 'fd00::100' },
    { name: 'v6 full, upper case', text: 'FD00:0:0:0:0:0:0:100', out: 'fd00::100' },
    { name: 'v6 single zero group kept', text: '1:0:2:3:4:5:6:7', out: '1:0:2:3:4:5:6:7' },
    { name: 'v6 longest run wins', text: '1:0:0:2:0:0:0:3', out: '1:0:0:2::3' },
    { name: 'v4-mapped', text: '::ffff:10.0.0.1', out: '::ffff:10.0.0.1' }, // RFC 5952 section 5, as src/ip prints it,
    { name: 'unspecified', text: '::', out: '::' },
  ])('parses and formats $name', ({ text, out }) => {
    expect(parseIp(text)?.text).toBe(out);
  });

  it.each([
    { name: 'octet > 255', text: '10.0.0.256' },
    { name: 'leading zero', text: '10.0.0.01' },
    { name: 'three octets', text: '10.0.0' },
    { name: 'two ::', text: '1::2::3' },
    { name: 'nine groups', text: '1:2:3:4:5:6:7:8:9' },
    { name: 'bad hex', text: 'fd00::g' },
    { name: 'empty', text: '' },
  ])('rejects $name', ({ text }) => {
    expect(parseIp(text)).toBeUndefined();
  });

  it('round-trips v6 bytes', () => {
    expect(formatIpv6(parseIpv6('fe80::ff:fe00:2')!)).toBe('fe80::ff:fe00:2');
    expect(parseIpv4('1.2.3.4')).toEqual(new Uint8Array([1, 2, 3, 4]));
    expect(parseMac('02:00:00:00:00:0A')).toEqual(hex('02000000000a'));
    expect(parseMac('02:00:00:00:00')).toBeUndefined();
  });
});

describe('ARP codec', () => {
  const request = packet('arp-request');

  it('parses a real arping request', () => {
    const parsed = parseArp(request);
    expect(parsed.ok && parsed.value.op).toBe(1);
    expect(parsed.ok && toHex(parsed.value.targetIp)).toBe('0a000064');
    expect(parsed.ok && toHex(parsed.value.senderMac)).toBe('020000000002');
  });

  it.each([
    { name: 'truncated', frame: request.subarray(0, 41), error: 'truncated' },
    { name: 'empty', frame: new Uint8Array(0), error: 'truncated' },
    { name: 'IPv4 ethertype', frame: edit(request, 12, [0x08, 0x00]), error: 'notArp' },
    { name: 'hlen 8', frame: edit(request, 18, [8]), error: 'unsupportedArp' },
    { name: 'ptype IPv6', frame: edit(request, 16, [0x86, 0xdd]), error: 'unsupportedArp' },
  ])('refuses $name without throwing', ({ frame, error }) => {
    expect(parseArp(frame)).toEqual({ ok: false, error });
  });

  it('builds the exact reply: unicast to the requester, sender = owned IP and our MAC', () => {
    const parsed = parseArp(request);
    if (!parsed.ok) throw new Error('fixture');
    expect(toHex(buildArpReply(parsed.value, ourMac))).toBe(
      '020000000002' + '020000000001' + '0806' + '0001080006040002' + '020000000001' + '0a000064' + '020000000002' + '0a000002',
    );
  });

  it('answers an RFC 5227 probe (sender 0.0.0.0) to the prober MAC with target IP 0.0.0.0', () => {
    const probe = parseArp(edit(request, 28, [0, 0, 0, 0]));
    if (!probe.ok) throw new Error('fixture');
    const reply = buildArpReply(probe.value, ourMac);
    expect(toHex(reply.subarray(0, 6))).toBe('020000000002');
    expect(toHex(reply.subarray(38, 42))).toBe('00000000');
  });

  it('builds the gratuitous pair: broadcast request and reply, sender = target = IP', () => {
    const [req, rep] = buildGratuitousArp(ourMac, hex('0a000064'));
    expect(toHex(req)).toBe('ffffffffffff' + '020000000001' + '0806' + '0001080006040001' + '020000000001' + '0a000064' + '000000000000' + '0a000064');
    expect(toHex(rep)).toBe('ffffffffffff' + '020000000001' + '0806' + '0001080006040002' + '020000000001' + '0a000064' + 'ffffffffffff' + '0a000064');
  });
});

describe('NDP codec', () => {
  const ns = packet('ns-multicast');
  const dad = packet('ns-dad');
  // Unicast NUD probe: to fd00::100 and our MAC, without a source link-layer option.
  const unicastNoSlla = reChecksum(edit(edit(ns.subarray(0, 78), 0, [...ourMac]), 18, [0, 24, 58, 255, ...parseIpv6('fe80::ff:fe00:2')!, ...parseIpv6('fd00::100')!]));

  it('accepts real kernel frames (their checksums verify)', () => {
    const a = parseNeighborSolicitation(ns);
    expect(a.ok && formatIpv6(a.value.target)).toBe('fd00::100');
    expect(a.ok && a.value.sourceLinkAddress && toHex(a.value.sourceLinkAddress)).toBe('020000000002');
    const b = parseNeighborSolicitation(dad);
    expect(b.ok && formatIpv6(b.value.srcIp)).toBe('::');
    expect(b.ok && b.value.sourceLinkAddress).toBeUndefined();
    const c = parseNeighborSolicitation(unicastNoSlla);
    expect(c.ok && c.value.sourceLinkAddress).toBeUndefined();
  });

  it.each([
    { name: 'truncated header', frame: ns.subarray(0, 60), error: 'truncated' },
    { name: 'payload length past the end', frame: ns.subarray(0, 80), error: 'truncated' },
    { name: 'not IPv6', frame: edit(ns, 12, [0x08, 0x00]), error: 'notIcmpv6' },
    { name: 'UDP', frame: edit(ns, 20, [17]), error: 'notIcmpv6' },
    { name: 'an NA', frame: reChecksum(edit(ns, 54, [136])), error: 'notSolicitation' },
    { name: 'hop limit 64 (RFC 4861 7.1.1)', frame: edit(ns, 21, [64]), error: 'badHopLimit' },
    { name: 'bad checksum', frame: edit(ns, 57, [0x1a]), error: 'badChecksum' },
    { name: 'code 1', frame: reChecksum(edit(ns, 55, [1])), error: 'invalidSolicitation' },
    { name: 'multicast target', frame: reChecksum(edit(ns, 62, [0xff, 0x02])), error: 'invalidSolicitation' },
    { name: 'zero-length option', frame: reChecksum(edit(ns, 79, [0])), error: 'invalidSolicitation' },
    { name: 'DAD with a source link-layer option', frame: reChecksum(edit(dad, 78, [1, 1])), error: 'invalidSolicitation' },
    { name: 'DAD to a unicast address', frame: reChecksum(edit(dad, 38, [0xfd, 0x00])), error: 'invalidSolicitation' },
  ])('refuses $name without throwing', ({ frame, error }) => {
    expect(parseNeighborSolicitation(frame)).toEqual({ ok: false, error });
  });

  it('answers the multicast NS exactly: solicited + override, from the target, to the SLLA', () => {
    const parsed = parseNeighborSolicitation(ns);
    if (!parsed.ok) throw new Error('fixture');
    const na = buildSolicitedAdvertisement(parsed.value, ourMac);
    expect(toHex(na)).toBe(
      '020000000002' + '020000000001' + '86dd' +
      '60000000' + '0020' + '3a' + 'ff' + toHex(parseIpv6('fd00::100')!) + toHex(parseIpv6('fe80::ff:fe00:2')!) +
      '88' + '00' + toHex(na.subarray(56, 58)) + '60000000' + toHex(parseIpv6('fd00::100')!) + '0201' + '020000000001',
    );
    expect(icmpv6Checksum(na.subarray(22, 38), na.subarray(38, 54), na.subarray(54))).toBe(0);
  });

  it('answers a unicast NS without SLLA to the Ethernet source (MetalLB #2920)', () => {
    const parsed = parseNeighborSolicitation(unicastNoSlla);
    if (!parsed.ok) throw new Error('fixture');
    expect(toHex(buildSolicitedAdvertisement(parsed.value, ourMac).subarray(0, 6))).toBe('020000000002');
  });

  it('answers DAD to ff02::1 without the solicited flag', () => {
    const parsed = parseNeighborSolicitation(dad);
    if (!parsed.ok) throw new Error('fixture');
    const na = buildSolicitedAdvertisement(parsed.value, ourMac);
    expect(toHex(na.subarray(0, 6))).toBe('333300000001');
    expect(formatIpv6(na, 38)).toBe('ff02::1');
    expect(na[58]).toBe(0x20);
  });

  it('builds the unsolicited NA: ff02::1, override, TLLA, hop limit 255, valid checksum', () => {
    const na = buildUnsolicitedAdvertisement(ourMac, parseIpv6('fd00::100')!);
    expect(toHex(na.subarray(0, 6))).toBe('333300000001');
    expect(na[21]).toBe(255);
    expect(na[58]).toBe(0x20);
    expect(toHex(na.subarray(78, 86))).toBe('0201020000000001');
    expect(icmpv6Checksum(na.subarray(22, 38), na.subarray(38, 54), na.subarray(54))).toBe(0);
  });

  it('maps an address to its solicited-node group and Ethernet group', () => {
    const group = solicitedNodeIp(parseIpv6('fd00::12:3456')!);
    expect(formatIpv6(group)).toBe('ff02::1:ff12:3456');
    expect(toHex(multicastMac(group))).toBe('3333ff123456');
  });
});
