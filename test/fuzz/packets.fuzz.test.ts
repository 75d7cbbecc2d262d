import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseArp } from '../../src/layer2/packet/arp.js';
import { ipv4Key, ipv6Key, parseIpv4, parseIpv6 } from '../../src/layer2/packet/address.js';
import { icmpv6Checksum, parseNeighborSolicitation } from '../../src/layer2/packet/ndp.js';
import { respondArp, respondNdp, type ResponderView } from '../../src/layer2/responder.js';
import { hex, packet } from '../unit/layer2/fixtures.js';
import { fuzz, fuzzTimeoutMs } from './fuzz-settings.js';

const ownedV4 = '10.0.0.100';
const ownedV6 = 'fd00::100';
const view: ResponderView = {
  mac: hex('020000000001'),
  ownsIpv4: (k) => k === ipv4Key(parseIpv4(ownedV4)!),
  ownsIpv6: (k) => k === ipv6Key(parseIpv6(ownedV6)!),
};
const seeds = [packet('arp-request'), packet('ns-multicast'), packet('ns-dad')];

/** A valid frame with random bytes overwritten, truncated or extended: near-valid input. */
const mutated = fc
  .tuple(fc.constantFrom(...seeds), fc.array(fc.tuple(fc.nat(120), fc.nat(255)), { maxLength: 6 }), fc.nat(130), fc.boolean())
  .map(([frame, edits, cut, truncate]) => {
    const out = frame.slice();
    for (const [at, value] of edits) if (at < out.length) out[at] = value;
    return truncate ? out.subarray(0, Math.min(cut, out.length)) : out;
  });
const frames = fc.oneof(mutated, fc.uint8Array({ maxLength: 200 }));

describe('fuzz: ARP and NDP decoding and the responder', () => {
  it(
    'never throws, and answers only owned targets with well-formed replies',
    () => {
      fuzz(
        'frames',
        fc.property(frames, (frame) => {
          parseArp(frame);
          parseNeighborSolicitation(frame);
          const a = respondArp(frame, view);
          if (a.kind === 'reply') {
            expect(a.ip).toBe(ownedV4);
            expect(a.frame).toHaveLength(42);
            expect([...a.frame.subarray(6, 12)]).toEqual([...view.mac]);
            expect(a.frame[0] === undefined ? 0 : a.frame[0] & 1).toBe(0); // never to a group address
          }
          const n = respondNdp(frame, view);
          if (n.kind === 'reply') {
            expect(n.ip).toBe(ownedV6);
            expect(n.frame[21]).toBe(255);
            expect(icmpv6Checksum(n.frame.subarray(22, 38), n.frame.subarray(38, 54), n.frame.subarray(54))).toBe(0);
          }
        }),
        2000,
      );
    },
    fuzzTimeoutMs(),
  );
});
