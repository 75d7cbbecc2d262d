import type * as k8s from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { projectNode, projectService, projectSlice, toEndpointView, toNodeView, toServiceRecord, toServiceRecords, toSpeakerLeaseView } from '../../src/k8s/speaker-views.js';
import type { NodeName } from '../../src/shared/brand.js';
import { nodeOfLease, recordedOwners, type SpeakerLeaseView } from '../../src/speaker/lease-view.js';

const n = (s: string): NodeName => s as NodeName;

describe('toEndpointView: EndpointSlice conditions', () => {
  it.each([
    { name: 'all nil: ready and serving', conditions: undefined, want: { ready: true, serving: true, terminating: false } },
    { name: 'terminating, nil ready and serving: neither', conditions: { terminating: true }, want: { ready: false, serving: false, terminating: true } },
    { name: 'terminating but still serving', conditions: { terminating: true, serving: true, ready: false }, want: { ready: false, serving: true, terminating: true } },
    { name: 'not ready', conditions: { ready: false }, want: { ready: false, serving: true, terminating: false } },
  ])('$name', ({ conditions, want }) => {
    const view = toEndpointView({ addresses: ['10.0.0.1'], nodeName: 'a', ...(conditions === undefined ? {} : { conditions }) });
    expect(view).toEqual({ nodeName: 'a', ...want });
  });
});

const svc = (spec: Partial<k8s.V1ServiceSpec>, ingress: string[]): k8s.V1Service => ({
  metadata: { namespace: 'ns', name: 'web', uid: 'u1' },
  spec: { type: 'LoadBalancer', ...spec },
  status: { loadBalancer: { ingress: ingress.map((ip) => ({ ip })) } },
});

describe('toServiceRecord', () => {
  it.each([
    { name: 'LoadBalancer with an IP', s: svc({}, ['192.0.2.1']), ips: ['192.0.2.1'] },
    { name: 'IPv6 made canonical', s: svc({}, ['2001:DB8:0:0::10']), ips: ['2001:db8::10'] },
    { name: 'dual stack keeps the status order', s: svc({}, ['2001:db8::10', '192.0.2.1']), ips: ['2001:db8::10', '192.0.2.1'] },
    { name: 'our class', s: svc({ loadBalancerClass: 'ironlb.io/layer2' }, ['192.0.2.1']), ips: ['192.0.2.1'] },
    { name: 'another class is left alone', s: svc({ loadBalancerClass: 'other.io/lb' }, ['192.0.2.1']), ips: undefined },
    { name: 'ClusterIP is left alone', s: svc({ type: 'ClusterIP' }, ['192.0.2.1']), ips: undefined },
    { name: 'no ingress yet', s: svc({}, []), ips: undefined },
    { name: 'garbage ingress is dropped', s: svc({}, ['not-an-ip']), ips: undefined },
  ])('$name', ({ s, ips }) => {
    const record = toServiceRecord(s, [], 'ironlb.io/layer2');
    expect(record?.service.ips).toEqual(ips);
    if (record !== undefined) expect(record.ref).toEqual({ apiVersion: 'v1', kind: 'Service', namespace: 'ns', name: 'web', uid: 'u1' });
  });

  it('reads the traffic policy and merges the endpoints of every slice', () => {
    const slice = (node: string): k8s.V1EndpointSlice => ({ addressType: 'IPv4', endpoints: [{ addresses: ['10.0.0.1'], nodeName: node }] });
    const record = toServiceRecord(svc({ externalTrafficPolicy: 'Local' }, ['192.0.2.1']), [projectSlice(slice('a')), projectSlice(slice('b'))], 'ironlb.io/layer2');
    expect(record?.service.trafficPolicy).toBe('Local');
    expect(record?.service.endpoints.map((e) => e.nodeName)).toEqual(['a', 'b']);
  });
});

/** A Service as kube-apiserver sends it, with the fields the speaker does not read. */
const fullService: k8s.V1Service = {
  metadata: {
    namespace: 'ns',
    name: 'web',
    uid: 'u1',
    resourceVersion: '7',
    labels: { app: 'web' },
    annotations: { 'kubectl.kubernetes.io/last-applied-configuration': '{"apiVersion":"v1","kind":"Service"}' },
  },
  spec: {
    type: 'LoadBalancer',
    externalTrafficPolicy: 'Local',
    loadBalancerClass: 'ironlb.io/layer2',
    ports: [{ name: 'http', port: 80, protocol: 'TCP', targetPort: 8080, nodePort: 30080 }],
    selector: { app: 'web' },
    clusterIP: '10.96.0.10',
    clusterIPs: ['10.96.0.10'],
    ipFamilies: ['IPv4'],
  },
  status: { loadBalancer: { ingress: [{ ip: '192.0.2.1', ipMode: 'VIP', ports: [{ port: 80, protocol: 'TCP' }] }] } },
};

const fullSlice: k8s.V1EndpointSlice = {
  metadata: { namespace: 'ns', name: 'web-abc', resourceVersion: '8', labels: { 'kubernetes.io/service-name': 'web', 'endpointslice.kubernetes.io/managed-by': 'endpointslice-controller.k8s.io' } },
  addressType: 'IPv4',
  endpoints: [
    { addresses: ['10.244.1.5'], nodeName: 'a', conditions: { ready: true }, targetRef: { kind: 'Pod', name: 'web-1', namespace: 'ns' }, zone: 'z1' },
    { addresses: ['10.244.2.5'], nodeName: 'b', conditions: { ready: false, terminating: true } },
  ],
  ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
};

const fullNode: k8s.V1Node = {
  metadata: { name: 'a', resourceVersion: '9', labels: { 'node.kubernetes.io/exclude-from-external-load-balancers': '' } },
  spec: { podCIDR: '10.244.1.0/24' },
  status: {
    conditions: [{ type: 'Ready', status: 'True' }, { type: 'NetworkUnavailable', status: 'False' }],
    addresses: [{ type: 'InternalIP', address: '192.0.2.10' }],
    images: [{ names: ['registry.example/app@sha256:0123'], sizeBytes: 1000 }],
    capacity: { cpu: '2' },
  },
};

/** Every string anywhere in a value (to show what a projection keeps). */
function strings(v: unknown): string[] {
  if (typeof v === 'string') return [v];
  if (Array.isArray(v)) return v.flatMap(strings);
  if (typeof v === 'object' && v !== null) return Object.entries(v).flatMap(([k, x]) => [k, ...strings(x)]);
  return [];
}

describe('informer projections: what the speaker caches (docs/speaker.md, "Memory")', () => {
  it('a Service keeps the same record and nothing election does not read', () => {
    const projected = projectService(structuredClone(fullService));
    expect(toServiceRecords([projected], [projectSlice(structuredClone(fullSlice))], 'ironlb.io/layer2')).toEqual(toServiceRecords([fullService], [projectSlice(fullSlice)], 'ironlb.io/layer2'));
    expect(projected.metadata).toEqual({ namespace: 'ns', name: 'web', uid: 'u1', resourceVersion: '7' });
    const kept = strings(projected);
    for (const dropped of ['last-applied-configuration', '10.96.0.10', 'selector', 'ports', 'VIP', 'labels']) expect(kept.join(' ')).not.toContain(dropped);
  });

  it('a slice keeps its Service and its endpoints as election views, no addresses', () => {
    expect(projectSlice(fullSlice)).toEqual({
      metadata: { namespace: 'ns', name: 'web-abc', resourceVersion: '8' },
      service: 'ns/web',
      endpoints: [
        { nodeName: 'a', ready: true, serving: true, terminating: false },
        { nodeName: 'b', ready: false, serving: false, terminating: true },
      ],
    });
  });

  it.each([
    { name: 'endpoints null (a Go nil slice)', endpoints: null },
    { name: 'endpoints absent', endpoints: undefined },
  ])('a slice with $name has no endpoints', ({ endpoints }) => {
    const slice = { ...fullSlice, endpoints } as unknown as k8s.V1EndpointSlice;
    expect(projectSlice(slice).endpoints).toEqual([]);
  });

  it('a slice without the service-name label belongs to no Service', () => {
    expect(projectSlice({ ...fullSlice, metadata: { name: 'x', namespace: 'ns' } }).service).toBeUndefined();
  });

  it('a Node keeps its election view only', () => {
    expect(projectNode(fullNode)).toEqual({ metadata: { namespace: undefined, name: 'a', resourceVersion: '9' }, view: toNodeView(fullNode) });
    expect(strings(projectNode(fullNode)).join(' ')).not.toMatch(/registry|192\.0\.2\.10|podCIDR|capacity/);
  });
});

describe('speaker Leases', () => {
  it.each([
    { name: 'a speaker Lease', lease: 'ironlb-speaker-node-1', node: 'node-1' },
    { name: 'the controller Lease', lease: 'ironlb-controller', node: undefined },
    { name: 'the bare prefix', lease: 'ironlb-speaker-', node: undefined },
  ])('nodeOfLease: $name', ({ lease, node }) => {
    expect(nodeOfLease(lease)).toBe(node);
  });

  it('reads holder, times, version and the announcing record', () => {
    const view = toSpeakerLeaseView({
      metadata: { name: 'ironlb-speaker-a', resourceVersion: '42', annotations: { 'ironlb.io/announcing': '192.0.2.1, 2001:DB8::1,,bogus' } },
      spec: { holderIdentity: 'a', leaseDurationSeconds: 3, acquireTime: new Date('2026-01-01T00:00:00Z'), renewTime: new Date('2026-01-01T00:00:05Z') },
    });
    expect(view).toEqual({
      node: 'a',
      version: '42',
      holderIdentity: 'a',
      leaseDurationSeconds: 3,
      acquireTime: '2026-01-01T00:00:00.000Z',
      renewTime: '2026-01-01T00:00:05.000Z',
      announcing: ['192.0.2.1', '2001:db8::1'],
      interfaces: { kind: 'absent' },
      mode: 'lease',
    });
  });

  it.each([
    { name: 'a split membership Lease', labels: { 'ironlb.io/lease': 'membership' }, mode: 'split' },
    { name: 'a lease-mode Lease', labels: { 'ironlb.io/lease': 'renewed' }, mode: 'lease' },
    { name: 'a Lease from before the label (lease mode)', labels: undefined, mode: 'lease' },
    { name: 'an unknown role', labels: { 'ironlb.io/lease': 'other' }, mode: 'lease' },
  ])('the liveness mode of $name', ({ labels, mode }) => {
    const view = toSpeakerLeaseView({ metadata: { name: 'ironlb-speaker-a', resourceVersion: '1', ...(labels === undefined ? {} : { labels }) }, spec: { holderIdentity: 'a', leaseDurationSeconds: 3 } });
    expect(view?.mode).toBe(mode);
  });

  const lv = (node: string, acquireTime: string | undefined, announcing: string[]): SpeakerLeaseView => ({
    node: n(node),
    version: '1',
    holderIdentity: node,
    leaseDurationSeconds: 3,
    acquireTime,
    announcing,
  });

  it.each([
    { name: 'one record', leases: [lv('a', '2026-01-01T00:00:00Z', ['ip1'])], alive: ['a'], want: { ip1: 'a' } },
    { name: 'dead speakers do not count', leases: [lv('a', '2026-01-01T00:00:00Z', ['ip1'])], alive: [], want: {} },
    {
      name: 'two claims: the longer member wins (a rejoining node has a fresh acquireTime)',
      leases: [lv('a', '2026-01-01T00:10:00Z', ['ip1']), lv('b', '2026-01-01T00:00:00Z', ['ip1'])],
      alive: ['a', 'b'],
      want: { ip1: 'b' },
    },
    {
      name: 'equal acquireTime: the lower name, whatever the order',
      leases: [lv('b', '2026-01-01T00:00:00Z', ['ip1']), lv('a', '2026-01-01T00:00:00Z', ['ip1'])],
      alive: ['a', 'b'],
      want: { ip1: 'a' },
    },
    {
      name: 'unknown acquireTime loses',
      leases: [lv('a', undefined, ['ip1']), lv('b', '2026-01-01T00:00:00Z', ['ip1'])],
      alive: ['a', 'b'],
      want: { ip1: 'b' },
    },
  ])('recordedOwners: $name', ({ leases, alive, want }) => {
    expect(Object.fromEntries(recordedOwners(leases, new Set(alive.map(n))))).toEqual(want);
  });
});
