import { describe, expect, it } from 'vitest';
import type { Admission } from '../../src/sandbox/apiserver/admission.js';
import { child, list, type JsonObject } from '../../src/sandbox/apiserver/object.js';
import { createServiceAdmission } from '../../src/sandbox/apiserver/service.js';
import { ApiStatusError } from '../../src/sandbox/apiserver/status.js';

function svc(name: string, spec: JsonObject): JsonObject {
  return { apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: 'default' }, spec };
}

const web = (extra: JsonObject = {}): JsonObject => ({ ports: [{ port: 80 }], ...extra });

function specOf(obj: JsonObject): JsonObject {
  return child(obj, 'spec');
}

function nodePortsOf(obj: JsonObject): unknown[] {
  return list(specOf(obj), 'ports').map((p) => child({ p }, 'p').nodePort);
}

function refusal(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    if (e instanceof ApiStatusError && e.code === 422) return e.message;
    throw e;
  }
  throw new Error('the write was admitted');
}

describe('Service admission defaults', () => {
  it.each([
    { name: 'ClusterIP defaults', spec: web(), want: { type: 'ClusterIP', sessionAffinity: 'None', internalTrafficPolicy: 'Cluster', ipFamilyPolicy: 'SingleStack', ipFamilies: ['IPv4'], clusterIP: '10.96.0.2' } },
    { name: 'LoadBalancer defaults', spec: web({ type: 'LoadBalancer' }), want: { externalTrafficPolicy: 'Cluster', allocateLoadBalancerNodePorts: true } },
    { name: 'NodePort gets externalTrafficPolicy', spec: web({ type: 'NodePort' }), want: { externalTrafficPolicy: 'Cluster' } },
    { name: 'PreferDualStack gets both families', spec: web({ ipFamilyPolicy: 'PreferDualStack' }), want: { ipFamilies: ['IPv4', 'IPv6'], clusterIPs: ['10.96.0.2', 'fd00:10:96::1'] } },
    { name: 'IPv6 first', spec: web({ ipFamilyPolicy: 'RequireDualStack', ipFamilies: ['IPv6'] }), want: { ipFamilies: ['IPv6', 'IPv4'], clusterIPs: ['fd00:10:96::1', '10.96.0.2'] } },
    { name: 'requested IP honoured', spec: web({ clusterIP: '10.100.0.7' }), want: { clusterIP: '10.100.0.7', clusterIPs: ['10.100.0.7'] } },
    { name: 'requested IPv6 IP sets the family', spec: web({ clusterIP: 'fd00:10:96::abcd' }), want: { ipFamilies: ['IPv6'], clusterIPs: ['fd00:10:96::abcd'] } },
    { name: 'headless', spec: web({ clusterIP: 'None' }), want: { clusterIP: 'None', clusterIPs: ['None'] } },
  ])('$name', ({ spec, want }) => {
    const out = specOf(createServiceAdmission().admit(svc('a', spec), undefined));
    expect(out).toMatchObject(want);
  });

  it.each([
    { name: 'port defaults', port: { port: 80 }, want: { port: 80, protocol: 'TCP', targetPort: 80 } },
    { name: 'targetPort kept', port: { port: 80, targetPort: 'http', protocol: 'UDP' }, want: { port: 80, protocol: 'UDP', targetPort: 'http' } },
  ])('$name', ({ port, want }) => {
    const out = specOf(createServiceAdmission().admit(svc('a', { ports: [port] }), undefined));
    expect(list(out, 'ports')[0]).toEqual(want);
  });

  it('gives `kubernetes` in default 10.96.0.1 and nobody else', () => {
    const a = createServiceAdmission();
    expect(specOf(a.admit(svc('kubernetes', web()), undefined)).clusterIP).toBe('10.96.0.1');
    expect(refusal(() => a.admit(svc('b', web({ clusterIP: '10.96.0.1' })), undefined))).toContain('not in the valid range');
  });

  it('allocates nodePorts for LoadBalancer unless allocateLoadBalancerNodePorts is false', () => {
    const a = createServiceAdmission();
    expect(nodePortsOf(a.admit(svc('a', web({ type: 'LoadBalancer' })), undefined))).toEqual([30000]);
    expect(nodePortsOf(a.admit(svc('b', web({ type: 'LoadBalancer', allocateLoadBalancerNodePorts: false })), undefined))).toEqual([undefined]);
    expect(nodePortsOf(a.admit(svc('c', web()), undefined))).toEqual([undefined]);
  });
});

describe('Service admission refusals', () => {
  it.each([
    { name: 'no ports', spec: {}, message: 'spec.ports: Required value' },
    { name: 'port 0', spec: { ports: [{ port: 0 }] }, message: 'spec.ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive' },
    { name: 'port too big', spec: { ports: [{ port: 70000 }] }, message: 'spec.ports[0].port' },
    { name: 'bad protocol', spec: { ports: [{ port: 80, protocol: 'HTTP' }] }, message: 'spec.ports[0].protocol: Unsupported value: "HTTP"' },
    { name: 'unnamed second port', spec: { ports: [{ port: 80, name: 'a' }, { port: 81 }] }, message: 'spec.ports[1].name: Required value' },
    { name: 'duplicate names', spec: { ports: [{ port: 80, name: 'a' }, { port: 81, name: 'a' }] }, message: 'spec.ports[1].name: Duplicate value: "a"' },
    { name: 'duplicate port/protocol', spec: { ports: [{ port: 80, name: 'a' }, { port: 80, name: 'b' }] }, message: 'spec.ports[1]: Duplicate value' },
    { name: 'bad type', spec: web({ type: 'Magic' }), message: 'spec.type: Unsupported value: "Magic"' },
    { name: 'nodePort on ClusterIP', spec: { ports: [{ port: 80, nodePort: 30080 }] }, message: 'spec.ports[0].nodePort: Forbidden' },
    { name: 'nodePort out of range', spec: { type: 'NodePort', ports: [{ port: 80, nodePort: 80 }] }, message: 'provided port is not in the valid range' },
    { name: 'clusterIP out of range', spec: web({ clusterIP: '192.168.1.1' }), message: 'spec.clusterIPs[0]: Invalid value: "192.168.1.1": failed to allocate IP 192.168.1.1: the provided IP (192.168.1.1) is not in the valid range' },
    { name: 'clusterIP not an IP', spec: web({ clusterIP: 'banana' }), message: 'spec.clusterIPs[0]: Invalid value: "banana": must be a valid IP address' },
    { name: 'SingleStack with two families', spec: web({ ipFamilies: ['IPv4', 'IPv6'] }), message: 'spec.ipFamilies' },
    { name: 'IP of the wrong family', spec: web({ ipFamilies: ['IPv6'], clusterIP: '10.96.0.9' }), message: 'expected an IPv6 value' },
    { name: 'ExternalName without a name', spec: { type: 'ExternalName' }, message: 'spec.externalName: Required value' },
  ])('$name', ({ spec, message }) => {
    expect(refusal(() => createServiceAdmission().admit(svc('a', spec), undefined))).toContain(message);
  });

  it('refuses an allocated clusterIP and nodePort, and frees both on delete', () => {
    const a = createServiceAdmission();
    const first = a.admit(svc('a', web({ type: 'NodePort', clusterIP: '10.96.0.50', ports: [{ port: 80, nodePort: 31000 }] })), undefined);
    expect(refusal(() => a.admit(svc('b', web({ clusterIP: '10.96.0.50' })), undefined))).toContain('provided IP is already allocated');
    expect(refusal(() => a.admit(svc('b', { type: 'NodePort', ports: [{ port: 80, nodePort: 31000 }] }), undefined))).toContain(
      'spec.ports[0].nodePort: Invalid value: 31000: provided port is already allocated',
    );
    a.deleted(first);
    expect(specOf(a.admit(svc('b', web({ type: 'NodePort', clusterIP: '10.96.0.50', ports: [{ port: 80, nodePort: 31000 }] })), undefined)).clusterIP).toBe('10.96.0.50');
  });

  it('rolls back what a refused write reserved', () => {
    const a = createServiceAdmission();
    refusal(() => a.admit(svc('a', { type: 'NodePort', clusterIP: '10.96.0.60', ports: [{ port: 80, nodePort: 99 }] }), undefined));
    expect(specOf(a.admit(svc('b', web({ clusterIP: '10.96.0.60' })), undefined)).clusterIP).toBe('10.96.0.60');
  });

  it('re-reserves restored objects', () => {
    const a = createServiceAdmission();
    const stored = createServiceAdmission().admit(svc('a', web({ type: 'NodePort' })), undefined);
    a.restored(stored);
    expect(refusal(() => a.admit(svc('b', web({ clusterIP: specOf(stored).clusterIP })), undefined))).toContain('already allocated');
  });
});

describe('Service admission updates', () => {
  function created(a: Admission, spec: JsonObject): JsonObject {
    return a.admit(svc('a', spec), undefined);
  }

  it('keeps clusterIPs when the update leaves them out and refuses changing them', () => {
    const a = createServiceAdmission();
    const old = created(a, web());
    expect(specOf(a.admit(svc('a', web({ selector: { app: 'x' } })), old)).clusterIP).toBe('10.96.0.2');
    expect(refusal(() => a.admit(svc('a', web({ clusterIP: '10.96.0.99' })), old))).toContain('spec.clusterIPs[0]: Invalid value: "10.96.0.99": field is immutable');
  });

  it('releases the clusterIP when the type changes to ExternalName', () => {
    const a = createServiceAdmission();
    const old = created(a, web({ clusterIP: '10.96.0.70' }));
    const next = a.admit(svc('a', { type: 'ExternalName', externalName: 'example.org', clusterIP: '' }), old);
    expect(specOf(next).clusterIP).toBeUndefined();
    expect(specOf(a.admit(svc('b', web({ clusterIP: '10.96.0.70' })), undefined)).clusterIP).toBe('10.96.0.70');
  });

  it.each([
    { name: 'ClusterIP -> LoadBalancer allocates', from: web(), to: web({ type: 'LoadBalancer' }), want: [30000] },
    { name: 'LoadBalancer -> ClusterIP releases', from: web({ type: 'LoadBalancer' }), to: { ports: [{ port: 80, nodePort: 30000 }] }, want: [undefined] },
    { name: 'dropped nodePorts are kept', from: web({ type: 'LoadBalancer' }), to: web({ type: 'LoadBalancer' }), want: [30000] },
    { name: 'a changed nodePort is honoured', from: web({ type: 'NodePort' }), to: { type: 'NodePort', ports: [{ port: 80, nodePort: 32000 }] }, want: [32000] },
  ])('$name', ({ from, to, want }) => {
    const a = createServiceAdmission();
    const old = created(a, from);
    const next = a.admit(svc('a', to), old);
    expect(nodePortsOf(next)).toEqual(want);
    // What the update no longer holds is free again; what it holds is not.
    const probe = a.admit(svc('probe', web({ type: 'NodePort' })), undefined);
    expect(nodePortsOf(probe)[0]).not.toBe(want[0]);
    if (want[0] === undefined) expect(nodePortsOf(a.admit(svc('c', { type: 'NodePort', ports: [{ port: 80, nodePort: 30000 }] }), undefined))).toEqual([30000]);
  });
});
