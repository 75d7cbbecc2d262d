import { describe, expect, it } from 'vitest';
import { formatSandboxStatus, type SandboxStatus } from '../../src/sandbox/sandbox-status.js';
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
      ].join('\n'),
    );
  });
});
