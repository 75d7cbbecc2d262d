import { describe, expect, it } from 'vitest';
import type { JsonObject } from '../../src/sandbox/apiserver/object.js';
import { findResource, resourceDefs } from '../../src/sandbox/apiserver/resources.js';
import { humanDuration, renderTable } from '../../src/sandbox/apiserver/tables.js';

const now = new Date('2026-11-23T12:00:00Z');
const created = '2026-11-23T11:59:30Z';

function row(group: string, plural: string, obj: JsonObject): { header: string[]; cells: unknown[] } {
  const def = findResource(resourceDefs, group, 'v1', plural);
  if (def === undefined) throw new Error(plural);
  const t = renderTable(def, [obj], now, 'Metadata') as { columnDefinitions: { name: string; priority: number }[]; rows: { cells: unknown[] }[] };
  return { header: t.columnDefinitions.filter((c) => c.priority === 0).map((c) => c.name.toUpperCase()), cells: (t.rows[0]?.cells ?? []).slice(0, t.columnDefinitions.filter((c) => c.priority === 0).length) };
}

describe('humanDuration (kubectl AGE)', () => {
  it.each([
    { name: 'seconds', ms: 5_000, want: '5s' },
    { name: 'under two minutes', ms: 119_000, want: '119s' },
    { name: 'minutes and seconds', ms: 3 * 60_000 + 2_000, want: '3m2s' },
    { name: 'whole minutes', ms: 5 * 60_000, want: '5m' },
    { name: 'minutes only after ten', ms: 42 * 60_000 + 5_000, want: '42m' },
    { name: 'hours and minutes', ms: 3 * 3_600_000 + 10 * 60_000, want: '3h10m' },
    { name: 'hours only after eight', ms: 20 * 3_600_000, want: '20h' },
    { name: 'days and hours', ms: 4 * 86_400_000 + 2 * 3_600_000, want: '4d2h' },
    { name: 'days', ms: 40 * 86_400_000, want: '40d' },
    { name: 'a clock slightly ahead', ms: -500, want: '0s' },
  ])('$name', ({ ms, want }) => {
    expect(humanDuration(ms)).toBe(want);
  });
});

describe('server-side tables', () => {
  it.each([
    {
      name: 'a LoadBalancer with an IP',
      group: '',
      plural: 'services',
      obj: { metadata: { name: 'demo', creationTimestamp: created }, spec: { type: 'LoadBalancer', clusterIP: '10.96.0.2', ports: [{ port: 8090, nodePort: 31234, protocol: 'TCP' }] }, status: { loadBalancer: { ingress: [{ ip: '172.31.213.200' }, { ip: 'fd00:213::200' }] } } },
      want: { header: ['NAME', 'TYPE', 'CLUSTER-IP', 'EXTERNAL-IP', 'PORT(S)', 'AGE'], cells: ['demo', 'LoadBalancer', '10.96.0.2', '172.31.213.200,fd00:213::200', '8090:31234/TCP', '30s'] },
    },
    {
      name: 'a LoadBalancer still waiting',
      group: '',
      plural: 'services',
      obj: { metadata: { name: 'w', creationTimestamp: created }, spec: { type: 'LoadBalancer', clusterIP: '10.96.0.3', ports: [{ port: 53, protocol: 'UDP' }] } },
      want: { header: ['NAME', 'TYPE', 'CLUSTER-IP', 'EXTERNAL-IP', 'PORT(S)', 'AGE'], cells: ['w', 'LoadBalancer', '10.96.0.3', '<pending>', '53/UDP', '30s'] },
    },
    {
      name: 'a ConfigMap',
      group: '',
      plural: 'configmaps',
      obj: { metadata: { name: 'config', creationTimestamp: created }, data: { config: 'x' } },
      want: { header: ['NAME', 'DATA', 'AGE'], cells: ['config', 1, '30s'] },
    },
    {
      name: 'a Lease',
      group: 'coordination.k8s.io',
      plural: 'leases',
      obj: { metadata: { name: 'ironlb-speaker-node-1', creationTimestamp: created }, spec: { holderIdentity: 'node-1' } },
      want: { header: ['NAME', 'HOLDER', 'AGE'], cells: ['ironlb-speaker-node-1', 'node-1', '30s'] },
    },
    {
      name: 'an EndpointSlice',
      group: 'discovery.k8s.io',
      plural: 'endpointslices',
      obj: { metadata: { name: 'demo', creationTimestamp: created }, addressType: 'IPv4', ports: [{ port: 8080 }], endpoints: [1, 2, 3, 4].map((i) => ({ addresses: [`10.0.0.${String(i)}`] })) },
      want: { header: ['NAME', 'ADDRESSTYPE', 'PORTS', 'ENDPOINTS', 'AGE'], cells: ['demo', 'IPv4', '8080', '10.0.0.1,10.0.0.2,10.0.0.3 + 1 more...', '30s'] },
    },
    {
      name: 'a Node',
      group: '',
      plural: 'nodes',
      obj: { metadata: { name: 'node-1', creationTimestamp: created, labels: { 'node-role.kubernetes.io/control-plane': '' } }, status: { conditions: [{ type: 'Ready', status: 'True' }], nodeInfo: { kubeletVersion: 'v1.32.0' } } },
      want: { header: ['NAME', 'STATUS', 'ROLES', 'AGE', 'VERSION'], cells: ['node-1', 'Ready', 'control-plane', '30s', 'v1.32.0'] },
    },
    {
      name: 'an Event',
      group: '',
      plural: 'events',
      obj: { metadata: { name: 'e', creationTimestamp: created }, type: 'Normal', reason: 'IPAllocated', involvedObject: { kind: 'Service', name: 'demo' }, message: 'Assigned IP', lastTimestamp: created },
      want: { header: ['LAST SEEN', 'TYPE', 'REASON', 'OBJECT', 'MESSAGE'], cells: ['30s', 'Normal', 'IPAllocated', 'service/demo', 'Assigned IP'] },
    },
  ])('$name', ({ group, plural, obj, want }) => {
    expect(row(group, plural, obj)).toEqual(want);
  });
});

describe('renderTable row objects', () => {
  const configMaps = findResource(resourceDefs, '', 'v1', 'configmaps');
  const obj = { metadata: { name: 'c', namespace: 'default', creationTimestamp: created }, data: {} };

  it.each([
    { name: 'Metadata (kubectl get)', include: 'Metadata' as const, want: { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: obj.metadata } },
    // kubectl decodes these by apiVersion/kind (--sort-by), and list items do not carry them.
    { name: 'Object (kubectl get --sort-by)', include: 'Object' as const, want: { ...obj, apiVersion: 'v1', kind: 'ConfigMap' } },
    { name: 'None', include: 'None' as const, want: undefined },
  ])('$name', ({ include, want }) => {
    if (configMaps === undefined) throw new Error('configmaps');
    const t = renderTable(configMaps, [obj], now, include) as { rows: { object?: unknown }[] };
    expect(t.rows[0]?.object).toEqual(want);
  });
});
