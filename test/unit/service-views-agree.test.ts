import { describe, expect, it } from 'vitest';
import { parseConfigYaml } from '../../src/config/config-yaml.js';
import { decideService } from '../../src/controller/decide.js';
import { Allocator } from '../../src/ipam/allocator.js';
import { toServiceRecord } from '../../src/k8s/speaker-views.js';
import { defaultLoadBalancerClass, serviceKeyOf, type ServiceView } from '../../src/service/service.js';

/*
 * The controller and the speaker must read a Service the same way: whether it is ours, its key
 * and the IPs it holds. Each side is asked through its own entry point (the controller's
 * decision, the speaker's record), so a second definition on either side shows up here.
 */

/** One pool per family holding exactly the IP the Services show, so the controller's answer is that IP when the Service is ours. */
const config = parseConfigYaml('address-pools:\n- {name: v4, protocol: layer2, addresses: [192.0.2.1/32]}\n- {name: v6, protocol: layer2, addresses: [2001:db8::10/128]}\n');

function svc(over: { cls?: string | null; type?: string; ip?: string; namespace?: string; family?: 'IPv4' | 'IPv6' } = {}): ServiceView {
  return {
    metadata: { ...(over.namespace === undefined ? {} : { namespace: over.namespace }), name: 'web', uid: 'u1', resourceVersion: '1', creationTimestamp: '2026-01-01T00:00:00Z' },
    spec: {
      type: over.type ?? 'LoadBalancer',
      ports: [{ port: 80, protocol: 'TCP' }],
      ipFamilies: [over.family ?? 'IPv4'],
      ...(over.cls === undefined ? {} : { loadBalancerClass: over.cls }),
    },
    status: { loadBalancer: { ingress: [{ ip: over.ip ?? '192.0.2.1' }] } },
  };
}

/** The controller's answer: the key and IPs it assigns, or undefined when it leaves the Service alone. */
function controllerView(s: ServiceView, lbClass: string): { key: string; ips: readonly string[] } | undefined {
  if (!config.ok) throw new Error('bad test config');
  const allocator = new Allocator(config.value);
  const key = serviceKeyOf(s);
  decideService(allocator, key, s, lbClass);
  const held = allocator.assignmentOf(key);
  return held === undefined ? undefined : { key, ips: held.ips.map((i) => i.text) };
}

/** The speaker's answer: the key and IPs it elects an owner for, or undefined when it ignores the Service. */
function speakerView(s: ServiceView, lbClass: string): { key: string; ips: readonly string[] } | undefined {
  const record = toServiceRecord(s, [], lbClass);
  return record === undefined ? undefined : { key: record.service.key, ips: record.service.ips };
}

describe('controller and speaker read a Service the same way', () => {
  it.each([
    { name: 'no class: ours', s: svc(), lbClass: defaultLoadBalancerClass, want: { key: 'default/web', ips: ['192.0.2.1'] } },
    { name: 'class null: ours', s: svc({ cls: null }), lbClass: defaultLoadBalancerClass, want: { key: 'default/web', ips: ['192.0.2.1'] } },
    { name: 'class "" reads as no class: ours', s: svc({ cls: '' }), lbClass: defaultLoadBalancerClass, want: { key: 'default/web', ips: ['192.0.2.1'] } },
    { name: 'our class', s: svc({ cls: defaultLoadBalancerClass }), lbClass: defaultLoadBalancerClass, want: { key: 'default/web', ips: ['192.0.2.1'] } },
    { name: 'another class: left alone', s: svc({ cls: 'example.com/other' }), lbClass: defaultLoadBalancerClass, want: undefined },
    { name: '--lb-class: that class is ours', s: svc({ cls: 'example.com/mine' }), lbClass: 'example.com/mine', want: { key: 'default/web', ips: ['192.0.2.1'] } },
    { name: '--lb-class: the default class is then foreign', s: svc({ cls: defaultLoadBalancerClass }), lbClass: 'example.com/mine', want: undefined },
    { name: '--lb-class: no class is still ours', s: svc(), lbClass: 'example.com/mine', want: { key: 'default/web', ips: ['192.0.2.1'] } },
    { name: 'ClusterIP: not ours', s: svc({ type: 'ClusterIP' }), lbClass: defaultLoadBalancerClass, want: undefined },
    { name: 'namespace given', s: svc({ namespace: 'shop' }), lbClass: defaultLoadBalancerClass, want: { key: 'shop/web', ips: ['192.0.2.1'] } },
    { name: 'IPv6 in status read as canonical text', s: svc({ ip: '2001:DB8:0:0::10', family: 'IPv6' }), lbClass: defaultLoadBalancerClass, want: { key: 'default/web', ips: ['2001:db8::10'] } },
  ])('$name', ({ s, lbClass, want }) => {
    expect(controllerView(s, lbClass)).toEqual(want);
    expect(speakerView(s, lbClass)).toEqual(want);
  });
});
