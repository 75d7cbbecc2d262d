/** A closed interval of integers, lo <= hi. */
interface Interval {
  lo: bigint;
  hi: bigint;
}

function assertOutside(lo: bigint, hi: bigint, prev: Interval | undefined, next: Interval | undefined): void {
  if ((prev !== undefined && prev.hi >= lo) || (next !== undefined && next.lo <= hi)) {
    throw new Error(`interval set: [${lo}, ${hi}] overlaps a member`);
  }
}

/**
 * A set of integers kept as sorted, disjoint, non-adjacent intervals. Operations cost
 * O(log k) to find plus O(k) to splice, k being the number of intervals (how fragmented the
 * set is), never the number of members: a /64 is one interval.
 */
export class IntervalSet {
  // Sorted by lo; for consecutive a, b: a.hi + 1 < b.lo (disjoint and never adjacent).
  private readonly intervals: Interval[] = [];

  /** The smallest member, if any. */
  lowest(): bigint | undefined {
    return this.intervals[0]?.lo;
  }

  /** Whether `n` is a member. */
  has(n: bigint): boolean {
    const i = this.indexAtOrBefore(n);
    const iv = this.intervals[i];
    return iv !== undefined && n <= iv.hi;
  }

  /** Adds [lo, hi]; throws (a bug) when any of it is already a member. */
  addRange(lo: bigint, hi: bigint): void {
    if (lo > hi) return;
    const i = this.indexAtOrBefore(lo);
    const prev = this.intervals[i];
    const next = this.intervals[i + 1];
    assertOutside(lo, hi, prev, next);
    const joinPrev = prev !== undefined && prev.hi + 1n === lo;
    const joinNext = next !== undefined && hi + 1n === next.lo;
    if (joinPrev && joinNext) {
      prev.hi = next.hi;
      this.intervals.splice(i + 1, 1);
    } else if (joinPrev) {
      prev.hi = hi;
    } else if (joinNext) {
      next.lo = lo;
    } else {
      this.intervals.splice(i + 1, 0, { lo, hi });
    }
  }

  /** Adds one member; throws (a bug) when it is already there. */
  add(n: bigint): void {
    this.addRange(n, n);
  }

  /** Removes `n`; returns false when it was not a member. */
  delete(n: bigint): boolean {
    const i = this.indexAtOrBefore(n);
    const iv = this.intervals[i];
    if (iv === undefined || n > iv.hi) return false;
    if (iv.lo === iv.hi) this.intervals.splice(i, 1);
    else if (n === iv.lo) iv.lo = n + 1n;
    else if (n === iv.hi) iv.hi = n - 1n;
    else {
      this.intervals.splice(i + 1, 0, { lo: n + 1n, hi: iv.hi });
      iv.hi = n - 1n;
    }
    return true;
  }

  /** The index of the last interval with lo <= n, or -1. */
  private indexAtOrBefore(n: bigint): number {
    let lo = 0;
    let hi = this.intervals.length - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const iv = this.intervals[mid];
      if (iv !== undefined && iv.lo <= n) {
        found = mid;
        lo = mid + 1;
      } else {
        hi = mid - 1;
      }
    }
    return found;
  }
}
