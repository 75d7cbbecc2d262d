import type { Cidr } from '../ip/cidr.js';
import type { IpRange } from '../ip/ip-range.js';
import type { PoolName } from '../shared/brand.js';

/** One entry of a pool's `addresses`: a CIDR or a range, as written and as parsed. */
export interface AddressEntry {
  /** The entry as the user wrote it (trimmed), for messages. */
  readonly text: string;
  readonly range: IpRange;
  /** The minimal CIDR cover of `range`, in address order (one CIDR for a CIDR entry). */
  readonly cidrs: readonly Cidr[];
}

/** The only protocol ironlb speaks. */
export type PoolProtocol = 'layer2';

/** A validated address pool. */
export interface Pool {
  readonly name: PoolName;
  readonly protocol: PoolProtocol;
  /** When false, the pool gives addresses only to Services that ask for it or for one of its IPs. */
  readonly autoAssign: boolean;
  /** When true, no IPv4 address ending in .0 or .255 is handed out (old firmware drops them). */
  readonly avoidBuggyIPs: boolean;
  /** Non-empty; entries never overlap each other or another pool's. */
  readonly addresses: readonly AddressEntry[];
}

/** A validated config: pools in the order written; the first auto-assign pool with room wins. */
export interface Config {
  readonly pools: readonly Pool[];
}

/**
 * One problem in a config. `path` names the place (`address-pools[2] "blue": addresses[0]`),
 * `message` says what is wrong there and quotes the offending value.
 */
export interface ConfigIssue {
  readonly path: string;
  readonly message: string;
}

/** The one-line form of an issue, as the CLI prints it and Events carry it. */
export function formatIssue(issue: ConfigIssue): string {
  return issue.path === '' ? issue.message : `${issue.path}: ${issue.message}`;
}

/** An empty config: no pools, so no Service gets an address. */
export const emptyConfig: Config = { pools: [] };
