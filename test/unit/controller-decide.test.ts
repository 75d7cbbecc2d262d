import { describe, expect, it } from 'vitest';
import { parseConfigYaml } from '../../src/config/config-yaml.js';
import { applyConfig } from '../../src/controller/config-decision.js';
import { decideDeleted, decideService } from '../../src/controller/decide.js';
import type { ServiceView } from '../../src/service/service.js';
import { Allocator } from '../../src/ipam/allocator.js';
import { serviceKey } from '../../src/shared/brand.js';

const poolYaml = 'address-pools:\n- {name: p, protocol: layer2, addresses: [10.0.0.1-10.0.0.2]}\n';

function allocator(yaml = poolYaml): Allocator {
  const parsed = parseConfigYaml(yaml);
  if (!parsed.ok) throw new Error('bad test config');
  return new Allocator(parsed.value);
}

function svc(name: string, over: { type?: string; cls?: string; ips?: string[]; annotations?: Record<string, string> } = {}): ServiceView {
  return {
    metadata: { namespace: 'default', name, creationTimestamp: '2026-01-01T00:00:00Z', annotations: over.annotations ?? {} },
    spec: { type: over.type ?? 'LoadBalancer', ports: [{ port: 80, protocol: 'TCP' }], ...(over.cls === undefined ? {} : { loadBalancerClass: over.cls }) },
    status: { loadBalancer: { ingress: (over.ips ?? []).map((ip) => ({ ip })) } },
  };
}

const cls = 'ironlb.io/layer2';

describe('decideService', () => {
  it.each([
    { name: 'a new LoadBalancer gets the lowest free IP and an IPAllocated Event', svc: svc('a'), want: { kind: 'write', ips: ['10.0.0.1'], reason: 'IPAllocated' } },
    { name: 'our class is served', svc: svc('a', { cls }), want: { kind: 'write', ips: ['10.0.0.1'], reason: 'IPAllocated' } },
    { name: 'a Service already showing its IP needs no write', svc: svc('a', { ips: ['10.0.0.1'] }), want: { kind: 'none' } },
    { name: 'a foreign class is left alone, status included', svc: svc('a', { cls: 'other/lb', ips: ['10.0.0.1'] }), want: { kind: 'none' } },
    { name: 'a ClusterIP Service without status needs nothing', svc: svc('a', { type: 'ClusterIP' }), want: { kind: 'none' } },
    { name: 'a ClusterIP Service still showing an IP gets it cleared', svc: svc('a', { type: 'ClusterIP', ips: ['10.0.0.1'] }), want: { kind: 'write', ips: [], reason: 'IPReleased' } },
    { name: 'a bad annotation fails with the annotation named', svc: svc('a', { annotations: { 'ironlb.io/loadBalancerIPs': 'nope' } }), want: { kind: 'failed', reason: 'invalidAnnotation', message: /ironlb\.io\/loadBalancerIPs/ } },
    { name: 'an IP outside the pools fails', svc: svc('a', { annotations: { 'ironlb.io/loadBalancerIPs': '10.9.9.9' } }), want: { kind: 'failed', reason: 'notInPool', message: /10\.9\.9\.9 is not in any pool/ } },
    { name: 'an unknown pool fails', svc: svc('a', { annotations: { 'ironlb.io/address-pool': 'nope' } }), want: { kind: 'failed', reason: 'noSuchPool', message: /pool "nope" does not exist/ } },
  ])('$name', ({ svc: s, want }) => {
    const d = decideService(allocator(), serviceKey('default', 'a'), s, cls);
    expect(d.kind).toBe(want.kind);
    if (d.kind === 'write') {
      expect(d.ips).toEqual(want.ips);
      expect(d.event?.reason).toBe(want.reason);
    }
    if (d.kind === 'failed') {
      expect(d.reason).toBe(want.reason);
      expect(d.event.message).toMatch(want.message ?? /./);
    }
  });

  it('fails on an exhausted pool without touching the holders, and a delete frees an address', () => {
    const a = allocator();
    for (const name of ['a', 'b']) expect(decideService(a, serviceKey('default', name), svc(name), cls).kind).toBe('write');
    const c = decideService(a, serviceKey('default', 'c'), svc('c'), cls);
    expect(c).toMatchObject({ kind: 'failed', reason: 'poolExhausted' });
    decideDeleted(a, serviceKey('default', 'a'));
    expect(decideService(a, serviceKey('default', 'c'), svc('c'), cls)).toMatchObject({ kind: 'write', ips: ['10.0.0.1'] });
  });

  it('a bad annotation keeps the IPs a Service holds', () => {
    const a = allocator();
    decideService(a, serviceKey('default', 'a'), svc('a'), cls);
    decideService(a, serviceKey('default', 'a'), svc('a', { ips: ['10.0.0.1'], annotations: { 'ironlb.io/allow-shared-ip': '' } }), cls);
    expect(a.assignmentOf(serviceKey('default', 'a'))?.ips.map((i) => i.text)).toEqual(['10.0.0.1']);
  });
});

describe('applyConfig', () => {
  it.each([
    { name: 'the same text is unchanged', text: poolYaml, inForce: poolYaml, want: 'unchanged' },
    { name: 'a valid new config loads', text: 'address-pools:\n- {name: q, protocol: layer2, addresses: [10.1.0.0/30]}\n', inForce: poolYaml, want: 'loaded' },
    { name: 'a YAML error is invalid', text: 'address-pools: [', inForce: poolYaml, want: 'invalid' },
    { name: 'bgp is invalid', text: 'address-pools:\n- {name: q, protocol: bgp, addresses: [10.1.0.0/30]}\n', inForce: poolYaml, want: 'invalid' },
    { name: 'a missing ConfigMap means no pools', text: undefined, inForce: poolYaml, want: 'loaded' },
  ])('$name', ({ text, inForce, want }) => {
    expect(applyConfig(allocator(), text, inForce).kind).toBe(want);
  });

  it('refuses a config that orphans an assigned IP and keeps the old one in force', () => {
    const a = allocator();
    decideService(a, serviceKey('default', 'a'), svc('a'), cls);
    const out = applyConfig(a, 'address-pools:\n- {name: q, protocol: layer2, addresses: [10.1.0.0/30]}\n', poolYaml);
    expect(out).toMatchObject({ kind: 'refused' });
    expect(out.kind === 'refused' ? out.message : '').toContain('default/a');
    expect(decideService(a, serviceKey('default', 'b'), svc('b'), cls)).toMatchObject({ kind: 'write', ips: ['10.0.0.2'] });
  });

  it('names the field of an invalid config', () => {
    const out = applyConfig(allocator(), 'address-pools:\n- {name: q, protocol: layer2, addresses: [10.1.0.0/30], colour: red}\n', poolYaml);
    expect(out.kind === 'invalid' ? out.message : '').toMatch(/colour/);
  });
});
