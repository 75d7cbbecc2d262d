import type { IpFamily } from '../ip/ip-addr.js';
import type { IpRange } from '../ip/ip-range.js';
import { IntervalSet } from './interval-set.js';

/**
 * Old firmware treats IPv4 addresses ending in .0 or .255 as network or broadcast addresses
 * even inside larger subnets (MetalLB `avoid-buggy-ips`). With the option on, a pool's
 * addresses are numbered by "ordinals" that skip those two per /24, so the free set never
 * holds them and allocation needs no skipping loop.
 */
const perBlock = 254n;

/** Ordinal of the first usable address >= value, in a space that skips .0 and .255. */
function ceilOrdinal(value: bigint): bigint {
  const low = value & 255n;
  const within = low === 0n ? 0n : low === 255n ? perBlock : low - 1n;
  return (value >> 8n) * perBlock + within;
}

/** Whether an IPv4 value ends in .0 or .255. */
export function isBuggyIpv4(value: bigint): boolean {
  const low = value & 255n;
  return low === 0n || low === 255n;
}

/**
 * The addresses of one family in one pool, and which of them are free. Every operation costs
 * O(log k + k) in the number k of free intervals, never in the number of addresses: filling a
 * /16 or a /64 costs per allocation what filling a /28 does.
 */
export class AddressSpace {
  /** The pool's ranges of this family, sorted by first address, disjoint. */
  private readonly ranges: readonly IpRange[];
  /** Free ordinals (see toOrdinal); an ordinal not in here is in use. */
  private readonly free = new IntervalSet();
  /** The number of usable addresses. */
  readonly total: bigint;
  /**
   * The number of addresses in use: a plain number (it counts allocations, never near 2^53),
   * so taking an address allocates no BigInt.
   */
  private taken = 0;

  constructor(
    readonly family: IpFamily,
    ranges: readonly IpRange[],
    /** Skip IPv4 addresses ending in .0 or .255. */
    private readonly avoidBuggy: boolean,
  ) {
    this.ranges = [...ranges].sort((a, b) => (a.first < b.first ? -1 : 1));
    let total = 0n;
    for (const r of this.ranges) {
      const first = this.toOrdinal(r.first);
      const last = this.toOrdinal(r.last + 1n) - 1n;
      this.free.addRange(first, last);
      if (last >= first) total += last - first + 1n;
    }
    this.total = total;
  }

  /** The number of addresses in use. */
  get inUse(): bigint {
    return BigInt(this.taken);
  }

  /** Whether the value lies in one of the pool's ranges (usable or not). */
  covers(value: bigint): boolean {
    return this.rangeOf(value) !== undefined;
  }

  /** Whether the value may be handed out by this pool (covered, and not skipped as buggy). */
  usable(value: bigint): boolean {
    return this.covers(value) && !this.skips(value);
  }

  /** Whether the value is usable and free. */
  isFree(value: bigint): boolean {
    return this.usable(value) && this.free.has(this.toOrdinal(value));
  }

  /** The lowest free address, if any. */
  lowestFree(): bigint | undefined {
    const ordinal = this.free.lowest();
    return ordinal === undefined ? undefined : this.fromOrdinal(ordinal);
  }

  /** Marks a usable address as in use; false when it is not usable or not free. */
  take(value: bigint): boolean {
    if (!this.usable(value) || !this.free.delete(this.toOrdinal(value))) return false;
    this.taken++;
    return true;
  }

  /** Returns an address taken before; throws (a bug) when it was not. */
  give(value: bigint): void {
    if (!this.usable(value)) throw new Error(`address space: ${value} is not usable here`);
    this.free.add(this.toOrdinal(value));
    this.taken--;
  }

  private skips(value: bigint): boolean {
    return this.avoidBuggy && this.family === 4 && isBuggyIpv4(value);
  }

  private rangeOf(value: bigint): IpRange | undefined {
    let lo = 0;
    let hi = this.ranges.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const r = this.ranges[mid];
      if (r === undefined) return undefined;
      if (value < r.first) hi = mid - 1;
      else if (value > r.last) lo = mid + 1;
      else return r;
    }
    return undefined;
  }

  /** The ordinal of an address: the value itself, or its rank among usable ones when skipping. */
  private toOrdinal(value: bigint): bigint {
    return this.avoidBuggy && this.family === 4 ? ceilOrdinal(value) : value;
  }

  private fromOrdinal(ordinal: bigint): bigint {
    if (!(this.avoidBuggy && this.family === 4)) return ordinal;
    return (ordinal / perBlock) * 256n + (ordinal % perBlock) + 1n;
  }
}
