import { describe, expect, it } from 'vitest';
import { createServiceAdmission } from '../../src/sandbox/apiserver/service.js';
import { ApiStatusError } from '../../src/sandbox/apiserver/status.js';
import type { JsonObject } from '../../src/sandbox/apiserver/object.js';

function svc(spec: JsonObject, name = 's'): JsonObject {
  return { metadata: { name, namespace: 'default' }, spec: structuredClone(spec) };
}

function causesOf(f: () => unknown): string[] {
  try {
    f();
  } catch (e: unknown) {
    if (e instanceof ApiStatusError) return (e.details?.causes ?? []).map((c) => `${c.field}: ${c.message}`);
    throw e;
  }
  return [];
}

const lbSpec = { type: 'LoadBalancer', ports: [{ port: 80 }] };

describe('Service admission: defaulting', () => {
  it('defaults a LoadBalancer like kube-apiserver', () => {
    const out = createServiceAdmission().admit(svc(lbSpec), undefined);
    expect(out.spec).toEqual({
      type: 'LoadBalancer',
      ports: [{ port: 80, protocol: 'TCP', targetPort: 80, nodePort: 30000 }],
      sessionAffinity: 'None',
      internalTrafficPolicy: 'Cluster',
      externalTrafficPolicy: 'Cluster',
      allocateLoadBalancerNodePorts: true,
      ipFamilyPolicy: 'SingleStack',
      ipFamilies: ['IPv4'],
      clusterIP: '10.96.0.2',
      clusterIPs: ['10.96.0.2'],
    });
  });

  it.each([
    { name: 'ClusterIP has no node ports and no external policy', spec: { ports: [{ port: 80 }], externalTrafficPolicy: 'Local' }, want: { type: 'ClusterIP', nodePort: undefined, etp: undefined } },
    { name: 'allocateLoadBalancerNodePorts false gives none', spec: { ...lbSpec, allocateLoadBalancerNodePorts: false }, want: { type: 'LoadBalancer', nodePort: undefined, etp: 'Cluster' } },
    { name: 'NodePort gets one', spec: { type: 'NodePort', ports: [{ port: 80 }] }, want: { type: 'NodePort', nodePort: 30000, etp: 'Cluster' } },
  ])('$name', ({ spec, want }) => {
    const out = createServiceAdmission().admit(svc(spec), undefined).spec as { type: string; ports: { nodePort?: number }[]; externalTrafficPolicy?: string };
    expect([out.type, out.ports[0]?.nodePort, out.externalTrafficPolicy]).toEqual([want.type, want.nodePort, want.etp]);
  });

  it('gives dual-stack Services one cluster IP per family, primary first', () => {
    const a = createServiceAdmission();
    const v6first = a.admit(svc({ ...lbSpec, ipFamilyPolicy: 'PreferDualStack', ipFamilies: ['IPv6'] }), undefined).spec as JsonObject;
    expect([v6first.ipFamilies, v6first.clusterIPs]).toEqual([['IPv6', 'IPv4'], ['fd00:10:96::2', '10.96.0.2']]);
  });

  it('keeps cluster IP and node ports across an update that drops them (kubectl apply), and releases them on delete', () => {
    const a = createServiceAdmission();
    const first = a.admit(svc(lbSpec), undefined);
    const second = a.admit(svc({ type: 'LoadBalancer', ports: [{ port: 80 }], sessionAffinity: 'ClientIP' }), first).spec as JsonObject;
    expect([second.clusterIP, (second.ports as JsonObject[])[0]?.nodePort]).toEqual(['10.96.0.2', 30000]);
    a.deleted(first);
    const third = a.admit(svc(lbSpec, 't'), undefined).spec as JsonObject;
    expect((third.ports as JsonObject[])[0]?.nodePort).toBe(30001); // the cursor moves on, as the real allocator does
  });

  it('releases node ports when a LoadBalancer becomes a ClusterIP Service, and a restored object holds its addresses', () => {
    const a = createServiceAdmission();
    const lb = a.admit(svc(lbSpec), undefined);
    const plain = a.admit(svc({ type: 'ClusterIP', ports: [{ port: 80 }] }), lb).spec as JsonObject;
    expect((plain.ports as JsonObject[])[0]?.nodePort).toBeUndefined();
    const b = createServiceAdmission();
    b.restored(lb);
    expect(causesOf(() => b.admit(svc({ ...lbSpec, clusterIP: '10.96.0.2' }, 'x'), undefined))).toEqual(['spec.clusterIPs[0]: Invalid value: "10.96.0.2": provided IP is already allocated']);
  });
});

describe('Service admission: validation', () => {
  it.each([
    { name: 'no ports', spec: { type: 'LoadBalancer' }, want: ['spec.ports: Required value'] },
    { name: 'port 0', spec: { ports: [{ port: 0 }] }, want: ['spec.ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive'] },
    { name: 'unknown protocol', spec: { ports: [{ port: 1, protocol: 'ICMP' }] }, want: ['spec.ports[0].protocol: Unsupported value: "ICMP": supported values: "SCTP", "TCP", "UDP"'] },
    { name: 'two ports need names', spec: { ports: [{ port: 1 }, { port: 2, name: 'b' }] }, want: ['spec.ports[0].name: Required value'] },
    { name: 'duplicate names', spec: { ports: [{ port: 1, name: 'a' }, { port: 2, name: 'a' }] }, want: ['spec.ports[1].name: Duplicate value: "a"'] },
    { name: 'duplicate port and protocol', spec: { ports: [{ port: 1, name: 'a' }, { port: 1, name: 'b' }] }, want: ['spec.ports[1]: Duplicate value: 1/TCP'] },
    { name: 'unknown type', spec: { type: 'Magic', ports: [{ port: 1 }] }, want: ['spec.type: Unsupported value: "Magic": supported values: "ClusterIP", "ExternalName", "LoadBalancer", "NodePort"'] },
    { name: 'cluster IP outside the range', spec: { clusterIP: '192.0.2.1', ports: [{ port: 1 }] }, want: ['spec.clusterIPs[0]: Invalid value: "192.0.2.1": provided IP is not in the valid range. The range of valid IPs is 10.96.0.0/12'] },
    { name: 'node port outside the range', spec: { type: 'NodePort', ports: [{ port: 1, nodePort: 80 }] }, want: ['spec.ports[0].nodePort: Invalid value: 80: provided port is not in the valid range. The range of valid ports is 30000-32767'] },
    { name: 'ExternalName without externalName', spec: { type: 'ExternalName' }, want: ['spec.externalName: Required value'] },
    {
      name: 'two families with SingleStack',
      spec: { ipFamilies: ['IPv4', 'IPv6'], ports: [{ port: 1 }] },
      want: [`spec.ipFamilyPolicy: Invalid value: "SingleStack": must be RequireDualStack or PreferDualStack when multiple 'ipFamilies' are specified`],
    },
  ])('$name', ({ spec, want }) => {
    expect(causesOf(() => createServiceAdmission().admit(svc(spec), undefined))).toEqual(want);
  });

  it('refuses a changed cluster IP and a node port another Service holds', () => {
    const a = createServiceAdmission();
    const first = a.admit(svc(lbSpec), undefined);
    expect(causesOf(() => a.admit(svc({ ...lbSpec, clusterIP: '10.96.0.9' }), first))).toEqual(['spec.clusterIPs[0]: Invalid value: field is immutable']);
    expect(causesOf(() => a.admit(svc({ type: 'NodePort', ports: [{ port: 1, nodePort: 30000 }] }, 'other'), undefined))).toEqual(['spec.ports[0].nodePort: Invalid value: 30000: provided port is already allocated']);
  });
});
