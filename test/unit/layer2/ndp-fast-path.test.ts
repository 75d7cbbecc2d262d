import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { ipv6Key, parseIpv6 } from '../../../src/layer2/packet/address.js';
import { icmpv6Checksum } from '../../../src/layer2/packet/ndp.js';
import { respondNdp, type Decision, type ResponderView } from '../../../src/layer2/responder.js';
import { repoRoot } from '../../helpers/cli.js';
import { hex, packet, toHex } from './fixtures.js';

/** native/afpacket.c's export of the NDP fast path's pure decision (ndp-fast-path.c). */
interface FastDecision {
  readonly kind: 'toJs' | 'notOwned' | 'reply';
  readonly frame?: Buffer;
}
const { decideNdp } = createRequire(`${repoRoot}/`)('./native/build/Release/afpacket.node') as {
  decideNdp: (frame: Uint8Array, mac: Buffer, ips: Buffer) => FastDecision;
};

const mac = hex('020000000001');

function tables(owned: readonly string[]): { view: ResponderView; ips: Buffer } {
  const keys = new Set(owned.map((ip) => ipv6Key(parseIpv6(ip)!)));
  const view: ResponderView = { mac, ownsIpv4: () => false, ownsIpv6: (k) => keys.has(k) };
  return { view, ips: Buffer.concat(owned.map((ip) => Buffer.from(parseIpv6(ip)!))) };
}

function withBytes(frame: Uint8Array, at: number, values: readonly number[]): Uint8Array {
  const out = frame.slice();
  out.set(values, at);
  return out;
}

/** `frame` with its ICMPv6 checksum made valid again after an edit, so only the edit is wrong. */
function resummed(frame: Uint8Array): Uint8Array {
  const out = frame.slice();
  const length = (out[18]! << 8) | out[19]!;
  const icmp = out.subarray(54, 54 + length);
  icmp[2] = 0;
  icmp[3] = 0;
  const sum = icmpv6Checksum(out.subarray(22, 38), out.subarray(38, 54), icmp);
  icmp[2] = sum >> 8;
  icmp[3] = sum & 0xff;
  return out;
}

const ns = packet('ns-multicast'); // fd00::2 asks for fd00::100, with a source link-layer option
const withoutOption = resummed(withBytes(ns.subarray(0, 78), 18, [0, 24]));
const arp = packet('arp-request');

// The frames of the TypeScript responder's tests (responder.test.ts), from the same fixtures,
// and the RFC 4861 7.1.1 checks one by one.
const frames = [
  { name: 'owned multicast NS', frame: ns },
  { name: 'unicast NUD probe without a source link-layer option', frame: withoutOption },
  { name: 'DAD probe (source ::)', frame: packet('ns-dad') },
  { name: 'DAD probe with a source link-layer option', frame: resummed(withBytes(ns, 22, new Array<number>(16).fill(0))) },
  { name: 'DAD probe not to a solicited-node group', frame: resummed(withBytes(packet('ns-dad'), 38, [0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1])) },
  { name: 'hop limit 254', frame: withBytes(ns, 21, [254]) },
  { name: 'corrupted checksum', frame: withBytes(ns, 70, [0x77]) },
  { name: 'truncated', frame: ns.subarray(0, 70) },
  { name: 'payload longer than the frame', frame: withBytes(ns, 18, [0, 200]) },
  { name: 'code 1', frame: resummed(withBytes(ns, 55, [1])) },
  { name: 'multicast target', frame: resummed(withBytes(ns, 62, [0xff, 0x02])) },
  { name: 'zero-length option', frame: resummed(withBytes(ns, 79, [0])) },
  { name: 'option longer than the message', frame: resummed(withBytes(ns, 79, [2])) },
  { name: 'an advertisement', frame: resummed(withBytes(ns, 54, [136])) },
  { name: 'not ICMPv6', frame: withBytes(ns, 20, [17]) },
  { name: 'an ARP frame', frame: arp },
];
const owners = [
  { owner: 'the target', owned: ['fd00::100'] },
  { owner: 'another IP', owned: ['fd00::101'] },
  { owner: 'several IPs around the target', owned: ['fd00::ff', 'fd00::100', 'fd00::101', '2001:db8::1'] },
  { owner: 'nothing', owned: [] },
  { owner: 'the DAD target', owned: ['fe80::ff:fe00:1'] },
];
const cases = frames.flatMap((f) => owners.map((o) => ({ ...f, ...o })));

/** What the fast path may leave to JavaScript: everything that is not a plain answer or notOwned. */
function agrees(fast: FastDecision, js: Decision): boolean {
  if (fast.kind === 'reply') return js.kind === 'reply' && toHex(js.frame) === toHex(fast.frame ?? new Uint8Array());
  if (fast.kind === 'notOwned') return js.kind === 'drop' && js.reason === 'notOwned';
  return !(js.kind === 'drop' && js.reason === 'notOwned');
}

describe('the native NDP fast path decides as respondNdp does', () => {
  it.each(cases)('$name, owning $owner', ({ frame, owned }) => {
    const { view, ips } = tables(owned);
    const fast = decideNdp(frame, Buffer.from(mac), ips);
    const js = respondNdp(frame, view);
    expect({ fast: fast.kind, agrees: agrees(fast, js) }).toEqual({ fast: fast.kind, agrees: true });
  });

  it.each([
    { name: 'a multicast NS, to its source link-layer option', frame: ns },
    { name: 'a unicast NUD probe without the option, to the Ethernet source (MetalLB #2920)', frame: withoutOption },
  ])('answers $name byte for byte as JS does', ({ frame }) => {
    const { view, ips } = tables(['fd00::100']);
    const fast = decideNdp(frame, Buffer.from(mac), ips);
    const js = respondNdp(frame, view);
    expect(fast.kind).toBe('reply');
    expect(js.kind).toBe('reply');
    expect(toHex(fast.frame ?? new Uint8Array())).toBe(js.kind === 'reply' ? toHex(js.frame) : '');
  });

  it('counts as notOwned only valid solicitations for other addresses, and leaves DAD for an owned address to JS', () => {
    expect(decideNdp(ns, Buffer.from(mac), tables(['fd00::1']).ips).kind).toBe('notOwned');
    expect(decideNdp(packet('ns-dad'), Buffer.from(mac), tables(['fd00::1']).ips).kind).toBe('notOwned');
    expect(decideNdp(withBytes(ns, 21, [254]), Buffer.from(mac), tables(['fd00::1']).ips).kind).toBe('toJs');
    expect(decideNdp(packet('ns-dad'), Buffer.from(mac), tables(['fe80::ff:fe00:1']).ips).kind).toBe('toJs');
  });
});
