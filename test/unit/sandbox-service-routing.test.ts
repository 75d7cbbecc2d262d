import { describe, expect, it } from 'vitest';
import { desiredRouting, listenerKey, type Backend, type EndpointBackend, type ServiceRouteView } from '../../src/sandbox/service-routing.js';

const pod = (host: string, node: string): Backend => ({ host, port: 8080, node });
const web = (backends: readonly EndpointBackend[], extra: Partial<ServiceRouteView> = {}): ServiceRouteView => ({
  key: 'default/web',
  clusterIps: ['10.96.0.10'],
  ingressIps: ['172.31.213.200'],
  externalLocal: false,
  ports: [{ port: 80, protocol: 'TCP', nodePort: 30080, backends }],
  ...extra,
});
const a = pod('10.244.1.2', 'node-1');
const b = pod('10.244.2.2', 'node-2');

describe('desiredRouting', () => {
  it.each([
    { name: 'Cluster: every address forwards to every endpoint', self: 'node-1', svc: web([a, b]), want: { '10.96.0.10:80': [a, b], '172.31.213.11:30080': [a, b], '172.31.213.200:80': [a, b] }, skipped: [] },
    { name: 'Local: external addresses forward to this node\'s endpoints, the ClusterIP to all', self: 'node-2', svc: web([a, b], { externalLocal: true }), want: { '10.96.0.10:80': [a, b], '172.31.213.11:30080': [b], '172.31.213.200:80': [b] }, skipped: [] },
    { name: 'Local without a local endpoint: ClusterIP only', self: 'node-3', svc: web([a, b], { externalLocal: true }), want: { '10.96.0.10:80': [a, b] }, skipped: ['noLocalEndpoints'] },
    { name: 'no endpoints: IPs on the dummy, no listener', self: 'node-1', svc: web([]), want: {}, skipped: ['noEndpoints'] },
    { name: 'UDP port skipped', self: 'node-1', svc: web([a], { ports: [{ port: 53, protocol: 'UDP', backends: [a] }] }), want: {}, skipped: ['notTcp'] },
  ])('$name', ({ self, svc, want, skipped }) => {
    const { routing, skipped: why } = desiredRouting(self, ['172.31.213.11'], [svc]);
    expect(routing.serviceIps).toEqual(['10.96.0.10', '172.31.213.200']);
    expect(Object.fromEntries(routing.listeners.map((l) => [listenerKey(l), l.targets]))).toEqual(want);
    expect(why.map((s) => s.reason)).toEqual(skipped);
  });

  // a terminating endpoint that still serves, and one that no longer does
  const draining = (p: Backend): EndpointBackend => ({ ...p, conditions: { ready: false, serving: true, terminating: true } });
  const dying = (p: Backend): EndpointBackend => ({ ...p, conditions: { ready: false, serving: false, terminating: true } });
  const c = pod('10.244.3.2', 'node-3');

  it.each([
    { name: 'a ready endpoint wins over a terminating one', self: 'node-1', svc: web([draining(a), b]), want: { '10.96.0.10:80': [b], '172.31.213.11:30080': [b], '172.31.213.200:80': [b] }, skipped: [] },
    { name: 'none ready: the serving terminating ones take the traffic', self: 'node-1', svc: web([draining(a), dying(b)]), want: { '10.96.0.10:80': [a], '172.31.213.11:30080': [a], '172.31.213.200:80': [a] }, skipped: [] },
    { name: 'none serving: no listener', self: 'node-1', svc: web([dying(a)]), want: {}, skipped: ['noEndpoints'] },
    { name: 'Local: this node\'s serving terminating endpoint, though another node has a ready one', self: 'node-1', svc: web([draining(a), c], { externalLocal: true }), want: { '10.96.0.10:80': [c], '172.31.213.11:30080': [a], '172.31.213.200:80': [a] }, skipped: [] },
    { name: 'Local: this node\'s ready endpoint wins over its terminating one', self: 'node-1', svc: web([draining(a), pod('10.244.1.3', 'node-1')], { externalLocal: true }), want: { '10.96.0.10:80': [pod('10.244.1.3', 'node-1')], '172.31.213.11:30080': [pod('10.244.1.3', 'node-1')], '172.31.213.200:80': [pod('10.244.1.3', 'node-1')] }, skipped: [] },
  ])('terminating endpoints (ProxyTerminatingEndpoints): $name', ({ self, svc, want, skipped }) => {
    const { routing, skipped: why } = desiredRouting(self, ['172.31.213.11'], [svc]);
    expect(Object.fromEntries(routing.listeners.map((l) => [listenerKey(l), l.targets]))).toEqual(want);
    expect(why.map((s) => s.reason)).toEqual(skipped);
  });

  it('dual stack and several ports: one listener per IP and port, sorted, IPs unique', () => {
    const svc = web([a], {
      clusterIps: [],
      ingressIps: ['fd00:213::200', '172.31.213.200'],
      ports: [
        { port: 443, protocol: 'TCP', backends: [a] },
        { port: 80, protocol: 'TCP', backends: [a] },
      ],
    });
    const other: ServiceRouteView = { ...web([b]), key: 'default/other', clusterIps: [], ingressIps: ['172.31.213.200'], ports: [{ port: 81, protocol: 'TCP', backends: [b] }] };
    const { routing } = desiredRouting('node-1', [], [svc, other]);
    expect(routing.serviceIps).toEqual(['172.31.213.200', 'fd00:213::200']);
    expect(routing.listeners.map(listenerKey)).toEqual(['172.31.213.200:80', '172.31.213.200:81', '172.31.213.200:443', '[fd00:213::200]:80', '[fd00:213::200]:443']);
  });
});
