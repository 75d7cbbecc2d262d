import type * as k8s from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { toEndpointView, toServiceRecord, toSpeakerLeaseView } from '../../src/k8s/speaker-views.js';
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
    const record = toServiceRecord(svc({ externalTrafficPolicy: 'Local' }, ['192.0.2.1']), [slice('a'), slice('b')], 'ironlb.io/layer2');
    expect(record?.service.trafficPolicy).toBe('Local');
    expect(record?.service.endpoints.map((e) => e.nodeName)).toEqual(['a', 'b']);
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
