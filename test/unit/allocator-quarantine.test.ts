import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { createControllerMetrics } from '../../src/controller/metrics.js';
import { Allocator } from '../../src/ipam/allocator.js';
import { conflictReports, quarantinedAddresses } from '../../src/controller/quarantine.js';
import { held, ip, key, pools, request } from './allocator-harness.js';

const texts = (r: ReturnType<Allocator['assign']>): string[] => (r.ok ? r.value.assignment.ips.map((i) => i.text) : [r.error.kind]);

describe('allocator: quarantined addresses (setBlocked)', () => {
  it('never gives a quarantined address to a Service that did not ask for it, and moves the one holding it', () => {
    const a = new Allocator(pools('p: 10.0.0.0/30'));
    expect(texts(a.assign(request({ name: 'web' })))).toEqual(['10.0.0.0']);
    expect(a.setBlocked([ip('10.0.0.0'), ip('10.0.0.1')])).toEqual([key('web')]);
    expect(a.verify()).toEqual([]);
    expect(texts(a.assign(request({ name: 'web' })))).toEqual(['10.0.0.2']);
    expect(texts(a.assign(request({ name: 'api' })))).toEqual(['10.0.0.3']);
    expect(texts(a.assign(request({ name: 'db' })))).toEqual(['poolExhausted']);
    expect(a.verify()).toEqual([]);
  });

  it('a Service that asked for the address keeps it, or gets it, while quarantined', () => {
    const a = new Allocator(pools('p: 10.0.0.0/30'));
    expect(texts(a.assign(request({ name: 'pinned', ips: ['10.0.0.1'] })))).toEqual(['10.0.0.1']);
    expect(a.setBlocked([ip('10.0.0.1'), ip('10.0.0.2')])).toEqual([]);
    expect(texts(a.assign(request({ name: 'pinned', ips: ['10.0.0.1'] })))).toEqual(['10.0.0.1']);
    expect(texts(a.assign(request({ name: 'late', ips: ['10.0.0.2'] })))).toEqual(['10.0.0.2']);
    expect(a.verify()).toEqual([]);
    a.release(key('late'));
    expect(texts(a.assign(request({ name: 'auto' })))).toEqual(['10.0.0.0']);
    expect(texts(a.assign(request({ name: 'auto2' })))).toEqual(['10.0.0.3']);
    expect(a.verify()).toEqual([]);
  });

  it('lifting the quarantine frees the address again; a config change keeps it out', () => {
    const a = new Allocator(pools('p: 10.0.0.0/31'));
    a.setBlocked([ip('10.0.0.0')]);
    a.setConfig(pools('p: 10.0.0.0/30'));
    expect(a.verify()).toEqual([]);
    expect(texts(a.assign(request({ name: 'web' })))).toEqual(['10.0.0.1']);
    a.setBlocked([]);
    expect(a.verify()).toEqual([]);
    expect(texts(a.assign(request({ name: 'api' })))).toEqual(['10.0.0.0']);
    expect(held(a, 'web')).toEqual(['10.0.0.1']);
    expect(a.verify()).toEqual([]);
  });
});

describe('ironlb_addresses_in_use counts quarantined addresses: total minus in use is what can still be given out', () => {
  const gauges = async (a: Allocator): Promise<string> => {
    const registry = new Registry();
    const metrics = createControllerMetrics(registry);
    metrics.setPools(a.stats());
    const text = await registry.metrics();
    return text.split('\n').filter((l) => l.startsWith('ironlb_addresses_in_use{') || l.startsWith('ironlb_addresses_total{')).join(' ');
  };

  it('a quarantined address nobody holds is in use; one a Service holds counts once; lifting frees it', async () => {
    const a = new Allocator(pools('p: 10.0.0.0/30'));
    expect(texts(a.assign(request({ name: 'web' })))).toEqual(['10.0.0.0']);
    expect(await gauges(a)).toBe('ironlb_addresses_in_use{pool="p"} 1 ironlb_addresses_total{pool="p"} 4');
    // .1 is another host's, .0 too (web holds it and is moved).
    expect(a.setBlocked([ip('10.0.0.0'), ip('10.0.0.1')])).toEqual([key('web')]);
    expect(await gauges(a)).toBe('ironlb_addresses_in_use{pool="p"} 2 ironlb_addresses_total{pool="p"} 4');
    expect(texts(a.assign(request({ name: 'web' })))).toEqual(['10.0.0.2']);
    expect(await gauges(a)).toBe('ironlb_addresses_in_use{pool="p"} 3 ironlb_addresses_total{pool="p"} 4');
    // 4 - 3 = 1 left: exactly one more Service gets an address.
    expect(texts(a.assign(request({ name: 'api' })))).toEqual(['10.0.0.3']);
    expect(texts(a.assign(request({ name: 'db' })))).toEqual(['poolExhausted']);
    expect(await gauges(a)).toBe('ironlb_addresses_in_use{pool="p"} 4 ironlb_addresses_total{pool="p"} 4');
    // A Service that asked for a quarantined address holds it: counted once.
    a.release(key('api'));
    expect(texts(a.assign(request({ name: 'pinned', ips: ['10.0.0.1'] })))).toEqual(['10.0.0.1']);
    expect(await gauges(a)).toBe('ironlb_addresses_in_use{pool="p"} 3 ironlb_addresses_total{pool="p"} 4');
    a.setBlocked([]);
    expect(await gauges(a)).toBe('ironlb_addresses_in_use{pool="p"} 2 ironlb_addresses_total{pool="p"} 4');
    expect(a.verify()).toEqual([]);
  });
});

describe('quarantinedAddresses: the speakers\' conflict reports', () => {
  const lease = (node: string, conflicts: string, holder = node) => ({ metadata: { name: `ironlb-speaker-${node}`, annotations: { 'ironlb.io/conflicts': conflicts } }, spec: { holderIdentity: holder } });
  const entry = JSON.stringify([{ ip: '10.0.0.7', mac: '02:00:00:00:00:99', interface: 'eth0' }]);
  it.each([
    { name: 'a held speaker Lease reporting a foreign MAC', leases: [lease('n2', entry)], want: ['10.0.0.7 02:00:00:00:00:99 n2 eth0'] },
    { name: 'two reports: the lower node is named', leases: [lease('n2', entry), lease('n1', entry)], want: ['10.0.0.7 02:00:00:00:00:99 n1 eth0'] },
    { name: 'a released Lease (SIGTERM) counts no more', leases: [lease('n2', entry, '')], want: [] },
    { name: 'a cluster node answering is not quarantined', leases: [lease('n2', JSON.stringify([{ ip: '10.0.0.7', mac: 'x', interface: 'eth0', node: 'n3' }]))], want: [] },
    { name: 'IPv6 in canonical form', leases: [lease('n2', JSON.stringify([{ ip: 'FD00:0::7', mac: 'm', interface: 'eth0' }]))], want: ['fd00::7 m n2 eth0'] },
    { name: 'garbage is skipped, not thrown', leases: [lease('n2', '{not json'), lease('n3', '[1, {"ip": 5}, {"ip": "x"}]')], want: [] },
    { name: 'the controller\'s own leader Lease is not a speaker', leases: [{ metadata: { name: 'ironlb-controller', annotations: { 'ironlb.io/conflicts': entry } }, spec: { holderIdentity: 'c' } }], want: [] },
  ])('$name', ({ leases, want }) => {
    expect([...quarantinedAddresses(leases).values()].map((q) => `${q.text} ${q.mac} ${q.reporter} ${q.iface}`)).toEqual(want);
  });
});

describe('conflictReports: every entry of the held speaker Leases, for sandbox status', () => {
  const lease = (node: string, conflicts: unknown[], holder = node) => ({ metadata: { name: `ironlb-speaker-${node}`, annotations: { 'ironlb.io/conflicts': JSON.stringify(conflicts) } }, spec: { holderIdentity: holder } });
  it('keeps the node and since of each entry, reporters in name order, released Leases left out', () => {
    const reports = conflictReports([
      lease('n2', [{ ip: '10.0.0.7', mac: 'a', interface: 'eth0', node: 'n1', since: '2026-12-04T21:00:05Z' }]),
      lease('n1', [{ ip: '10.0.0.7', mac: 'b', interface: 'eth0', node: 'n2' }, { ip: '10.0.0.9', mac: 'c', interface: 'eth1', since: '2026-12-04T21:00:01Z' }]),
      lease('n3', [{ ip: '10.0.0.8', mac: 'd', interface: 'eth0' }], ''),
    ]);
    expect(reports.map((r) => `${r.text} ${r.reporter} ${r.mac} ${r.iface} ${r.node ?? '-'} ${r.since ?? '-'}`)).toEqual([
      '10.0.0.7 n1 b eth0 n2 -',
      '10.0.0.9 n1 c eth1 - 2026-12-04T21:00:01Z',
      '10.0.0.7 n2 a eth0 n1 2026-12-04T21:00:05Z',
    ]);
  });
});
