import { describe, expect, it } from 'vitest';
import { desiredRouting, listenerKey, type Backend, type ServiceRouteView } from '../../src/sandbox/service-routing.js';

const pod = (host: string, node: string): Backend => ({ host, port: 8080, node });
const web = (backends: readonly Backend[], extra: Partial<ServiceRouteView> = {}): ServiceRouteView => ({
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
