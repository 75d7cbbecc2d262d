import { formatCidr } from '../ip/cidr.js';
import { rangeSize } from '../ip/ip-range.js';
import type { Config, Pool } from './config.js';

/** The JSON form of a pool that `ironlb config validate --output json` prints (DESIGN.md). */
export interface PoolSummary {
  readonly name: string;
  readonly protocol: string;
  readonly autoAssign: boolean;
  readonly avoidBuggyIPs: boolean;
  /** The minimal CIDR cover of each entry, entries in config order, ranges summarised. */
  readonly cidrs: readonly string[];
}

/** `{"pools":[...]}` for a validated config. */
export function configSummary(config: Config): { readonly pools: readonly PoolSummary[] } {
  return {
    pools: config.pools.map((p) => ({
      name: p.name,
      protocol: p.protocol,
      autoAssign: p.autoAssign,
      avoidBuggyIPs: p.avoidBuggyIPs,
      cidrs: p.addresses.flatMap((a) => a.cidrs.map(formatCidr)),
    })),
  };
}

/** The number of addresses a pool's entries cover (before avoid-buggy-ips skips any). */
export function poolAddressCount(pool: Pool): bigint {
  return pool.addresses.reduce((n, a) => n + rangeSize(a.range), 0n);
}

/** One line per pool: `default: 256 addresses (layer2, auto-assign, 10.0.0.0/24)`. */
export function describePool(pool: Pool): string {
  const count = poolAddressCount(pool);
  const flags = [pool.protocol, pool.autoAssign ? 'auto-assign' : 'on request only', ...(pool.avoidBuggyIPs ? ['avoid-buggy-ips'] : [])];
  const entries = pool.addresses.map((a) => a.text).join(', ');
  return `${pool.name}: ${count} address${count === 1n ? '' : 'es'} (${flags.join(', ')}; ${entries})`;
}
