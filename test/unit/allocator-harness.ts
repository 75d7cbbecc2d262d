import { expect } from 'vitest';
import type { Config } from '../../src/config/config.js';
import { parseConfigYaml } from '../../src/config/config-yaml.js';
import { formatIp, parseIp, type IpAddr } from '../../src/ip/ip-addr.js';
import { rangeContains } from '../../src/ip/ip-range.js';
import { isBuggyIpv4 } from '../../src/ipam/address-space.js';
import type { Allocator } from '../../src/ipam/allocator.js';
import { backendKey } from '../../src/ipam/sharing.js';
import type { IpFamilyPolicy, PortProtocol, ServiceRequest } from '../../src/ipam/service-request.js';
import type { PoolName, ServiceKey } from '../../src/shared/brand.js';
import { serviceKey } from '../../src/shared/brand.js';

/** A compact Service description for scenario tables. */
export interface Svc {
  readonly name: string;
  /** creation time, default 0 */
  readonly created?: number;
  readonly ips?: readonly string[];
  readonly pool?: string;
  readonly key?: string;
  /** e.g. ['80/TCP', '53/UDP']; default ['80/TCP'] */
  readonly ports?: readonly string[];
  /** externalTrafficPolicy Local with this selector (app=<local>) */
  readonly local?: string;
  readonly families?: readonly ('IPv4' | 'IPv6')[];
  readonly policy?: IpFamilyPolicy;
}

/** Parses a config text, failing the test on a bad fixture. */
export function config(yaml: string): Config {
  const r = parseConfigYaml(yaml);
  if (!r.ok) throw new Error(`bad config fixture: ${r.error.map((i) => `${i.path}: ${i.message}`).join('; ')}`);
  return r.value;
}

/** `pools('a: 10.0.0.0/30', 'b!: 10.0.1.0/30 | buggy')`: `!` = auto-assign false, `| buggy` = avoid-buggy-ips. */
export function pools(...specs: string[]): Config {
  const lines = specs.map((spec) => {
    const [head, flags = ''] = spec.split('|').map((s) => s.trim()) as [string, string?];
    const colon = head.indexOf(':');
    const rawName = head.slice(0, colon).trim();
    const addresses = head.slice(colon + 1).split(',').map((a) => JSON.stringify(a.trim()));
    const name = rawName.replace(/!$/, '');
    return `- {name: ${name}, protocol: layer2, addresses: [${addresses.join(', ')}], auto-assign: ${!rawName.endsWith('!')}, avoid-buggy-ips: ${flags.includes('buggy')}}`;
  });
  return config(`address-pools:\n${lines.join('\n')}\n`);
}

export function ip(text: string): IpAddr {
  const r = parseIp(text);
  if (!r.ok) throw new Error(`bad IP fixture ${text}`);
  return r.value;
}

/** Builds the ServiceRequest a Svc stands for. */
export function request(svc: Svc): ServiceRequest {
  return {
    key: serviceKey('default', svc.name),
    createdAt: svc.created ?? 0,
    requestedIps: (svc.ips ?? []).map(ip),
    ...(svc.pool === undefined ? {} : { requestedPool: svc.pool as PoolName }),
    ...(svc.key === undefined ? {} : { sharingKey: svc.key }),
    ports: (svc.ports ?? ['80/TCP']).map((p) => {
      const [port, protocol] = p.split('/');
      return { port: Number(port), protocol: (protocol ?? 'TCP') as PortProtocol };
    }),
    externalTrafficPolicy: svc.local === undefined ? 'Cluster' : 'Local',
    selector: svc.local === undefined ? { app: 'any' } : { app: svc.local },
    ipFamilies: (svc.families ?? []).map((f) => (f === 'IPv4' ? 4 : 6)),
    ipFamilyPolicy: svc.policy ?? 'SingleStack',
  };
}

export const key = (name: string): ServiceKey => serviceKey('default', name);

/** The IPs a Service holds, as text. */
export function held(allocator: Allocator, name: string): string[] {
  return allocator.assignmentOf(key(name))?.ips.map((i) => i.text) ?? [];
}

function inConfig(cfg: Config, address: IpAddr): boolean {
  return cfg.pools.some((p) => p.addresses.some((a) => rangeContains(a.range, address)) && !(p.avoidBuggyIPs && address.family === 4 && isBuggyIpv4(address.value)));
}

function compatible(a: ServiceRequest, b: ServiceRequest): boolean {
  if (a.sharingKey === undefined || a.sharingKey !== b.sharingKey) return false;
  if (backendKey(a) !== backendKey(b)) return false;
  return !a.ports.some((p) => b.ports.some((q) => q.port === p.port && q.protocol === p.protocol));
}

/**
 * The invariants after every step: internal consistency, every IP inside a pool of the config
 * in force (and not a skipped buggy address), and an IP shared only by Services that may share.
 * `requests` holds the last request each Service was accepted with.
 */
export function checkInvariants(allocator: Allocator, requests: ReadonlyMap<ServiceKey, ServiceRequest>): void {
  expect(allocator.verify()).toEqual([]);
  const cfg = allocator.currentConfig;
  const owners = new Map<string, ServiceKey[]>();
  for (const [svc, assignment] of allocator.snapshot()) {
    for (const a of assignment.ips) {
      expect(inConfig(cfg, a.ip), `${svc} holds ${a.text}, outside the config`).toBe(true);
      expect(formatIp(a.ip)).toBe(a.text);
      owners.set(a.text, [...(owners.get(a.text) ?? []), svc]);
    }
    const families = assignment.ips.map((a) => a.ip.family);
    expect(new Set(families).size, `${svc} holds two IPs of one family`).toBe(families.length);
  }
  for (const [text, users] of owners) {
    for (let i = 0; i < users.length; i++) {
      for (let j = i + 1; j < users.length; j++) {
        const a = requests.get(users[i]!);
        const b = requests.get(users[j]!);
        expect(a !== undefined && b !== undefined && compatible(a, b), `${text} given to ${users[i]} and ${users[j]}, which may not share`).toBe(true);
      }
    }
  }
}
