import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { cidrContains, cidrLast, cidrSize, formatCidr, parseCidr } from '../../src/ip/cidr.js';
import { canonicalIpText, compareIp, formatIp, ipFromValue, parseIp, type IpFamily } from '../../src/ip/ip-addr.js';
import { formatRange, parseRange, rangeContains, rangeOfCidr, rangesOverlap, rangeToCidrs, type IpRange } from '../../src/ip/ip-range.js';

function ip(text: string) {
  const r = parseIp(text);
  if (!r.ok) throw new Error(`bad fixture ${text}`);
  return r.value;
}

function range(text: string): IpRange {
  const r = parseRange(text);
  if (!r.ok) throw new Error(`bad fixture ${text}`);
  return r.value;
}

describe('parseIp / formatIp', () => {
  it.each([
    { name: 'IPv4', input: '192.0.2.7', family: 4, canonical: '192.0.2.7' },
    { name: 'IPv4 zeros', input: '0.0.0.0', family: 4, canonical: '0.0.0.0' },
    { name: 'IPv4 max', input: '255.255.255.255', family: 4, canonical: '255.255.255.255' },
    { name: 'IPv6 uppercase is lowered', input: '2001:DB8::1', family: 6, canonical: '2001:db8::1' },
    { name: 'IPv6 full form is compressed', input: '2001:0db8:0000:0000:0000:0000:0000:0001', family: 6, canonical: '2001:db8::1' },
    { name: 'RFC 5952 4.2.2: one zero group is not compressed', input: '2001:db8:0:1:1:1:1:1', family: 6, canonical: '2001:db8:0:1:1:1:1:1' },
    { name: 'RFC 5952 4.2.3: longest run compressed', input: '2001:0:0:1:0:0:0:1', family: 6, canonical: '2001:0:0:1::1' },
    { name: 'RFC 5952 4.2.3: first of equal runs', input: '2001:db8:0:0:1:0:0:1', family: 6, canonical: '2001:db8::1:0:0:1' },
    { name: 'IPv6 unspecified', input: '::', family: 6, canonical: '::' },
    { name: 'IPv6 loopback', input: '0:0:0:0:0:0:0:1', family: 6, canonical: '::1' },
    { name: 'IPv6 trailing zeros', input: '2001:db8:1::', family: 6, canonical: '2001:db8:1::' },
    { name: 'RFC 5952 5: IPv4-mapped keeps the dotted quad', input: '::ffff:c000:0207', family: 6, canonical: '::ffff:192.0.2.7' },
    { name: 'IPv6 without zero run', input: '1:2:3:4:5:6:7:8', family: 6, canonical: '1:2:3:4:5:6:7:8' },
  ])('$name', ({ input, family, canonical }) => {
    const parsed = ip(input);
    expect(parsed.family).toBe(family);
    expect(formatIp(parsed)).toBe(canonical);
  });

  it.each([
    { name: 'octet too big', input: '10.0.0.300' },
    { name: 'three octets', input: '10.0.0' },
    { name: 'leading zero', input: '10.0.0.07' },
    { name: 'with prefix', input: '10.0.0.1/32' },
    { name: 'leading space', input: ' 10.0.0.1' },
    { name: 'hex octet', input: '0x10.0.0.1' },
    { name: 'empty', input: '' },
    { name: 'IPv6 with zone', input: 'fe80::1%eth0' },
    { name: 'IPv6 in brackets', input: '[::1]' },
    { name: 'IPv6 nine groups', input: '1:2:3:4:5:6:7:8:9' },
    { name: 'IPv6 two double colons', input: '1::2::3' },
    { name: 'IPv6 bad hex', input: '2001:db8::g' },
    { name: 'a name', input: 'localhost' },
  ])('rejects $name', ({ input }) => {
    expect(parseIp(input).ok).toBe(false);
  });

  it('round-trips every value through text', () => {
    fc.assert(
      fc.property(fc.constantFrom<IpFamily>(4, 6), fc.bigInt({ min: 0n, max: (1n << 128n) - 1n }), (family, raw) => {
        const value = family === 4 ? raw & 0xffffffffn : raw;
        const text = formatIp(ipFromValue(family, value));
        expect(parseIp(text)).toEqual({ ok: true, value: { family, value } });
        expect(text).toBe(text.toLowerCase());
      }),
    );
  });

  it('writes IPv6 in RFC 5952 form, also for addresses full of zero groups', () => {
    // A plain reference: groups from the full 32-digit hex, the leftmost longest run (>= 2) of
    // zero groups replaced by '::'. Groups are drawn mostly from 0 and 1 so runs are common.
    const reference = (value: bigint): string => {
      const groups = (value.toString(16).padStart(32, '0').match(/.{4}/g) ?? []).map((g) => parseInt(g, 16).toString(16));
      let best = { at: -1, len: 1 };
      for (let at = 0; at < 8; at++) {
        let len = 0;
        while (at + len < 8 && groups[at + len] === '0') len++;
        if (len > best.len) best = { at, len };
      }
      if (best.at < 0) return groups.join(':');
      return `${groups.slice(0, best.at).join(':')}::${groups.slice(best.at + best.len).join(':')}`;
    };
    const group = fc.oneof(fc.constant(0n), fc.constant(1n), fc.constant(0xffffn), fc.bigInt({ min: 0n, max: 0xffffn }));
    fc.assert(
      fc.property(fc.array(group, { minLength: 8, maxLength: 8 }), (groups) => {
        const value = groups.reduce((acc, g) => (acc << 16n) | g, 0n);
        fc.pre(value >> 32n !== 0xffffn); // IPv4-mapped keeps its dotted quad (table above)
        expect(formatIp(ipFromValue(6, value))).toBe(reference(value));
      }),
      { numRuns: 2000 },
    );
  });

  it('orders IPv4 before IPv6, then by value', () => {
    const sorted = ['::1', '10.0.0.2', '10.0.0.1', '::'].map(ip).sort(compareIp).map(formatIp);
    expect(sorted).toEqual(['10.0.0.1', '10.0.0.2', '::', '::1']);
  });
});

describe('canonicalIpText', () => {
  it.each([
    [' 192.0.2.1 ', '192.0.2.1'],
    ['2001:DB8:0:0:0:0:0:1', '2001:db8::1'],
    ['192.0.2.300', undefined],
    ['', undefined],
  ])('%j -> %j', (text, want) => {
    expect(canonicalIpText(text)).toBe(want);
  });
});

describe('parseCidr', () => {
  it.each([
    { name: 'IPv4 /24', input: '10.0.0.0/24', canonical: '10.0.0.0/24', size: 256n },
    { name: 'IPv4 /32', input: '10.0.0.7/32', canonical: '10.0.0.7/32', size: 1n },
    { name: 'IPv4 /0', input: '0.0.0.0/0', canonical: '0.0.0.0/0', size: 1n << 32n },
    { name: 'IPv6 /64', input: '2001:DB8::/64', canonical: '2001:db8::/64', size: 1n << 64n },
    { name: 'IPv6 /128', input: '2001:db8::1/128', canonical: '2001:db8::1/128', size: 1n },
  ])('$name', ({ input, canonical, size }) => {
    const r = parseCidr(input);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(formatCidr(r.value)).toBe(canonical);
    expect(cidrSize(r.value)).toBe(size);
  });

  it.each([
    { name: 'no prefix', input: '10.0.0.0' },
    { name: 'prefix too long v4', input: '10.0.0.0/33' },
    { name: 'prefix too long v6', input: '2001:db8::/129' },
    { name: 'prefix with leading zero', input: '10.0.0.0/024' },
    { name: 'negative prefix', input: '10.0.0.0/-1' },
    { name: 'empty prefix', input: '10.0.0.0/' },
    { name: 'bad address', input: '10.0.0.300/24' },
    { name: 'two slashes', input: '10.0.0.0/24/8' },
  ])('rejects $name as invalid', ({ input }) => {
    const r = parseCidr(input);
    expect(r.ok ? undefined : r.error.kind).toBe('invalid');
  });

  it.each([
    { name: 'IPv4', input: '10.0.0.7/24', network: '10.0.0.0/24' },
    { name: 'IPv6', input: '2001:db8::1/64', network: '2001:db8::/64' },
  ])('refuses host bits ($name) and names the network', ({ input, network }) => {
    const r = parseCidr(input);
    expect(r.ok).toBe(false);
    if (r.ok || r.error.kind !== 'hostBits') throw new Error('expected hostBits');
    expect(formatCidr(r.error.network)).toBe(network);
  });

  it('contains its first and last address only', () => {
    const r = parseCidr('10.0.1.0/24');
    if (!r.ok) throw new Error('fixture');
    expect(cidrContains(r.value, ip('10.0.1.0'))).toBe(true);
    expect(cidrContains(r.value, ip('10.0.1.255'))).toBe(true);
    expect(cidrContains(r.value, ip('10.0.2.0'))).toBe(false);
    expect(cidrContains(r.value, ip('::a00:100'))).toBe(false);
    expect(cidrLast(r.value)).toBe(ip('10.0.1.255').value);
  });
});

describe('parseRange', () => {
  it.each([
    { name: 'plain', input: '10.0.0.1-10.0.0.9', canonical: '10.0.0.1-10.0.0.9' },
    { name: 'spaces around the dash', input: '10.0.0.1 - 10.0.0.9', canonical: '10.0.0.1-10.0.0.9' },
    { name: 'single address', input: '10.0.0.1-10.0.0.1', canonical: '10.0.0.1-10.0.0.1' },
    { name: 'IPv6', input: '2001:db8::10 - 2001:DB8::ff', canonical: '2001:db8::10-2001:db8::ff' },
  ])('$name', ({ input, canonical }) => {
    expect(formatRange(range(input))).toBe(canonical);
  });

  it.each([
    { name: 'reversed', input: '10.0.0.9-10.0.0.1', kind: 'reversed' },
    { name: 'mixed families', input: '10.0.0.1-2001:db8::1', kind: 'mixedFamilies' },
    { name: 'three parts', input: '10.0.0.1-10.0.0.2-10.0.0.3', kind: 'invalid' },
    { name: 'CIDR end', input: '10.0.0.1-10.0.0.0/24', kind: 'invalid' },
    { name: 'empty end', input: '10.0.0.1-', kind: 'invalid' },
  ])('rejects $name', ({ input, kind }) => {
    const r = parseRange(input);
    expect(r.ok ? undefined : r.error.kind).toBe(kind);
  });

  it.each([
    { name: 'disjoint', a: '10.0.0.0-10.0.0.9', b: '10.0.0.10-10.0.0.20', overlap: false },
    { name: 'touching at one address', a: '10.0.0.0-10.0.0.10', b: '10.0.0.10-10.0.0.20', overlap: true },
    { name: 'nested', a: '10.0.0.0-10.0.0.255', b: '10.0.0.10-10.0.0.20', overlap: true },
    { name: 'other family, same values', a: '0.0.0.0-0.0.0.9', b: '::-::9', overlap: false },
  ])('overlap: $name', ({ a, b, overlap }) => {
    expect(rangesOverlap(range(a), range(b))).toBe(overlap);
    expect(rangesOverlap(range(b), range(a))).toBe(overlap);
  });

  it('contains by family and value', () => {
    expect(rangeContains(range('10.0.0.1-10.0.0.3'), ip('10.0.0.3'))).toBe(true);
    expect(rangeContains(range('10.0.0.1-10.0.0.3'), ip('10.0.0.4'))).toBe(false);
  });
});

describe('rangeToCidrs', () => {
  it.each([
    { name: 'aligned /24', input: '10.0.0.0-10.0.0.255', want: ['10.0.0.0/24'] },
    { name: 'one address', input: '10.0.0.5-10.0.0.5', want: ['10.0.0.5/32'] },
    { name: 'unaligned both ends', input: '10.0.0.1-10.0.0.6', want: ['10.0.0.1/32', '10.0.0.2/31', '10.0.0.4/31', '10.0.0.6/32'] },
    { name: 'across a /24 boundary', input: '10.0.0.128-10.0.1.127', want: ['10.0.0.128/25', '10.0.1.0/25'] },
    { name: 'whole IPv4 space', input: '0.0.0.0-255.255.255.255', want: ['0.0.0.0/0'] },
    { name: 'IPv6 range', input: '2001:db8::1-2001:db8::4', want: ['2001:db8::1/128', '2001:db8::2/127', '2001:db8::4/128'] },
    { name: 'whole IPv6 space', input: '::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', want: ['::/0'] },
  ])('$name', ({ input, want }) => {
    expect(rangeToCidrs(range(input)).map(formatCidr)).toEqual(want);
  });

  it('covers exactly the range with the fewest CIDRs, in order', () => {
    fc.assert(
      fc.property(fc.constantFrom<IpFamily>(4, 6), fc.bigInt({ min: 0n, max: (1n << 32n) - 1n }), fc.bigInt({ min: 0n, max: 1n << 20n }), (family, start, length) => {
        const max = family === 4 ? (1n << 32n) - 1n : (1n << 128n) - 1n;
        const first = family === 4 ? start : start << 90n;
        const last = first + length > max ? max : first + length;
        const cidrs = rangeToCidrs({ family, first, last });
        let next = first;
        for (const c of cidrs) {
          const r = rangeOfCidr(c);
          expect(r.first).toBe(next);
          next = r.last + 1n;
        }
        expect(next).toBe(last + 1n);
        // Minimal: no two neighbours form one aligned CIDR of twice the size.
        for (let i = 1; i < cidrs.length; i++) {
          const a = cidrs[i - 1]!;
          const b = cidrs[i]!;
          const mergeable = a.prefix === b.prefix && a.prefix > 0 && (a.base & (cidrSize(a) * 2n - 1n)) === 0n;
          expect(mergeable).toBe(false);
        }
      }),
    );
  });
});
