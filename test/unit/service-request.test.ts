import { describe, expect, it } from 'vitest';
import { formatIp } from '../../src/ip/ip-addr.js';
import { ingressIps, type ServiceView } from '../../src/service/service.js';
import { toRestoreRequest, toServiceRequest } from '../../src/service/service-request.js';

function svc(annotations: Record<string, string> = {}, spec: NonNullable<ServiceView['spec']> = {}): ServiceView {
  return {
    metadata: { namespace: 'default', name: 'web', creationTimestamp: '2026-01-02T03:04:05Z', annotations },
    spec: { ports: [{ port: 80, protocol: 'TCP' }], ...spec },
  };
}

describe('toServiceRequest: what the allocator is told', () => {
  it('reads a plain Service with defaults', () => {
    const r = toServiceRequest({ metadata: { namespace: 'ns', name: 'a', creationTimestamp: new Date(1000) }, spec: { ports: [{ port: 53, protocol: 'UDP' }, { port: 53 }], selector: { app: 'dns' } } });
    expect(r).toEqual({
      ok: true,
      value: {
        key: 'ns/a',
        createdAt: 1000,
        requestedIps: [],
        ports: [{ port: 53, protocol: 'UDP' }, { port: 53, protocol: 'TCP' }],
        externalTrafficPolicy: 'Cluster',
        selector: { app: 'dns' },
        ipFamilies: [],
        ipFamilyPolicy: 'SingleStack',
      },
    });
  });

  it.each([
    { name: 'ironlb pool annotation', annotations: { 'ironlb.io/address-pool': 'blue' }, spec: {}, pool: 'blue', key: undefined, ips: [] },
    { name: 'MetalLB pool alias', annotations: { 'metallb.universe.tf/address-pool': 'blue' }, spec: {}, pool: 'blue', key: undefined, ips: [] },
    { name: 'both prefixes, same value', annotations: { 'ironlb.io/address-pool': 'blue', 'metallb.universe.tf/address-pool': 'blue' }, spec: {}, pool: 'blue', key: undefined, ips: [] },
    { name: 'sharing key', annotations: { 'ironlb.io/allow-shared-ip': 'dns' }, spec: {}, pool: undefined, key: 'dns', ips: [] },
    { name: 'sharing key alias, trimmed', annotations: { 'metallb.universe.tf/allow-shared-ip': ' dns ' }, spec: {}, pool: undefined, key: 'dns', ips: [] },
    { name: 'one requested IP', annotations: { 'ironlb.io/loadBalancerIPs': '10.0.0.5' }, spec: {}, pool: undefined, key: undefined, ips: ['10.0.0.5'] },
    { name: 'one per family, spaces, canonical', annotations: { 'metallb.universe.tf/loadBalancerIPs': '10.0.0.5, 2001:DB8::5' }, spec: {}, pool: undefined, key: undefined, ips: ['10.0.0.5', '2001:db8::5'] },
    { name: 'spec.loadBalancerIP', annotations: {}, spec: { loadBalancerIP: '10.0.0.6' }, pool: undefined, key: undefined, ips: ['10.0.0.6'] },
    { name: 'empty spec.loadBalancerIP is no request', annotations: {}, spec: { loadBalancerIP: '' }, pool: undefined, key: undefined, ips: [] },
    { name: 'spec and annotation agree', annotations: { 'ironlb.io/loadBalancerIPs': '10.0.0.6' }, spec: { loadBalancerIP: '10.0.0.6' }, pool: undefined, key: undefined, ips: ['10.0.0.6'] },
    { name: 'unrelated annotations are ignored', annotations: { 'example.com/address-pool': 'x', 'ironlb.io/other': 'y' }, spec: {}, pool: undefined, key: undefined, ips: [] },
  ])('$name', ({ annotations, spec, pool, key, ips }) => {
    const r = toServiceRequest(svc(annotations, spec));
    if (!r.ok) throw new Error(r.error.message);
    expect(r.value.requestedPool).toBe(pool);
    expect(r.value.sharingKey).toBe(key);
    expect(r.value.requestedIps.map(formatIp)).toEqual(ips);
  });

  it.each([
    { name: 'both pool annotations, different', annotations: { 'ironlb.io/address-pool': 'a', 'metallb.universe.tf/address-pool': 'b' }, spec: {}, kind: 'conflictingAnnotations', message: 'annotations ironlb.io/address-pool ("a") and metallb.universe.tf/address-pool ("b") disagree: set only one' },
    { name: 'both sharing keys, different', annotations: { 'ironlb.io/allow-shared-ip': 'a', 'metallb.universe.tf/allow-shared-ip': 'b' }, spec: {}, kind: 'conflictingAnnotations', message: 'annotations ironlb.io/allow-shared-ip ("a") and metallb.universe.tf/allow-shared-ip ("b") disagree: set only one' },
    { name: 'both IP annotations, different', annotations: { 'ironlb.io/loadBalancerIPs': '10.0.0.1', 'metallb.universe.tf/loadBalancerIPs': '10.0.0.2' }, spec: {}, kind: 'conflictingAnnotations', message: 'annotations ironlb.io/loadBalancerIPs ("10.0.0.1") and metallb.universe.tf/loadBalancerIPs ("10.0.0.2") disagree: set only one' },
    { name: 'annotation and spec.loadBalancerIP differ', annotations: { 'ironlb.io/loadBalancerIPs': '10.0.0.1' }, spec: { loadBalancerIP: '10.0.0.2' }, kind: 'conflictingAnnotations', message: 'spec.loadBalancerIP ("10.0.0.2") and annotation ironlb.io/loadBalancerIPs ("10.0.0.1") disagree: set only one' },
    { name: 'bad IP', annotations: { 'ironlb.io/loadBalancerIPs': '10.0.0.300' }, spec: {}, kind: 'invalidAnnotation', message: 'annotation ironlb.io/loadBalancerIPs: "10.0.0.300" is not a valid IPv4 address' },
    { name: 'a CIDR is not an IP', annotations: { 'ironlb.io/loadBalancerIPs': '10.0.0.0/24' }, spec: {}, kind: 'invalidAnnotation', message: 'annotation ironlb.io/loadBalancerIPs: "10.0.0.0/24" is not a valid IPv4 address' },
    { name: 'three IPs', annotations: { 'ironlb.io/loadBalancerIPs': '10.0.0.1,10.0.0.2,::1' }, spec: {}, kind: 'invalidAnnotation', message: 'annotation ironlb.io/loadBalancerIPs: "10.0.0.1,10.0.0.2,::1" lists 3 addresses: give at most one IPv4 and one IPv6' },
    { name: 'two of one family', annotations: { 'metallb.universe.tf/loadBalancerIPs': '10.0.0.1,10.0.0.2' }, spec: {}, kind: 'invalidAnnotation', message: 'annotation metallb.universe.tf/loadBalancerIPs: "10.0.0.1,10.0.0.2" gives two IPv4 addresses: give at most one per family' },
    { name: 'empty IP list', annotations: { 'ironlb.io/loadBalancerIPs': '' }, spec: {}, kind: 'invalidAnnotation', message: 'annotation ironlb.io/loadBalancerIPs: the value is empty' },
    { name: 'trailing comma', annotations: { 'ironlb.io/loadBalancerIPs': '10.0.0.1,' }, spec: {}, kind: 'invalidAnnotation', message: 'annotation ironlb.io/loadBalancerIPs: "10.0.0.1," has an empty entry' },
    { name: 'huge IP list', annotations: { 'ironlb.io/loadBalancerIPs': '1'.repeat(10_000) }, spec: {}, kind: 'invalidAnnotation', message: 'annotation ironlb.io/loadBalancerIPs: the value is longer than 100 characters' },
    { name: 'empty sharing key', annotations: { 'ironlb.io/allow-shared-ip': '  ' }, spec: {}, kind: 'invalidAnnotation', message: 'annotation ironlb.io/allow-shared-ip: the sharing key is empty' },
    { name: 'huge sharing key', annotations: { 'ironlb.io/allow-shared-ip': 'k'.repeat(100_000) }, spec: {}, kind: 'invalidAnnotation', message: 'annotation ironlb.io/allow-shared-ip: the sharing key is longer than 253 characters' },
    { name: 'empty pool name', annotations: { 'metallb.universe.tf/address-pool': '' }, spec: {}, kind: 'invalidAnnotation', message: 'annotation metallb.universe.tf/address-pool: the pool name is empty' },
    { name: 'pool name with a comma', annotations: { 'ironlb.io/address-pool': 'a,b' }, spec: {}, kind: 'invalidAnnotation', message: 'annotation ironlb.io/address-pool: the pool name "a,b" contains spaces or commas' },
    { name: 'bad spec.loadBalancerIP', annotations: {}, spec: { loadBalancerIP: 'nope' }, kind: 'invalidSpec', message: 'spec.loadBalancerIP: "nope" is not a valid IPv4 address' },
    { name: 'bad ipFamilies', annotations: {}, spec: { ipFamilies: ['IPv4', 'IPv4'] }, kind: 'invalidSpec', message: 'spec.ipFamilies: "IPv4,IPv4" is not a list of distinct IPv4/IPv6' },
    { name: 'bad ipFamilyPolicy', annotations: {}, spec: { ipFamilyPolicy: 'Maybe' }, kind: 'invalidSpec', message: 'spec.ipFamilyPolicy: "Maybe" is not SingleStack, PreferDualStack or RequireDualStack' },
    { name: 'bad externalTrafficPolicy', annotations: {}, spec: { externalTrafficPolicy: 'Nearby' }, kind: 'invalidSpec', message: 'spec.externalTrafficPolicy: "Nearby" is not Cluster or Local' },
    { name: 'bad port', annotations: {}, spec: { ports: [{ port: 70000, protocol: 'TCP' }] }, kind: 'invalidSpec', message: 'spec.ports[0]: "70000/TCP" is not a valid port and protocol' },
    { name: 'bad protocol', annotations: {}, spec: { ports: [{ port: 80, protocol: 'ICMP' }] }, kind: 'invalidSpec', message: 'spec.ports[0]: "80/ICMP" is not a valid port and protocol' },
  ])('refuses: $name', ({ annotations, spec, kind, message }) => {
    const r = toServiceRequest(svc(annotations, spec));
    expect(r.ok ? undefined : { kind: r.error.kind, message: r.error.message }).toEqual({ kind, message });
    // Fit for an Event: one line, bounded.
    expect(message.length).toBeLessThan(300);
  });

  it.each([
    { name: 'a Date', ts: new Date('2026-01-01T00:00:00Z'), want: Date.parse('2026-01-01T00:00:00Z') },
    { name: 'an RFC 3339 string', ts: '2026-01-01T00:00:01Z', want: Date.parse('2026-01-01T00:00:01Z') },
    { name: 'missing: newest possible', ts: undefined, want: Number.MAX_SAFE_INTEGER },
    { name: 'garbage: newest possible', ts: 'yesterday', want: Number.MAX_SAFE_INTEGER },
  ])('creation time from $name', ({ ts, want }) => {
    const r = toServiceRequest({ metadata: { name: 'a', creationTimestamp: ts } });
    expect(r.ok ? r.value.createdAt : undefined).toBe(want);
  });

  it('reads ip families and traffic policy', () => {
    const r = toServiceRequest(svc({}, { ipFamilies: ['IPv6', 'IPv4'], ipFamilyPolicy: 'RequireDualStack', externalTrafficPolicy: 'Local' }));
    expect(r.ok ? [r.value.ipFamilies, r.value.ipFamilyPolicy, r.value.externalTrafficPolicy] : undefined).toEqual([[6, 4], 'RequireDualStack', 'Local']);
  });
});

describe('ingressIps', () => {
  it.each([
    { name: 'none', status: undefined, want: [] },
    { name: 'one IPv4', status: { loadBalancer: { ingress: [{ ip: '10.0.0.5' }] } }, want: ['10.0.0.5'] },
    { name: 'dual stack, canonical', status: { loadBalancer: { ingress: [{ ip: '10.0.0.5' }, { ip: '2001:DB8::5' }] } }, want: ['10.0.0.5', '2001:db8::5'] },
    { name: 'hostnames and junk skipped', status: { loadBalancer: { ingress: [{ hostname: 'lb.example' } as { ip?: string }, { ip: 'junk' }, { ip: '10.0.0.7' }] } }, want: ['10.0.0.7'] },
    { name: 'duplicates once', status: { loadBalancer: { ingress: [{ ip: '10.0.0.5' }, { ip: '10.0.0.5' }] } }, want: ['10.0.0.5'] },
  ])('$name', ({ status, want }) => {
    expect(ingressIps({ status }).map(formatIp)).toEqual(want);
  });
});

describe('toRestoreRequest: never fails, so a broken Service still keeps its IPs', () => {
  it.each([
    { name: 'a valid Service: the full request', svc: svc({ 'ironlb.io/allow-shared-ip': 'k' }), key: 'k', ports: ['80/TCP'], policy: 'Cluster' },
    { name: 'broken annotations: the Service without them', svc: svc({ 'ironlb.io/allow-shared-ip': 'a', 'metallb.universe.tf/allow-shared-ip': 'b' }, { externalTrafficPolicy: 'Local' }), key: undefined, ports: ['80/TCP'], policy: 'Local' },
    { name: 'a broken spec too: a bare request', svc: svc({}, { loadBalancerIP: 'junk' }), key: undefined, ports: [], policy: 'Cluster' },
  ])('$name', ({ svc: service, key, ports, policy }) => {
    const r = toRestoreRequest(service);
    expect(r.key).toBe('default/web');
    expect(r.createdAt).toBe(Date.parse('2026-01-02T03:04:05Z'));
    expect(r.sharingKey).toBe(key);
    expect(r.ports.map((p) => `${p.port}/${p.protocol}`)).toEqual(ports);
    expect(r.externalTrafficPolicy).toBe(policy);
  });
});
