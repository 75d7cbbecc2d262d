import { describe, expect, it } from 'vitest';
import { conflictStatus, formatSandboxStatus, type SandboxStatus } from '../../src/sandbox/sandbox-status.js';
import { toInterfacesRecord } from '../../src/speaker/interfaces-record.js';

describe('formatSandboxStatus', () => {
  it('shows each node’s published interfaces and each Service’s nodes out for noInterface', () => {
    const status: SandboxStatus = {
      controllerLeader: 'controller-1',
      nodes: [
        { name: 'node-1', speaker: 'alive', announcing: ['172.31.213.200'], interfaces: toInterfacesRecord('eth0=02:00:00:00:00:01;172.31.213.0/24,fd00:213::/64') },
        { name: 'node-2', speaker: 'alive', announcing: [], interfaces: toInterfacesRecord(undefined) },
        { name: 'node-3', speaker: 'alive', announcing: [], interfaces: toInterfacesRecord('eth0=02:00:00:00:00:03; eth1=zz;') },
        { name: 'node-4', speaker: 'expired', announcing: [], interfaces: toInterfacesRecord('') },
      ],
      services: [
        { key: 'demo/web', ips: ['172.31.213.200'], owners: ['node-1'], noInterface: ['node-3'], interfaceFallback: false },
        { key: 'demo/far', ips: ['10.9.9.9'], owners: ['node-2'], noInterface: [], interfaceFallback: true },
        { key: 'demo/new', ips: [], owners: [], noInterface: [], interfaceFallback: false },
      ],
      conflicts: [],
    };
    expect(formatSandboxStatus(status, { 'speaker-node-1': 41 })).toBe(
      [
        'controller: leader controller-1',
        '',
        'NODE    SPEAKER  SPEAKER-PID  ANNOUNCING      INTERFACES',
        'node-1  alive    41           172.31.213.200  eth0 172.31.213.0/24,fd00:213::/64',
        'node-2  alive    -            -               unknown',
        'node-3  alive    -            -               unreadable',
        'node-4  expired  -            -               none',
        '',
        'SERVICE   EXTERNAL-IP     ANNOUNCED-BY  NO-INTERFACE',
        'demo/web  172.31.213.200  node-1        node-3',
        'demo/far  10.9.9.9        node-2        fallback',
        'demo/new  <pending>       -             -',
        '',
        'no address conflicts',
        '',
      ].join('\n'),
    );
  });

  it('lists each address in conflict: who saw which MAC, its node if known, where, since when, and whether it is quarantined', () => {
    const lease = (node: string, conflicts: unknown[], holder = node) => ({ metadata: { name: `ironlb-speaker-${node}`, annotations: { 'ironlb.io/conflicts': JSON.stringify(conflicts) } }, spec: { holderIdentity: holder } });
    const conflicts = conflictStatus([
      lease('node-2', [{ ip: '172.31.213.201', mac: '02:00:00:00:00:99', interface: 'eth0', since: '2026-12-04T21:00:03Z' }]),
      lease('node-1', [{ ip: 'fd00:213::0:210', mac: '02:00:00:00:00:02', interface: 'eth0', node: 'node-2', since: '2026-12-04T21:01:00Z' }]),
      lease('node-3', [{ ip: '172.31.213.202', mac: '02:00:00:00:00:98', interface: 'eth0' }], ''),
      { metadata: { name: 'ironlb-controller' }, spec: { holderIdentity: 'controller-1' } },
    ]);
    const text = formatSandboxStatus({ controllerLeader: undefined, nodes: [], services: [], conflicts });
    expect(text.split('\n').slice(6)).toEqual([
      'CONFLICT-IP     SEEN-BY  OTHER-MAC          OTHER-NODE  INTERFACE  SINCE                 STATE',
      'fd00:213::210   node-1   02:00:00:00:00:02  node-2      eth0       2026-12-04T21:01:00Z  two-answerers',
      '172.31.213.201  node-2   02:00:00:00:00:99  -           eth0       2026-12-04T21:00:03Z  quarantined',
      '',
    ]);
  });
});
