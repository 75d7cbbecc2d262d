import { familyName, type IpFamily } from '../ip/ip-addr.js';
import type { PoolName, ServiceKey } from '../shared/brand.js';
import type { ServicePort } from './service-request.js';

/**
 * Why the allocator refused; `message` is one sentence fit for a Service Event
 * (`AllocationFailed`). `kind` is stable for code and tests.
 */
export type AllocationError =
  | { readonly kind: 'noSuchPool'; readonly pool: PoolName; readonly message: string }
  | { readonly kind: 'notInPool'; readonly ip: string; readonly message: string }
  | { readonly kind: 'poolExhausted'; readonly family: IpFamily; readonly message: string }
  | { readonly kind: 'familyMismatch'; readonly message: string }
  | { readonly kind: 'ipInUse'; readonly ip: string; readonly by: ServiceKey; readonly message: string }
  | { readonly kind: 'sharingKeyMismatch'; readonly ip: string; readonly by: ServiceKey; readonly message: string }
  | { readonly kind: 'backendMismatch'; readonly ip: string; readonly by: ServiceKey; readonly message: string }
  | { readonly kind: 'portConflict'; readonly ip: string; readonly port: ServicePort; readonly by: ServiceKey; readonly message: string }
  | { readonly kind: 'sharingKeyChange'; readonly ip: string; readonly with: ServiceKey; readonly message: string };

/** Builders, so every message of a kind reads the same. */
export const allocationError = {
  noSuchPool: (pool: PoolName): AllocationError => ({ kind: 'noSuchPool', pool, message: `pool "${pool}" does not exist` }),
  notInAnyPool: (ip: string): AllocationError => ({ kind: 'notInPool', ip, message: `${ip} is not in any pool` }),
  notInPool: (ip: string, pool: PoolName): AllocationError => ({ kind: 'notInPool', ip, message: `${ip} is not in pool "${pool}"` }),
  buggy: (ip: string, pool: PoolName): AllocationError => ({
    kind: 'notInPool',
    ip,
    message: `${ip} is not usable: pool "${pool}" has avoid-buggy-ips, which excludes addresses ending in .0 or .255`,
  }),
  exhausted: (pool: PoolName, family: IpFamily): AllocationError => ({
    kind: 'poolExhausted',
    family,
    message: `no available IPs in pool "${pool}" for ${familyName(family)}`,
  }),
  noAutoPool: (family: IpFamily, pools: readonly PoolName[]): AllocationError => ({
    kind: 'poolExhausted',
    family,
    message: pools.length === 0
      ? `no available IPs for ${familyName(family)}: no pool has auto-assign enabled`
      : `no available IPs for ${familyName(family)} in the auto-assign pools (${pools.map((p) => `"${p}"`).join(', ')})`,
  }),
  familyMismatch: (message: string): AllocationError => ({ kind: 'familyMismatch', message }),
  ipInUse: (ip: string, by: ServiceKey): AllocationError => ({
    kind: 'ipInUse',
    ip,
    by,
    message: `${ip} is already in use by ${by}, and the two Services do not have the same allow-shared-ip key`,
  }),
  sharingKeyMismatch: (ip: string, by: ServiceKey, theirs: string, ours: string): AllocationError => ({
    kind: 'sharingKeyMismatch',
    ip,
    by,
    message: `${ip} is shared by ${by} under the key "${theirs}", not "${ours}"`,
  }),
  backendMismatch: (ip: string, by: ServiceKey): AllocationError => ({
    kind: 'backendMismatch',
    ip,
    by,
    message: `${ip} is used by ${by} with a different externalTrafficPolicy or selector: Services sharing an IP with policy Local must select the same pods`,
  }),
  portConflict: (ip: string, port: ServicePort, by: ServiceKey): AllocationError => ({
    kind: 'portConflict',
    ip,
    port,
    by,
    message: `port ${port.port}/${port.protocol} already in use on ${ip} by ${by}`,
  }),
  sharingKeyChange: (ip: string, other: ServiceKey, from: string | undefined, to: string | undefined): AllocationError => ({
    kind: 'sharingKeyChange',
    ip,
    with: other,
    message: `cannot change the allow-shared-ip key from ${from === undefined ? 'none' : `"${from}"`} to ${to === undefined ? 'none' : `"${to}"`} while ${ip} is shared with ${other}`,
  }),
};

/** The auto-assign pools have both families, but no single pool has a free address of each. */
export function noDualStackPool(family: IpFamily, pools: readonly PoolName[]): AllocationError {
  return {
    kind: 'poolExhausted',
    family,
    message: `no pool among ${pools.map((p) => `"${p}"`).join(', ')} has a free IPv4 and a free IPv6 address together`,
  };
}
