import { describe, expect, it } from 'vitest';
import type { JsonObject } from '../../src/sandbox/apiserver/object.js';
import { desiredPodEndpointSlices, endpointConditions, resolveTargetPort } from '../../src/sandbox/workloads/pod-endpoints.js';

function pod(name: string, opts: { ip?: string; node?: string; ready?: boolean; deleting?: boolean; port?: number; phase?: string; labels?: JsonObject } = {}): JsonObject {
  return {
    metadata: { name, namespace: 'default', uid: `uid-${name}`, labels: opts.labels ?? { app: 'web' }, ...(opts.deleting === true ? { deletionTimestamp: '2026-12-04T12:00:00Z' } : {}) },
    spec: { ...(opts.node === undefined ? {} : { nodeName: opts.node }), containers: [{ name: 'c', image: 'i', ports: [{ name: 'http', containerPort: opts.port ?? 80 }] }] },
    status: { phase: opts.phase ?? 'Running', ...(opts.ip === undefined ? {} : { podIP: opts.ip }), conditions: opts.ready === false ? [] : [{ type: 'Ready', status: 'True' }] },
  };
}

const svc: JsonObject = { metadata: { name: 'web', namespace: 'default', uid: 'svc-uid' }, spec: { selector: { app: 'web' }, ipFamilies: ['IPv4'], ports: [{ name: 'http', port: 8090, targetPort: 'http', protocol: 'TCP' }] } };

describe('EndpointSlices from Pods', () => {
  it.each([
    { name: 'ready', p: pod('a', { ready: true }), want: { ready: true, serving: true, terminating: false } },
    { name: 'not ready', p: pod('a', { ready: false }), want: { ready: false, serving: false, terminating: false } },
    { name: 'terminating but still ready', p: pod('a', { deleting: true }), want: { ready: false, serving: true, terminating: true } },
    { name: 'terminating and not ready', p: pod('a', { deleting: true, ready: false }), want: { ready: false, serving: false, terminating: true } },
  ])('conditions: $name', ({ p, want }) => {
    expect(endpointConditions(p, false)).toEqual(want);
  });

  it.each([
    { name: 'not ready', p: pod('a', { ready: false }), want: { ready: true, serving: false, terminating: false } },
    { name: 'terminating', p: pod('a', { deleting: true }), want: { ready: true, serving: true, terminating: true } },
  ])('conditions with publishNotReadyAddresses: $name is ready, serving stays the Pod\'s readiness', ({ p, want }) => {
    expect(endpointConditions(p, true)).toEqual(want);
  });

  it.each([
    { name: 'number', target: 8080, want: 8080 },
    { name: 'named port of the Pod', target: 'http', want: 80 },
    { name: 'unknown name', target: 'metrics', want: undefined },
    { name: 'unset: the Service port', target: undefined, want: 8090 },
  ])('targetPort: $name', ({ target, want }) => {
    expect(resolveTargetPort(target, pod('a'), 8090)).toBe(want);
  });

  it('makes one slice per resolved port set, with nodeName and targetRef, skipping Pods without IP, finished or unselected', () => {
    const pods = [
      pod('a', { ip: '10.244.2.2', node: 'node-2' }),
      pod('b', { ip: '10.244.3.2', node: 'node-3', ready: false }),
      pod('c', { ip: '10.244.3.3', node: 'node-3', port: 8080 }),
      pod('d', { node: 'node-2' }),
      pod('e', { ip: '10.244.2.9', node: 'node-2', phase: 'Succeeded' }),
      pod('f', { ip: '10.244.2.8', node: 'node-2', labels: { app: 'other' } }),
    ];
    const slices = desiredPodEndpointSlices(svc, pods);
    expect(slices.map((s) => [s.addressType, s.ports, (s.endpoints as JsonObject[]).map((e) => (e.targetRef as JsonObject).name)])).toEqual([
      ['IPv4', [{ name: 'http', port: 80, protocol: 'TCP' }], ['a', 'b']],
      ['IPv4', [{ name: 'http', port: 8080, protocol: 'TCP' }], ['c']],
    ]);
    expect((slices[0]?.endpoints as JsonObject[])[0]).toEqual({ addresses: ['10.244.2.2'], conditions: { ready: true, serving: true, terminating: false }, nodeName: 'node-2', targetRef: { kind: 'Pod', namespace: 'default', name: 'a', uid: 'uid-a' } });
    expect((slices[0]?.metadata as JsonObject).labels).toEqual({ 'kubernetes.io/service-name': 'web', 'endpointslice.kubernetes.io/managed-by': 'endpointslice-controller.k8s.io' });
  });

  it('names an unnamed Service port "" in the slice, as the EndpointSlice controller does (kubectl describe svc needs the name)', () => {
    const exposed: JsonObject = { ...svc, spec: { selector: { app: 'web' }, ipFamilies: ['IPv4'], ports: [{ port: 8091, targetPort: 8080, protocol: 'TCP' }] } };
    expect(desiredPodEndpointSlices(exposed, [pod('a', { ip: '10.244.2.2', node: 'node-2' })]).map((s) => s.ports)).toEqual([[{ name: '', port: 8080, protocol: 'TCP' }]]);
  });

  it('makes none for a Service without a selector, and splits at 100 endpoints', () => {
    expect(desiredPodEndpointSlices({ ...svc, spec: { ports: [] } }, [pod('a', { ip: '10.244.2.2' })])).toEqual([]);
    const many = Array.from({ length: 150 }, (_, i) => pod(`p${String(i)}`, { ip: `10.244.2.${String(i + 2)}` }));
    expect(desiredPodEndpointSlices(svc, many).map((s) => (s.endpoints as unknown[]).length)).toEqual([100, 50]);
  });
});
