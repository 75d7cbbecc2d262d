import type * as k8s from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { parseNodeIps } from '../../src/cli/sandbox-node-agent.js';
import { toEndpointServiceView, toServiceRouteViews } from '../../src/sandbox/k8s-views.js';

const svc = (over: { type?: string; ingress?: string[]; targetPort?: number | string } = {}): k8s.V1Service => ({
  metadata: { namespace: 'default', name: 'web', annotations: { a: 'b' } },
  spec: { type: over.type ?? 'LoadBalancer', selector: { app: 'demo' }, ports: [{ name: 'http', port: 80, protocol: 'TCP', ...(over.targetPort === undefined ? {} : { targetPort: over.targetPort }) }] },
  status: { loadBalancer: { ingress: (over.ingress ?? ['172.31.213.200']).map((ip) => ({ ip })) } },
});
const slice = (name: string, endpoints: { node: string; ready?: boolean }[], port?: number): k8s.V1EndpointSlice => ({
  metadata: { namespace: 'default', name, labels: { 'kubernetes.io/service-name': name } },
  addressType: 'IPv4',
  endpoints: endpoints.map((e) => ({ addresses: ['10.0.0.1'], nodeName: e.node, ...(e.ready === undefined ? {} : { conditions: { ready: e.ready } }) })),
  ...(port === undefined ? {} : { ports: [{ name: 'http', port }] }),
});

describe('toServiceRouteViews', () => {
  it.each([
    { name: 'ready endpoints (nil ready counts as ready), port from slice', svcs: [svc()], slices: [slice('web', [{ node: 'node-2' }, { node: 'node-1', ready: true }, { node: 'node-3', ready: false }], 9000)], want: [{ key: 'default/web', ingressIps: ['172.31.213.200'], ports: [{ port: 80, protocol: 'TCP', targetPort: 9000 }], endpointNodes: ['node-1', 'node-2'] }] },
    { name: 'no slice: numeric targetPort, no endpoints', svcs: [svc({ targetPort: 8081 })], slices: [slice('other', [{ node: 'node-1' }])], want: [{ key: 'default/web', ingressIps: ['172.31.213.200'], ports: [{ port: 80, protocol: 'TCP', targetPort: 8081 }], endpointNodes: [] }] },
    { name: 'named targetPort without slice: backend port', svcs: [svc({ targetPort: 'http' })], slices: [], want: [{ key: 'default/web', ingressIps: ['172.31.213.200'], ports: [{ port: 80, protocol: 'TCP', targetPort: 8080 }], endpointNodes: [] }] },
    { name: 'ClusterIP Service ignored', svcs: [svc({ type: 'ClusterIP' })], slices: [], want: [] },
    { name: 'LoadBalancer without ingress ignored', svcs: [svc({ ingress: [] })], slices: [], want: [] },
  ])('$name', ({ svcs, slices, want }) => {
    expect(toServiceRouteViews(svcs, slices, 8080)).toEqual(want);
  });
});

describe('toEndpointServiceView', () => {
  it('keeps selector, annotations and ports', () => {
    expect(toEndpointServiceView(svc({ targetPort: 'http' }))).toEqual({ namespace: 'default', name: 'web', selector: { app: 'demo' }, annotations: { a: 'b' }, ports: [{ name: 'http', protocol: 'TCP', targetPort: 'http' }] });
  });
});

describe('parseNodeIps', () => {
  it.each([
    { name: 'pairs', input: ['node-1=10.0.0.1', 'node-2=fd00::2'], want: [['node-1', '10.0.0.1'], ['node-2', 'fd00::2']], error: undefined },
    { name: 'missing IP', input: ['node-1='], want: undefined, error: '--node-ips: "node-1=" is not NAME=IP' },
    { name: 'no equals sign', input: ['node-1'], want: undefined, error: '--node-ips: "node-1" is not NAME=IP' },
  ])('$name', ({ input, want, error }) => {
    if (error !== undefined) expect(() => parseNodeIps(input)).toThrow(error);
    else expect([...parseNodeIps(input)]).toEqual(want);
  });
});
