import { describe, expect, it } from 'vitest';
import { desiredRouting, listenerKey, type ServiceRouteView } from '../../src/sandbox/service-routing.js';

const nodeIps = new Map([
  ['node-1', '172.31.213.11'],
  ['node-2', '172.31.213.12'],
]);
const web = (endpointNodes: readonly string[], extra: Partial<ServiceRouteView> = {}): ServiceRouteView => ({
  key: 'default/web',
  ingressIps: ['172.31.213.200'],
  ports: [{ port: 80, protocol: 'TCP', targetPort: 8080 }],
  endpointNodes,
  ...extra,
});

describe('desiredRouting', () => {
  it.each([
    { name: 'local endpoint: forward to own backend', self: 'node-1', svc: web(['node-2', 'node-1']), target: 'node-1:172.31.213.11:8080', skipped: [] },
    { name: 'remote endpoint only: forward to that node', self: 'node-1', svc: web(['node-2']), target: 'node-2:172.31.213.12:8080', skipped: [] },
    { name: 'remote endpoints: lowest node name wins', self: 'node-3', svc: web(['node-2', 'node-1']), target: 'node-1:172.31.213.11:8080', skipped: [] },
    { name: 'no endpoints: IP on dummy, no listener', self: 'node-1', svc: web([]), target: undefined, skipped: ['noEndpoints'] },
    { name: 'endpoint on a node of unknown IP', self: 'node-1', svc: web(['node-9']), target: undefined, skipped: ['unknownNodeIp'] },
    { name: 'UDP port skipped', self: 'node-1', svc: web(['node-1'], { ports: [{ port: 53, protocol: 'UDP', targetPort: 53 }] }), target: undefined, skipped: ['notTcp'] },
  ])('$name', ({ self, svc, target, skipped }) => {
    const { routing, skipped: why } = desiredRouting(self, [svc], nodeIps);
    expect(routing.serviceIps).toEqual(['172.31.213.200']);
    const got = routing.listeners.map((l) => `${l.target.node}:${l.target.host}:${l.target.port}`);
    expect(got).toEqual(target === undefined ? [] : [target]);
    expect(why.map((s) => s.reason)).toEqual(skipped);
  });

  it('dual stack and several ports: one listener per IP and port, sorted, IPs unique', () => {
    const svc = web(['node-1'], {
      ingressIps: ['fd00:213::200', '172.31.213.200'],
      ports: [
        { port: 443, protocol: 'TCP', targetPort: 8080 },
        { port: 80, protocol: 'TCP', targetPort: 8080 },
      ],
    });
    const other: ServiceRouteView = { ...web(['node-2']), key: 'default/other', ingressIps: ['172.31.213.200'], ports: [{ port: 81, protocol: 'TCP', targetPort: 8080 }] };
    const { routing } = desiredRouting('node-1', [svc, other], nodeIps);
    expect(routing.serviceIps).toEqual(['172.31.213.200', 'fd00:213::200']);
    expect(routing.listeners.map(listenerKey)).toEqual(['172.31.213.200:80', '172.31.213.200:81', '172.31.213.200:443', '[fd00:213::200]:80', '[fd00:213::200]:443']);
  });
});
