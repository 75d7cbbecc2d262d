import type { Config } from '../config/config.js';
import { parseIp } from '../ip/ip-addr.js';
import { rangeContains } from '../ip/ip-range.js';

/**
 * A membership test for the config's layer2 pools (every pool is layer2 today: the config
 * parser refuses `bgp`; when another protocol arrives, filter on it here). Results are cached
 * per IP.
 */
export function layer2Membership(config: Config | undefined): (ip: string) => boolean {
  const ranges = (config?.pools ?? []).flatMap((p) => p.addresses.map((a) => a.range));
  // ip text -> in a layer2 pool
  const cache = new Map<string, boolean>();
  return (text) => {
    const known = cache.get(text);
    if (known !== undefined) return known;
    const ip = parseIp(text);
    const inside = ip.ok && ranges.some((r) => rangeContains(r, ip.value));
    cache.set(text, inside);
    return inside;
  };
}
