import { describe, expect, it } from 'vitest';
import { desiredEndpointSlice, endpointNodesAnnotation, type EndpointServiceView } from '../../src/sandbox/endpoints.js';

const nodes = [
  { name: 'node-1', ip: '172.31.213.11' },
  { name: 'node-2', ip: '172.31.213.12' },
  { name: 'node-3', ip: '172.31.213.13' },
];
const demo = { app: 'demo' };
const svc = (extra: Partial<EndpointServiceView> = {}): EndpointServiceView => ({
  namespace: 'default',
  name: 'web',
  selector: { app: 'demo' },
  annotations: {},
  ports: [{ name: 'http', protocol: 'TCP', targetPort: 8080 }],
  ...extra,
});

describe('desiredEndpointSlice', () => {
  it.each([
    { name: 'matching selector: every node', svc: svc(), nodes: ['node-1', 'node-2', 'node-3'] },
    { name: 'annotation places endpoints', svc: svc({ annotations: { [endpointNodesAnnotation]: 'node-2, node-3' } }), nodes: ['node-2', 'node-3'] },
    { name: 'annotation naming unknown nodes: no endpoints', svc: svc({ annotations: { [endpointNodesAnnotation]: 'node-9' } }), nodes: [] },
    { name: 'other selector: no slice', svc: svc({ selector: { app: 'other' } }), nodes: undefined },
    { name: 'selector wanting more labels: no slice', svc: svc({ selector: { app: 'demo', tier: 'x' } }), nodes: undefined },
    { name: 'no selector: no slice', svc: svc({ selector: {} }), nodes: undefined },
  ])('$name', ({ svc: s, nodes: want }) => {
    const slice = desiredEndpointSlice(s, demo, nodes);
    expect(slice?.endpoints.map((e) => e.nodeName)).toEqual(want);
  });

  it('writes a discovery.k8s.io/v1 slice named after the Service with ready endpoints', () => {
    const slice = desiredEndpointSlice(svc({ ports: [{ name: 'http', protocol: 'TCP', targetPort: 9090 }, { protocol: 'TCP', targetPort: 'web' }] }), demo, nodes.slice(0, 1));
    expect(slice).toEqual({
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: { name: 'web', namespace: 'default', labels: { 'kubernetes.io/service-name': 'web', 'endpointslice.kubernetes.io/managed-by': 'sandbox.ironlb.io' } },
      addressType: 'IPv4',
      endpoints: [{ addresses: ['172.31.213.11'], nodeName: 'node-1', conditions: { ready: true, serving: true, terminating: false } }],
      ports: [{ name: 'http', port: 9090, protocol: 'TCP' }, { port: 8080, protocol: 'TCP' }],
    });
  });
});
