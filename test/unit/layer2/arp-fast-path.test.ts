import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { ipv4Key, parseIpv4 } from '../../../src/layer2/packet/address.js';
import { respondArp, type Decision, type ResponderView } from '../../../src/layer2/responder.js';
import { repoRoot } from '../../helpers/cli.js';
import { hex, packet, toHex } from './fixtures.js';

/** native/afpacket.c's export of the fast path's pure decision (arp-fast-path.c). */
interface FastDecision {
  readonly kind: 'toJs' | 'notOwned' | 'reply';
  readonly frame?: Buffer;
}
const { decideArp } = createRequire(`${repoRoot}/`)('./native/build/Release/afpacket.node') as {
  decideArp: (frame: Uint8Array, mac: Buffer, ips: Buffer) => FastDecision;
};

const mac = hex('020000000001');

function tables(owned: readonly string[]): { view: ResponderView; ips: Buffer } {
  const keys = new Set(owned.map((ip) => ipv4Key(parseIpv4(ip)!)));
  const view: ResponderView = { mac, ownsIpv4: (k) => keys.has(k), ownsIpv6: () => false };
  return { view, ips: Buffer.concat(owned.map((ip) => Buffer.from(parseIpv4(ip)!))) };
}

function withBytes(frame: Uint8Array, at: number, values: readonly number[]): Uint8Array {
  const out = frame.slice();
  out.set(values, at);
  return out;
}

const arp = packet('arp-request');

// The frames of the TypeScript responder's tests (responder.test.ts), from the same fixtures.
const frames = [
  { name: 'owned request', frame: arp },
  { name: 'a reply', frame: withBytes(arp, 21, [2]) },
  { name: 'truncated', frame: arp.subarray(0, 30) },
  { name: 'not ARP at all', frame: packet('ns-multicast') },
  { name: 'NDP DAD', frame: packet('ns-dad') },
  { name: 'RFC 5227 probe from 0.0.0.0', frame: withBytes(arp, 28, [0, 0, 0, 0]) },
  { name: 'broadcast sender MAC', frame: withBytes(arp, 22, [0xff, 0xff, 0xff, 0xff, 0xff, 0xff]) },
  { name: 'multicast sender MAC', frame: withBytes(arp, 22, [0x01, 0x00, 0x5e, 0, 0, 1]) },
  { name: 'zero sender MAC', frame: withBytes(arp, 22, [0, 0, 0, 0, 0, 0]) },
  { name: 'zero Ethernet source', frame: withBytes(arp, 6, [0, 0, 0, 0, 0, 0]) },
  { name: 'multicast Ethernet source', frame: withBytes(arp, 6, [0x33, 0x33, 0, 0, 0, 1]) },
  { name: 'broadcast sender IP', frame: withBytes(arp, 28, [255, 255, 255, 255]) },
  { name: 'multicast sender IP', frame: withBytes(arp, 28, [224, 0, 0, 1]) },
  { name: 'sender IP just below multicast', frame: withBytes(arp, 28, [223, 255, 255, 255]) },
  { name: 'gratuitous ARP from another MAC for an owned IP', frame: withBytes(arp, 28, [10, 0, 0, 100]) },
  { name: 'hardware type not Ethernet', frame: withBytes(arp, 15, [6]) },
  { name: 'protocol not IPv4', frame: withBytes(arp, 16, [0x86, 0xdd]) },
  { name: 'hardware length 8', frame: withBytes(arp, 18, [8]) },
];
const owners = [
  { owner: 'the target', owned: ['10.0.0.100'] },
  { owner: 'another IP', owned: ['10.0.0.101'] },
  { owner: 'several IPs around the target', owned: ['10.0.0.99', '10.0.0.100', '10.0.0.101', '192.168.0.1'] },
  { owner: 'nothing', owned: [] },
];
const cases = frames.flatMap((f) => owners.map((o) => ({ ...f, ...o })));

/** What the fast path may leave to JavaScript: everything that is not a plain answer or notOwned. */
function agrees(fast: FastDecision, js: Decision): boolean {
  if (fast.kind === 'reply') return js.kind === 'reply' && toHex(js.frame) === toHex(fast.frame ?? new Uint8Array());
  if (fast.kind === 'notOwned') return js.kind === 'drop' && js.reason === 'notOwned';
  return !(js.kind === 'drop' && js.reason === 'notOwned');
}

describe('the native ARP fast path decides as respondArp does', () => {
  it.each(cases)('$name, owning $owner', ({ frame, owned }) => {
    const { view, ips } = tables(owned);
    const fast = decideArp(frame, Buffer.from(mac), ips);
    const js = respondArp(frame, view);
    expect({ fast: fast.kind, agrees: agrees(fast, js) }).toEqual({ fast: fast.kind, agrees: true });
  });

  it('answers and counts as notOwned exactly the plain requests JS would answer or count so', () => {
    const { view, ips } = tables(['10.0.0.100']);
    expect(decideArp(arp, Buffer.from(mac), ips).kind).toBe('reply');
    expect(respondArp(arp, view).kind).toBe('reply');
    expect(decideArp(arp, Buffer.from(mac), tables(['10.0.0.1']).ips).kind).toBe('notOwned');
  });
});
