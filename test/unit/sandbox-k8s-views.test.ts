import type * as k8s from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { toServiceRouteViews } from '../../src/sandbox/k8s-views.js';

const svc = (over: { type?: string; ingress?: string[]; policy?: string; nodePort?: number } = {}): k8s.V1Service => ({
  metadata: { namespace: 'default', name: 'web' },
  spec: {
    type: over.type ?? 'LoadBalancer',
    clusterIP: '10.96.0.10',
    clusterIPs: ['10.96.0.10'],
    selector: { app: 'web' },
    ...(over.policy === undefined ? {} : { externalTrafficPolicy: over.policy }),
    ports: [{ name: 'http', port: 80, protocol: 'TCP', targetPort: 'web', ...(over.nodePort === undefined ? {} : { nodePort: over.nodePort }) }],
  },
  status: { loadBalancer: { ingress: (over.ingress ?? ['172.31.213.200']).map((ip) => ({ ip })) } },
});
const slice = (name: string, endpoints: { ip: string; node: string; ready?: boolean }[], port: { name: string; port: number }): k8s.V1EndpointSlice => ({
  metadata: { namespace: 'default', name: `${name}-abc`, labels: { 'kubernetes.io/service-name': name } },
  addressType: 'IPv4',
  endpoints: endpoints.map((e) => ({ addresses: [e.ip], nodeName: e.node, ...(e.ready === undefined ? {} : { conditions: { ready: e.ready } }) })),
  ports: [port],
});

describe('toServiceRouteViews', () => {
  it.each([
    {
      name: 'endpoints with their conditions (nil ready is ready, nil serving follows ready) at the port each slice resolved, by port name',
      svcs: [svc({ nodePort: 30080, policy: 'Local' })],
      slices: [slice('web', [{ ip: '10.244.2.3', node: 'node-2' }, { ip: '10.244.3.2', node: 'node-3', ready: true }, { ip: '10.244.3.9', node: 'node-3', ready: false }], { name: 'http', port: 8080 }), slice('web', [{ ip: '10.244.2.7', node: 'node-2' }], { name: 'http', port: 9090 })],
      want: [{ key: 'default/web', clusterIps: ['10.96.0.10'], ingressIps: ['172.31.213.200'], externalLocal: true, ports: [{ port: 80, protocol: 'TCP', nodePort: 30080, backends: [
        { host: '10.244.2.3', port: 8080, node: 'node-2', conditions: { ready: true, serving: true, terminating: false } },
        { host: '10.244.2.7', port: 9090, node: 'node-2', conditions: { ready: true, serving: true, terminating: false } },
        { host: '10.244.3.2', port: 8080, node: 'node-3', conditions: { ready: true, serving: true, terminating: false } },
        { host: '10.244.3.9', port: 8080, node: 'node-3', conditions: { ready: false, serving: false, terminating: false } },
      ] }] }],
    },
    { name: 'slice of another port name: no backends', svcs: [svc()], slices: [slice('web', [{ ip: '10.244.2.3', node: 'node-2' }], { name: 'metrics', port: 9100 })], want: [{ key: 'default/web', clusterIps: ['10.96.0.10'], ingressIps: ['172.31.213.200'], externalLocal: false, ports: [{ port: 80, protocol: 'TCP', backends: [] }] }] },
    { name: 'ClusterIP Service: cluster IPs only', svcs: [svc({ type: 'ClusterIP' })], slices: [], want: [{ key: 'default/web', clusterIps: ['10.96.0.10'], ingressIps: [], externalLocal: false, ports: [{ port: 80, protocol: 'TCP', backends: [] }] }] },
    { name: 'ExternalName Service ignored', svcs: [svc({ type: 'ExternalName' })], slices: [], want: [] },
  ])('$name', ({ svcs, slices, want }) => {
    expect(toServiceRouteViews(svcs, slices)).toEqual(want);
  });
});
