import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatIssue } from '../../src/config/config.js';
import { configSummary, describePool } from '../../src/config/config-summary.js';
import { parseConfig } from '../../src/config/parse-config.js';
import { parseConfigSource, parseConfigYaml } from '../../src/config/config-yaml.js';
import { repoRoot } from '../helpers/cli.js';

/** Issue lines, or the JSON summary, of a config text. */
function outcome(text: string): { ok: true; pools: ReturnType<typeof configSummary>['pools'] } | { ok: false; issues: string[] } {
  const r = parseConfigSource(text);
  return r.ok ? { ok: true, pools: configSummary(r.value).pools } : { ok: false, issues: r.error.map(formatIssue) };
}

const pool = (body: string): string => `address-pools:\n- name: p\n  protocol: layer2\n${body}`;

describe('config: valid', () => {
  it.each([
    {
      name: 'one IPv4 CIDR, defaults',
      yaml: pool('  addresses: [10.0.0.0/24]\n'),
      want: [{ name: 'p', protocol: 'layer2', autoAssign: true, avoidBuggyIPs: false, cidrs: ['10.0.0.0/24'] }],
    },
    {
      name: 'a range is summarised into minimal CIDRs',
      yaml: pool('  addresses: ["10.0.0.1-10.0.0.6"]\n'),
      want: [{ name: 'p', protocol: 'layer2', autoAssign: true, avoidBuggyIPs: false, cidrs: ['10.0.0.1/32', '10.0.0.2/31', '10.0.0.4/31', '10.0.0.6/32'] }],
    },
    {
      name: 'spaces around the dash',
      yaml: pool('  addresses: ["10.0.0.0 - 10.0.0.127"]\n'),
      want: [{ name: 'p', protocol: 'layer2', autoAssign: true, avoidBuggyIPs: false, cidrs: ['10.0.0.0/25'] }],
    },
    {
      name: 'mixed families in one pool',
      yaml: pool('  addresses: [10.0.0.0/28, "2001:db8::/120"]\n'),
      want: [{ name: 'p', protocol: 'layer2', autoAssign: true, avoidBuggyIPs: false, cidrs: ['10.0.0.0/28', '2001:db8::/120'] }],
    },
    {
      name: 'IPv6 range, uppercase, canonicalised',
      yaml: pool('  addresses: ["2001:DB8::10-2001:db8::1F"]\n'),
      want: [{ name: 'p', protocol: 'layer2', autoAssign: true, avoidBuggyIPs: false, cidrs: ['2001:db8::10/124'] }],
    },
    {
      name: 'auto-assign false and avoid-buggy-ips true',
      yaml: pool('  addresses: [10.0.0.0/24]\n  auto-assign: false\n  avoid-buggy-ips: true\n'),
      want: [{ name: 'p', protocol: 'layer2', autoAssign: false, avoidBuggyIPs: true, cidrs: ['10.0.0.0/24'] }],
    },
    {
      name: 'two pools, adjacent but not overlapping',
      yaml: 'address-pools:\n- {name: a, protocol: layer2, addresses: [10.0.0.0/25]}\n- {name: b, protocol: layer2, addresses: ["10.0.0.128-10.0.0.255"]}\n',
      want: [
        { name: 'a', protocol: 'layer2', autoAssign: true, avoidBuggyIPs: false, cidrs: ['10.0.0.0/25'] },
        { name: 'b', protocol: 'layer2', autoAssign: true, avoidBuggyIPs: false, cidrs: ['10.0.0.128/25'] },
      ],
    },
    { name: 'no pools at all', yaml: 'address-pools: []\n', want: [] },
    { name: 'an empty map', yaml: '{}\n', want: [] },
    {
      name: 'a single address as /32 and /128',
      yaml: pool('  addresses: [192.0.2.7/32, "2001:db8::7/128"]\n'),
      want: [{ name: 'p', protocol: 'layer2', autoAssign: true, avoidBuggyIPs: false, cidrs: ['192.0.2.7/32', '2001:db8::7/128'] }],
    },
    {
      name: 'a /64',
      yaml: pool('  addresses: ["2001:db8:1::/64"]\n'),
      want: [{ name: 'p', protocol: 'layer2', autoAssign: true, avoidBuggyIPs: false, cidrs: ['2001:db8:1::/64'] }],
    },
    {
      name: 'pool names with dots, dashes and underscores',
      yaml: 'address-pools:\n- {name: prod.lan_1-a, protocol: layer2, addresses: [10.0.0.0/30]}\n',
      want: [{ name: 'prod.lan_1-a', protocol: 'layer2', autoAssign: true, avoidBuggyIPs: false, cidrs: ['10.0.0.0/30'] }],
    },
    {
      name: 'JSON is YAML too',
      yaml: '{"address-pools":[{"name":"j","protocol":"layer2","addresses":["10.1.0.0/16"]}]}',
      want: [{ name: 'j', protocol: 'layer2', autoAssign: true, avoidBuggyIPs: false, cidrs: ['10.1.0.0/16'] }],
    },
    {
      name: 'anchors and aliases',
      yaml: 'address-pools:\n- {name: a, protocol: &l2 layer2, addresses: [10.0.0.0/30]}\n- {name: b, protocol: *l2, addresses: [10.0.1.0/30]}\n',
      want: [
        { name: 'a', protocol: 'layer2', autoAssign: true, avoidBuggyIPs: false, cidrs: ['10.0.0.0/30'] },
        { name: 'b', protocol: 'layer2', autoAssign: true, avoidBuggyIPs: false, cidrs: ['10.0.1.0/30'] },
      ],
    },
  ])('$name', ({ yaml, want }) => {
    expect(outcome(yaml)).toEqual({ ok: true, pools: want });
  });
});

describe('config: invalid', () => {
  it.each([
    { name: 'missing name', yaml: 'address-pools:\n- {protocol: layer2, addresses: [10.0.0.0/24]}\n', issues: ['address-pools[0]: missing required key "name"'] },
    { name: 'empty name', yaml: 'address-pools:\n- {name: "", protocol: layer2, addresses: [10.0.0.0/24]}\n', issues: [/^address-pools\[0\]: name: "" is not a valid pool name/] },
    { name: 'name with a space', yaml: 'address-pools:\n- {name: "my pool", protocol: layer2, addresses: [10.0.0.0/24]}\n', issues: [/^address-pools\[0\] "my pool": name: "my pool" is not a valid pool name/] },
    { name: 'name is a number', yaml: 'address-pools:\n- {name: 5, protocol: layer2, addresses: [10.0.0.0/24]}\n', issues: ['address-pools[0]: name: expected a string, got number 5'] },
    {
      name: 'duplicate name',
      yaml: 'address-pools:\n- {name: a, protocol: layer2, addresses: [10.0.0.0/24]}\n- {name: a, protocol: layer2, addresses: [10.0.1.0/24]}\n',
      issues: ['address-pools[1] "a": name: "a" is already the name of address-pools[0]'],
    },
    { name: 'missing protocol', yaml: 'address-pools:\n- {name: a, addresses: [10.0.0.0/24]}\n', issues: ['address-pools[0] "a": missing required key "protocol" (ironlb supports layer2)'] },
    { name: 'bgp protocol', yaml: 'address-pools:\n- {name: a, protocol: bgp, addresses: [10.0.0.0/24]}\n', issues: ['address-pools[0] "a": protocol: "bgp": bgp is not supported, layer2 only'] },
    { name: 'unknown protocol', yaml: 'address-pools:\n- {name: a, protocol: arp, addresses: [10.0.0.0/24]}\n', issues: ['address-pools[0] "a": protocol: unknown protocol "arp": the only one is layer2'] },
    { name: 'protocol case matters', yaml: 'address-pools:\n- {name: a, protocol: Layer2, addresses: [10.0.0.0/24]}\n', issues: ['address-pools[0] "a": protocol: unknown protocol "Layer2": the only one is layer2'] },
    { name: 'missing addresses', yaml: 'address-pools:\n- {name: a, protocol: layer2}\n', issues: ['address-pools[0] "a": missing required key "addresses"'] },
    { name: 'empty address list', yaml: 'address-pools:\n- {name: a, protocol: layer2, addresses: []}\n', issues: ['address-pools[0] "a": addresses: the list is empty: give at least one CIDR or range'] },
    { name: 'addresses is a string', yaml: 'address-pools:\n- {name: a, protocol: layer2, addresses: 10.0.0.0/24}\n', issues: ['address-pools[0] "a": addresses: expected a list of CIDRs or ranges, got string "10.0.0.0/24"'] },
    { name: 'invalid CIDR (the DESIGN example)', yaml: 'address-pools:\n- {name: a, protocol: layer2, addresses: [10.0.0.0/24]}\n- {name: b, protocol: layer2, addresses: [10.0.1.0/24]}\n- {name: blue, protocol: layer2, addresses: [10.0.0.300/24]}\n', issues: ['address-pools[2] "blue": addresses[0]: "10.0.0.300/24" is not a valid CIDR or range'] },
    { name: 'prefix too long', yaml: pool('  addresses: [10.0.0.0/33]\n'), issues: ['address-pools[0] "p": addresses[0]: "10.0.0.0/33" is not a valid CIDR or range'] },
    { name: 'host bits set', yaml: pool('  addresses: [10.0.0.7/24]\n'), issues: ['address-pools[0] "p": addresses[0]: "10.0.0.7/24" has host bits set: write "10.0.0.0/24" for the whole network or "10.0.0.7/32" for one address'] },
    { name: 'IPv6 host bits set', yaml: pool('  addresses: ["2001:db8::1/64"]\n'), issues: ['address-pools[0] "p": addresses[0]: "2001:db8::1/64" has host bits set: write "2001:db8::/64" for the whole network or "2001:db8::1/128" for one address'] },
    { name: 'bare address', yaml: pool('  addresses: [10.0.0.5]\n'), issues: ['address-pools[0] "p": addresses[0]: "10.0.0.5" is a single address, not a CIDR: write "10.0.0.5/32"'] },
    { name: 'reversed range', yaml: pool('  addresses: ["10.0.0.9-10.0.0.1"]\n'), issues: ['address-pools[0] "p": addresses[0]: "10.0.0.9-10.0.0.1" is reversed: the first address is after the last'] },
    { name: 'range across families', yaml: pool('  addresses: ["10.0.0.1-2001:db8::1"]\n'), issues: ['address-pools[0] "p": addresses[0]: "10.0.0.1-2001:db8::1" mixes IPv4 and IPv6: a range must stay within one family'] },
    { name: 'range with a bad end', yaml: pool('  addresses: ["10.0.0.1-10.0.0.256"]\n'), issues: ['address-pools[0] "p": addresses[0]: "10.0.0.1-10.0.0.256" is not a valid CIDR or range'] },
    { name: 'address entry is a number', yaml: pool('  addresses: [10]\n'), issues: ['address-pools[0] "p": addresses[0]: expected a string (a CIDR or a range), got number 10'] },
    { name: 'overlap within a pool', yaml: pool('  addresses: [10.0.0.0/24, "10.0.0.200-10.0.1.5"]\n'), issues: ['address-pools[0] "p": addresses[1]: "10.0.0.200-10.0.1.5" overlaps "10.0.0.0/24" (addresses[0] of the same pool)'] },
    { name: 'duplicate entry', yaml: pool('  addresses: [10.0.0.0/24, 10.0.0.0/24]\n'), issues: ['address-pools[0] "p": addresses[1]: "10.0.0.0/24" overlaps "10.0.0.0/24" (addresses[0] of the same pool)'] },
    {
      name: 'overlap across pools',
      yaml: 'address-pools:\n- {name: a, protocol: layer2, addresses: [10.0.0.0/24]}\n- {name: b, protocol: layer2, addresses: [10.0.0.128/25]}\n',
      issues: ['address-pools[1] "b": addresses[0]: "10.0.0.128/25" overlaps "10.0.0.0/24" (address-pools[0] "a" addresses[0])'],
    },
    {
      name: 'overlap reported at the later entry even when it starts lower',
      yaml: 'address-pools:\n- {name: a, protocol: layer2, addresses: [10.0.0.128/25]}\n- {name: b, protocol: layer2, addresses: [10.0.0.0/16]}\n',
      issues: ['address-pools[1] "b": addresses[0]: "10.0.0.0/16" overlaps "10.0.0.128/25" (address-pools[0] "a" addresses[0])'],
    },
    {
      name: 'IPv6 overlap across pools',
      yaml: 'address-pools:\n- {name: a, protocol: layer2, addresses: ["2001:db8::/64"]}\n- {name: b, protocol: layer2, addresses: ["2001:db8::5-2001:db8::9"]}\n',
      issues: ['address-pools[1] "b": addresses[0]: "2001:db8::5-2001:db8::9" overlaps "2001:db8::/64" (address-pools[0] "a" addresses[0])'],
    },
    { name: 'bgp-advertisements on a layer2 pool', yaml: pool('  addresses: [10.0.0.0/24]\n  bgp-advertisements: [{aggregation-length: 32}]\n'), issues: ['address-pools[0] "p": bgp-advertisements: bgp-advertisements are for bgp pools only, and ironlb pools are layer2'] },
    { name: 'unknown pool key with a near spelling', yaml: pool('  addresses: [10.0.0.0/24]\n  autoAssign: false\n'), issues: ['address-pools[0] "p": unknown key "autoAssign"; did you mean "auto-assign"?'] },
    { name: 'unknown pool key', yaml: pool('  addresses: [10.0.0.0/24]\n  colour: blue\n'), issues: ['address-pools[0] "p": unknown key "colour"; known keys: name, protocol, addresses, auto-assign, avoid-buggy-ips'] },
    { name: 'auto-assign as yes (YAML 1.2 string)', yaml: pool('  addresses: [10.0.0.0/24]\n  auto-assign: yes\n'), issues: ['address-pools[0] "p": auto-assign: expected true or false, got string "yes"'] },
    { name: 'avoid-buggy-ips as a number', yaml: pool('  addresses: [10.0.0.0/24]\n  avoid-buggy-ips: 1\n'), issues: ['address-pools[0] "p": avoid-buggy-ips: expected true or false, got number 1'] },
    { name: 'pool is not a map', yaml: 'address-pools:\n- 10.0.0.0/24\n', issues: ['address-pools[0]: expected a map with name, protocol and addresses, got string "10.0.0.0/24"'] },
    { name: 'address-pools is a map', yaml: 'address-pools:\n  name: a\n', issues: ['address-pools: expected a list of pools, got a map'] },
    { name: 'peers', yaml: 'peers:\n- peer-address: 10.0.0.1\naddress-pools: []\n', issues: ['peers: bgp is not supported, layer2 only'] },
    { name: 'bgp-communities', yaml: 'bgp-communities: {a: "1:1"}\n', issues: ['bgp-communities: bgp is not supported, layer2 only'] },
    { name: 'unknown top-level key', yaml: 'address_pools: []\n', issues: ['unknown key "address_pools"; did you mean "address-pools"?'] },
    { name: 'empty document', yaml: '', issues: ['the config is empty: expected a map with address-pools'] },
    { name: 'only a comment', yaml: '# nothing\n', issues: ['the config is empty: expected a map with address-pools'] },
    { name: 'a list at the top', yaml: '- a\n', issues: ['expected a map with address-pools, got a list'] },
    { name: 'YAML syntax error with its line', yaml: 'address-pools:\n- name: a\n  protocol: "layer2\n', issues: [/^line 4, column 1: YAML syntax error: Missing closing "quote/] },
    { name: 'YAML duplicate key with its line', yaml: 'address-pools: []\naddress-pools: []\n', issues: [/^line 2, column 1: YAML syntax error: Map keys must be unique/] },
    { name: 'YAML bad indentation', yaml: 'address-pools:\n- name: a\n protocol: layer2\n', issues: [/^line 3, column \d+: YAML syntax error:/] },
    { name: 'two YAML documents in a raw config', yaml: 'address-pools: []\n---\naddress-pools: []\n', issues: ['expected one YAML document, found 2'] },
    { name: 'alias bomb', yaml: `a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [${'*a, '.repeat(9)}*a]\nc: &c [${'*b, '.repeat(9)}*b]\nd: [${'*c, '.repeat(9)}*c]\n`, issues: [/^YAML error: .*[Aa]lias/] },
    {
      name: 'every problem of a pool at once, in order',
      yaml: 'address-pools:\n- {name: x, protocol: bgp, addresses: [10.0.0.1/24, bad], auto-assign: "no"}\n',
      issues: [
        'address-pools[0] "x": protocol: "bgp": bgp is not supported, layer2 only',
        'address-pools[0] "x": addresses[0]: "10.0.0.1/24" has host bits set: write "10.0.0.0/24" for the whole network or "10.0.0.1/32" for one address',
        'address-pools[0] "x": addresses[1]: "bad" is not a valid CIDR or range',
        'address-pools[0] "x": auto-assign: expected true or false, got string "no"',
      ],
    },
    { name: 'a huge value is cut in the message', yaml: pool(`  addresses: ["${'1'.repeat(500)}"]\n`), issues: [`address-pools[0] "p": addresses[0]: "${'1'.repeat(80)}..." is not a valid CIDR or range`] },
  ])('$name', ({ yaml, issues }) => {
    const got = outcome(yaml);
    expect(got.ok).toBe(false);
    if (got.ok) return;
    expect(got.issues).toHaveLength(issues.length);
    issues.forEach((want, i) => {
      if (typeof want === 'string') expect(got.issues[i]).toBe(want);
      else expect(got.issues[i]).toMatch(want);
    });
  });
});

describe('config: ConfigMap manifests', () => {
  const manifest = (config: string, extra = ''): string =>
    `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  namespace: ironlb-system\n  name: config\n${extra}data:\n  config: |\n${config.split('\n').map((l) => (l === '' ? '' : `    ${l}`)).join('\n')}`;

  it.each([
    { name: 'a manifest holding a valid config', text: manifest(pool('  addresses: [10.0.0.0/24]\n')), want: { ok: true } },
    { name: 'a manifest among other documents', text: `apiVersion: v1\nkind: Namespace\nmetadata: {name: ironlb-system}\n---\n${manifest(pool('  addresses: [10.0.0.0/24]\n'))}`, want: { ok: true } },
    { name: 'not a ConfigMap', text: 'apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\n', want: { ok: false, issues: ['kind: string "Deployment" is not a ConfigMap: give the config itself or its ConfigMap'] } },
    { name: 'no data.config', text: 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: config}\ndata: {other: x}\n', want: { ok: false, issues: ['data.config: missing: the ConfigMap must hold the config under the key "config"'] } },
    { name: 'data.config not a string', text: 'apiVersion: v1\nkind: ConfigMap\ndata:\n  config: {address-pools: []}\n', want: { ok: false, issues: ['data.config: expected a string (the config YAML), got a map'] } },
    { name: 'two ConfigMaps', text: `${manifest('address-pools: []\n')}---\n${manifest('address-pools: []\n')}`, want: { ok: false, issues: ['expected one ConfigMap among 2 documents, found 2 (kinds: string "ConfigMap", string "ConfigMap")'] } },
    { name: 'an invalid config inside', text: manifest(pool('  addresses: [10.0.0.300/24]\n')), want: { ok: false, issues: ['address-pools[0] "p": addresses[0]: "10.0.0.300/24" is not a valid CIDR or range'] } },
    // The config's line 3 is the file's line 10: the block starts after `config: |` on line 7.
    { name: 'a YAML error inside points at the file line', text: manifest('address-pools:\n- name: a\n  protocol: "layer2\n'), want: { ok: false, issues: [/^line 11, column \d+: YAML syntax error: Missing closing "quote/] } },
  ])('$name', ({ text, want }) => {
    const got = outcome(text);
    expect(got.ok).toBe(want.ok);
    if (got.ok || want.issues === undefined) return;
    expect(got.issues).toHaveLength(want.issues.length);
    want.issues.forEach((w, i) => {
      if (typeof w === 'string') expect(got.issues[i]).toBe(w);
      else expect(got.issues[i]).toMatch(w);
    });
  });

  it('parseConfigYaml does not unwrap manifests: the controller hands it data.config', () => {
    const r = parseConfigYaml('kind: ConfigMap\n');
    expect(r.ok ? [] : r.error.map(formatIssue)).toEqual(['unknown key "kind"; known keys: address-pools']);
  });
});

describe('config: parsed values', () => {
  it('keeps entries as written and their ranges', () => {
    const r = parseConfig({ 'address-pools': [{ name: 'a', protocol: 'layer2', addresses: [' 10.0.0.4 - 10.0.0.7 '] }] });
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    const entry = r.value.pools[0]!.addresses[0]!;
    expect(entry.text).toBe('10.0.0.4 - 10.0.0.7');
    expect(entry.range).toEqual({ family: 4, first: 0x0a000004n, last: 0x0a000007n });
  });

  it.each([
    { name: 'a /24', yaml: pool('  addresses: [10.0.0.0/24]\n'), line: 'p: 256 addresses (layer2, auto-assign; 10.0.0.0/24)' },
    { name: 'one address', yaml: pool('  addresses: [10.0.0.1/32]\n  auto-assign: false\n'), line: 'p: 1 address (layer2, on request only; 10.0.0.1/32)' },
    { name: 'a /64 and a range', yaml: pool('  addresses: ["2001:db8::/64", "10.0.0.1-10.0.0.10"]\n  avoid-buggy-ips: true\n'), line: 'p: 18446744073709551626 addresses (layer2, auto-assign, avoid-buggy-ips; 2001:db8::/64, 10.0.0.1-10.0.0.10)' },
  ])('describes a pool in one line: $name', ({ yaml, line }) => {
    const r = parseConfigYaml(yaml);
    if (!r.ok) throw new Error('fixture');
    expect(describePool(r.value.pools[0]!)).toBe(line);
  });
});

describe('config: golden fixtures', () => {
  const dir = join(repoRoot, 'test', 'fixtures', 'config');
  const inputs = readdirSync(dir).filter((f) => f.endsWith('.yaml')).sort();

  it('has fixtures', () => {
    expect(inputs.length).toBeGreaterThanOrEqual(6);
  });

  // Each NAME.yaml has NAME.golden: the JSON summary when valid, else the issue lines.
  it.each(inputs.map((file) => ({ name: file, file })))('$name', ({ file }) => {
    const text = readFileSync(join(dir, file), 'utf8');
    const golden = readFileSync(join(dir, file.replace(/\.yaml$/, '.golden')), 'utf8');
    const r = parseConfigSource(text);
    const got = r.ok ? `${JSON.stringify(configSummary(r.value), null, 2)}\n` : r.error.map((i) => `${formatIssue(i)}\n`).join('');
    expect(got).toBe(golden);
  });
});

describe('config: the examples in config/ are valid', () => {
  const dir = join(repoRoot, 'config');
  // config/ also holds the walk-throughs' workloads (a Deployment and its Service); every other
  // file is a pool config.
  const workloads = new Set(['sandbox-demo.yaml', 'nginx.yaml']);
  const configs = readdirSync(dir).filter((f) => f.endsWith('.yaml') && !workloads.has(f));
  it('has pool examples to check', () => {
    expect(configs.length).toBeGreaterThanOrEqual(3);
  });
  it.each(configs.map((file) => ({ name: file, file })))('$name', ({ file }) => {
    const r = parseConfigSource(readFileSync(join(dir, file), 'utf8'));
    expect(r.ok ? [] : r.error.map(formatIssue)).toEqual([]);
  });
});
