import { describe, expect, it } from 'vitest';
import { list, type JsonObject } from '../../src/sandbox/apiserver/object.js';
import { resourceDefs as resources } from '../../src/sandbox/apiserver/resources.js';
import { humanDuration, renderTable } from '../../src/sandbox/apiserver/tables.js';

const now = new Date('2026-01-01T00:10:00Z');
const created = '2026-01-01T00:05:00Z';

function def(plural: string, group = '') {
  const found = resources.find((r) => r.plural === plural && r.group === group);
  if (found === undefined) throw new Error(`no resource ${plural}`);
  return found;
}

function cells(table: JsonObject): unknown[] {
  const row: unknown = list(table, 'rows')[0];
  return typeof row === 'object' && row !== null && 'cells' in row && Array.isArray(row.cells) ? row.cells : [];
}

function headers(table: JsonObject, priority = 0): string[] {
  return list(table, 'columnDefinitions')
    .map((c) => c as { name: string; priority: number })
    .filter((c) => c.priority <= priority)
    .map((c) => c.name.toUpperCase());
}

const meta = { name: 'x', namespace: 'default', creationTimestamp: created };

describe('humanDuration', () => {
  it.each([
    { name: 'seconds', ms: 5_000, want: '5s' },
    { name: 'under two minutes', ms: 119_000, want: '119s' },
    { name: 'minutes and seconds', ms: 182_000, want: '3m2s' },
    { name: 'whole minutes', ms: 180_000, want: '3m' },
    { name: 'many minutes', ms: 45 * 60_000, want: '45m' },
    { name: 'hours and minutes', ms: (5 * 60 + 3) * 60_000, want: '5h3m' },
    { name: 'hours', ms: 20 * 3_600_000, want: '20h' },
    { name: 'days', ms: 48 * 3_600_000, want: '2d' },
    { name: 'days and hours', ms: 53 * 3_600_000, want: '2d5h' },
    { name: 'many days', ms: 30 * 86_400_000, want: '30d' },
    { name: 'years and days', ms: (3 * 365 + 10) * 86_400_000, want: '3y10d' },
    { name: 'clock skew', ms: -500, want: '0s' },
    { name: 'future', ms: -5_000, want: '<invalid>' },
  ])('$name', ({ ms, want }) => {
    expect(humanDuration(ms)).toBe(want);
  });
});

describe('renderTable', () => {
  it.each([
    {
      name: 'LoadBalancer pending',
      plural: 'services',
      group: '',
      obj: { metadata: meta, spec: { type: 'LoadBalancer', clusterIPs: ['10.96.0.5'], ports: [{ port: 8090, nodePort: 31234, protocol: 'TCP' }], selector: { b: '2', a: '1' } } },
      headers: ['NAME', 'TYPE', 'CLUSTER-IP', 'EXTERNAL-IP', 'PORT(S)', 'AGE'],
      cells: ['x', 'LoadBalancer', '10.96.0.5', '<pending>', '8090:31234/TCP', '5m', 'a=1,b=2'],
    },
    {
      name: 'LoadBalancer with ingress',
      plural: 'services',
      group: '',
      obj: { metadata: meta, spec: { type: 'LoadBalancer', clusterIP: '10.96.0.5', ports: [{ port: 80, protocol: 'TCP' }, { port: 53, protocol: 'UDP' }] }, status: { loadBalancer: { ingress: [{ ip: '192.0.2.1' }, { ip: '2001:db8::1' }] } } },
      headers: ['NAME', 'TYPE', 'CLUSTER-IP', 'EXTERNAL-IP', 'PORT(S)', 'AGE'],
      cells: ['x', 'LoadBalancer', '10.96.0.5', '192.0.2.1,2001:db8::1', '80/TCP,53/UDP', '5m', '<none>'],
    },
    {
      name: 'ClusterIP',
      plural: 'services',
      group: '',
      obj: { metadata: meta, spec: { type: 'ClusterIP', clusterIP: '10.96.0.6', ports: [{ port: 80, protocol: 'TCP' }] } },
      headers: ['NAME', 'TYPE', 'CLUSTER-IP', 'EXTERNAL-IP', 'PORT(S)', 'AGE'],
      cells: ['x', 'ClusterIP', '10.96.0.6', '<none>', '80/TCP', '5m', '<none>'],
    },
    { name: 'configmap', plural: 'configmaps', group: '', obj: { metadata: meta, data: { a: '1', b: '2' } }, headers: ['NAME', 'DATA', 'AGE'], cells: ['x', 2, '5m'] },
    { name: 'lease', plural: 'leases', group: 'coordination.k8s.io', obj: { metadata: meta, spec: { holderIdentity: 'node-a' } }, headers: ['NAME', 'HOLDER', 'AGE'], cells: ['x', 'node-a', '5m'] },
    {
      name: 'endpointslice',
      plural: 'endpointslices',
      group: 'discovery.k8s.io',
      obj: { metadata: meta, addressType: 'IPv4', ports: [{ port: 80 }], endpoints: ['1', '2', '3', '4'].map((n) => ({ addresses: [`10.0.0.${n}`] })) },
      headers: ['NAME', 'ADDRESSTYPE', 'PORTS', 'ENDPOINTS', 'AGE'],
      cells: ['x', 'IPv4', '80', '10.0.0.1,10.0.0.2,10.0.0.3 + 1 more...', '5m'],
    },
    {
      name: 'core event',
      plural: 'events',
      group: '',
      obj: { metadata: meta, type: 'Normal', reason: 'IPAllocated', message: 'Assigned IP ["192.0.2.1"] ', involvedObject: { kind: 'Service', name: 'web' }, lastTimestamp: '2026-01-01T00:09:30Z' },
      headers: ['LAST SEEN', 'TYPE', 'REASON', 'OBJECT', 'MESSAGE'],
      cells: ['30s', 'Normal', 'IPAllocated', 'service/web', 'Assigned IP ["192.0.2.1"]', 'x'],
    },
    {
      name: 'events.k8s.io event',
      plural: 'events',
      group: 'events.k8s.io',
      obj: { metadata: meta, type: 'Warning', reason: 'R', note: 'n', regarding: { kind: 'Service', name: 'web' }, eventTime: '2026-01-01T00:09:00.000000Z' },
      headers: ['LAST SEEN', 'TYPE', 'REASON', 'OBJECT', 'MESSAGE'],
      cells: ['60s', 'Warning', 'R', 'service/web', 'n', 'x'],
    },
    {
      name: 'node',
      plural: 'nodes',
      group: '',
      obj: { metadata: { ...meta, labels: { 'node-role.kubernetes.io/control-plane': '' } }, spec: { unschedulable: true }, status: { conditions: [{ type: 'Ready', status: 'True' }], nodeInfo: { kubeletVersion: 'v1.32.0' } } },
      headers: ['NAME', 'STATUS', 'ROLES', 'AGE', 'VERSION'],
      cells: ['x', 'Ready,SchedulingDisabled', 'control-plane', '5m', 'v1.32.0'],
    },
    { name: 'namespace', plural: 'namespaces', group: '', obj: { metadata: meta, status: { phase: 'Active' } }, headers: ['NAME', 'STATUS', 'AGE'], cells: ['x', 'Active', '5m'] },
    { name: 'default', plural: 'endpoints', group: '', obj: { metadata: { name: 'x' } }, headers: ['NAME', 'AGE'], cells: ['x', '<unknown>'] },
  ])('$name', ({ plural, group, obj, headers: want, cells: row }) => {
    const table = renderTable(def(plural, group), [obj], now, 'Metadata');
    expect(table).toMatchObject({ kind: 'Table', apiVersion: 'meta.k8s.io/v1' });
    expect(headers(table)).toEqual(want);
    expect(cells(table)).toEqual(row);
  });

  it.each([
    { name: 'Metadata', include: 'Metadata' as const, want: { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: meta } },
    { name: 'Object', include: 'Object' as const, want: { kind: 'ConfigMap', apiVersion: 'v1', metadata: meta, data: {} } },
    { name: 'None', include: 'None' as const, want: undefined },
  ])('row object for includeObject=$name', ({ include, want }) => {
    const table = renderTable(def('configmaps'), [{ metadata: meta, data: {} }], now, include);
    const row = list(table, 'rows')[0] as { object?: unknown };
    expect(row.object).toEqual(want);
  });
});
