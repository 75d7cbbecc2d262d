import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseConfigSource, parseConfigYaml } from '../../src/config/config-yaml.js';
import { formatIssue } from '../../src/config/config.js';
import { fuzz, fuzzTimeoutMs } from './fuzz-settings.js';

/** Fragments near the valid grammar, so random combinations reach deep into the parser. */
const ipv4 = fc.tuple(fc.nat(300), fc.nat(300), fc.nat(300), fc.nat(300)).map((p) => p.join('.'));
const ipv6 = fc.array(fc.constantFrom('fd00', '0', 'ffff', '', '1', 'zz', '10000'), { minLength: 1, maxLength: 9 }).map((p) => p.join(':'));
const address = fc.oneof(
  fc.tuple(ipv4, fc.nat(40)).map(([ip, len]) => `${ip}/${String(len)}`),
  fc.tuple(ipv6, fc.nat(140)).map(([ip, len]) => `${ip}/${String(len)}`),
  fc.tuple(ipv4, ipv4, fc.constantFrom('-', ' - ', '--', ' -')).map(([a, b, dash]) => `${a}${dash}${b}`),
  fc.tuple(ipv6, ipv4).map(([a, b]) => `${a}-${b}`),
  fc.string({ maxLength: 40 }),
);
const scalar = fc.oneof(fc.string({ maxLength: 20 }), fc.integer(), fc.boolean(), fc.constant(null), fc.double(), address);
const pool = fc.record(
  {
    name: fc.oneof(fc.constantFrom('default', 'a', 'b', ''), scalar),
    protocol: fc.oneof(fc.constantFrom('layer2', 'bgp', 'Layer2'), scalar),
    addresses: fc.oneof(fc.array(address, { maxLength: 5 }), scalar),
    'auto-assign': fc.oneof(fc.boolean(), scalar),
    'avoid-buggy-ips': fc.oneof(fc.boolean(), scalar),
    'bgp-advertisements': fc.array(fc.dictionary(fc.string({ maxLength: 5 }), scalar), { maxLength: 2 }),
    'x-k': scalar,
  },
  { requiredKeys: [] },
);
const config = fc.oneof(
  fc.record({ 'address-pools': fc.oneof(fc.array(pool, { maxLength: 4 }), scalar) }, { requiredKeys: [] }),
  fc.dictionary(fc.string({ maxLength: 10 }), scalar),
  scalar,
  fc.anything({ maxDepth: 4 }),
);

/** Every error must be one clear line that says where: no stack trace, no "undefined". */
function checkIssues(r: ReturnType<typeof parseConfigYaml>): void {
  if (r.ok) return;
  expect(r.error.length).toBeGreaterThan(0);
  for (const issue of r.error) {
    const text = formatIssue(issue);
    expect(text).not.toMatch(/\n\s+at |TypeError|RangeError|\[object Object\]/);
    expect(issue.message.length).toBeGreaterThan(0);
  }
}

describe('fuzz: the config parser', () => {
  it(
    'never throws on structured input near the grammar, and every error names its place',
    () => {
      fuzz(
        'config structured',
        fc.property(config, (raw) => {
          const r = parseConfigYaml(JSON.stringify(raw));
          checkIssues(r);
          if (r.ok) for (const p of r.value.pools) expect(p.addresses.length).toBeGreaterThan(0);
        }),
        300,
      );
    },
    fuzzTimeoutMs(),
  );

  it(
    'never throws on arbitrary text, raw config or manifest',
    () => {
      const text = fc.oneof(fc.string({ maxLength: 300 }), fc.string({ unit: fc.constantFrom('a', ':', '-', ' ', '\n', '[', ']', '{', '}', '&a', '*a', '!!', '"', "'", '#', '|', '>', '?') , maxLength: 200 }));
      fuzz(
        'config text',
        fc.property(text, (t) => {
          checkIssues(parseConfigYaml(t));
          checkIssues(parseConfigSource(t));
        }),
        500,
      );
    },
    fuzzTimeoutMs(),
  );

  it('refuses a billion-laughs alias bomb quickly instead of expanding it', () => {
    const levels = ['a: &a ["x","x","x","x","x","x","x","x","x","x"]'];
    for (let i = 1; i < 10; i += 1) levels.push(`${String.fromCharCode(97 + i)}: &${String.fromCharCode(97 + i)} [${Array<string>(10).fill(`*${String.fromCharCode(96 + i)}`).join(',')}]`);
    const r = parseConfigYaml(`${levels.join('\n')}\naddress-pools: *j\n`);
    expect(r.ok).toBe(false);
    expect(r.ok ? '' : r.error.map(formatIssue).join(' ')).toMatch(/alias/i);
  });
});
