import { describe, expect, it } from 'vitest';
import { toSpeakerLeaseView } from '../../src/k8s/speaker-views.js';
import { formatCidr, parseCidr, type Cidr } from '../../src/ip/cidr.js';
import type { NodeName } from '../../src/shared/brand.js';
import {
  formatInterfacesRecord,
  interfacesAnnotation,
  macOwners,
  nodeOfMac,
  parseInterfacesRecord,
  reachOf,
  toInterfacesRecord,
  type InterfacesOfNode,
  type PublishedInterface,
} from '../../src/speaker/interfaces-record.js';

const n = (s: string): NodeName => s as NodeName;
const cidr = (text: string): Cidr => {
  const c = parseCidr(text);
  if (!c.ok) throw new Error(`bad test cidr ${text}`);
  return c.value;
};
const iface = (name: string, mac: string, prefixes: string[]): PublishedInterface => ({ name, mac, prefixes: prefixes.map(cidr) });
const texts = (list: readonly PublishedInterface[]): unknown => list.map((i) => ({ name: i.name, mac: i.mac, prefixes: i.prefixes.map(formatCidr) }));

describe('formatInterfacesRecord', () => {
  it.each([
    { name: 'nothing announceable', list: [], want: '' },
    { name: 'one interface, both families', list: [iface('eth0', '02:00:00:00:00:01', ['192.0.2.0/24', '2001:db8::/64'])], want: 'eth0=02:00:00:00:00:01;192.0.2.0/24,2001:db8::/64' },
    {
      name: 'sorted by name, MAC lower-cased, prefixes sorted (IPv4 first) and deduplicated',
      list: [
        iface('eth1', '02:AA:00:00:00:02', ['2001:db8:1::/64', '198.51.100.0/24', '10.0.0.0/8', '198.51.100.0/24']),
        iface('eth0', '02:00:00:00:00:01', []),
      ],
      want: 'eth0=02:00:00:00:00:01; eth1=02:aa:00:00:00:02;10.0.0.0/8,198.51.100.0/24,2001:db8:1::/64',
    },
  ])('$name', ({ list, want }) => {
    expect(formatInterfacesRecord(list)).toBe(want);
  });

  it('round-trips through parseInterfacesRecord, names with "=" and ";" included', () => {
    const list = [iface('br=x;1', '02:00:00:00:00:09', ['192.0.2.0/25']), iface('eth0', '02:00:00:00:00:01', ['2001:db8::/64'])];
    const text = formatInterfacesRecord(list);
    const parsed = parseInterfacesRecord(text);
    expect(parsed.ok && texts(parsed.value)).toEqual(texts(list));
    expect(parsed.ok && formatInterfacesRecord(parsed.value)).toBe(text);
  });
});

describe('parseInterfacesRecord: bad values from a peer', () => {
  it.each([
    { name: 'no "="', text: 'eth0', error: 'entry 1 "eth0": expected name=mac;prefixes' },
    { name: 'empty name', text: '=02:00:00:00:00:01;', error: 'entry 1 "=02:00:00:00:00:01;": expected name=mac;prefixes' },
    { name: 'no ";"', text: 'eth0=02:00:00:00:00:01', error: 'no ";"' },
    { name: 'bad MAC', text: 'eth0=02:00:00:00:01;192.0.2.0/24', error: 'MAC "02:00:00:00:01" is not of the form aa:bb:cc:dd:ee:ff' },
    { name: 'bad prefix, second entry', text: 'eth0=02:00:00:00:00:01; eth1=02:00:00:00:00:02;192.0.2.0/33', error: 'entry 2 "eth1=02:00:00:00:00:02;192.0.2.0/33": prefix "192.0.2.0/33" is not a network (prefix must be 0 to 32)' },
    { name: 'host bits set', text: 'eth0=02:00:00:00:00:01;192.0.2.7/24', error: 'host bits set' },
    { name: 'interface twice', text: 'eth0=02:00:00:00:00:01; eth0=02:00:00:00:00:02;', error: 'interface eth0 listed twice' },
  ])('$name', ({ text, error }) => {
    const parsed = parseInterfacesRecord(text);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.error).toContain(error);
  });

  it('extra white space is harmless', () => {
    const parsed = parseInterfacesRecord('  eth0=02:00:00:00:00:01;192.0.2.0/24 \n ');
    expect(parsed.ok && texts(parsed.value)).toEqual([{ name: 'eth0', mac: '02:00:00:00:00:01', prefixes: ['192.0.2.0/24'] }]);
  });
});

describe('toInterfacesRecord and reachOf', () => {
  it.each([
    { name: 'absent: an older speaker, unknown reach', value: undefined, kind: 'absent', reach: 'unknown' },
    { name: 'empty: published, reaches nothing', value: '', kind: 'published', reach: [] },
    { name: 'published', value: 'eth0=02:00:00:00:00:01;192.0.2.0/24 eth1=02:00:00:00:00:02;2001:db8::/64', kind: 'published', reach: ['192.0.2.0/24', '2001:db8::/64'] },
    { name: 'unreadable: ignored, unknown reach', value: 'eth0=zz;', kind: 'invalid', reach: 'unknown' },
  ])('$name', ({ value, kind, reach }) => {
    const record = toInterfacesRecord(value);
    expect(record.kind).toBe(kind);
    const r = reachOf(record);
    expect(r.kind === 'unknown' ? 'unknown' : r.prefixes.map(formatCidr)).toEqual(reach);
  });

  it('a Lease view carries the record from its annotation', () => {
    const view = toSpeakerLeaseView({
      metadata: { name: 'ironlb-speaker-a', resourceVersion: '1', annotations: { [interfacesAnnotation]: 'eth0=02:00:00:00:00:01;192.0.2.0/24' } },
      spec: { holderIdentity: 'a', leaseDurationSeconds: 3 },
    });
    expect(view?.interfaces?.kind).toBe('published');
    expect(toSpeakerLeaseView({ metadata: { name: 'ironlb-speaker-a' }, spec: {} })?.interfaces).toEqual({ kind: 'absent' });
  });
});

describe('nodeOfMac', () => {
  const lease = (node: string, value: string | undefined): InterfacesOfNode => ({ node: n(node), interfaces: toInterfacesRecord(value) });
  const leases = [
    lease('node-2', 'eth0=02:00:00:00:00:02;192.0.2.0/24 eth1=02:00:00:00:02:02;'),
    lease('node-1', 'eth0=02:00:00:00:00:01;192.0.2.0/24'),
    lease('old', undefined),
    lease('broken', 'eth0=02:00:00:00:00:03'),
    lease('clone-b', 'eth0=02:00:00:00:00:0c;'),
    lease('clone-a', 'eth0=02:00:00:00:00:0c;'),
  ];
  it.each([
    { name: 'a node MAC', mac: '02:00:00:00:00:01', want: 'node-1' },
    { name: 'any interface of the node, any case', mac: '02:00:00:00:02:02'.toUpperCase(), want: 'node-2' },
    { name: 'a MAC nobody published', mac: '02:00:00:00:00:99', want: undefined },
    { name: 'an unreadable record names nobody', mac: '02:00:00:00:00:03', want: undefined },
    { name: 'two nodes with one MAC: the lower name', mac: '02:00:00:00:00:0c', want: 'clone-a' },
  ])('$name', ({ mac, want }) => {
    expect(nodeOfMac(leases, mac)).toBe(want);
  });

  it('macOwners: every published MAC at once, the same answers', () => {
    const owners = macOwners(leases);
    expect(Object.fromEntries(owners)).toEqual({
      '02:00:00:00:00:02': 'node-2',
      '02:00:00:00:02:02': 'node-2',
      '02:00:00:00:00:01': 'node-1',
      '02:00:00:00:00:0c': 'clone-a',
    });
    for (const mac of owners.keys()) expect(nodeOfMac(leases, mac)).toBe(owners.get(mac));
  });
});
