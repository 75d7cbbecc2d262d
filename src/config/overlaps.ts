import type { IpRange } from '../ip/ip-range.js';
import { quote } from './describe-value.js';
import type { ConfigIssue } from './config.js';

/** One parsed address entry and where it is in the config. */
export interface PlacedRange {
  readonly poolIndex: number;
  /** `address-pools[1] "b"` */
  readonly poolLabel: string;
  readonly entryIndex: number;
  readonly text: string;
  readonly range: IpRange;
}

function configOrder(a: PlacedRange, b: PlacedRange): number {
  return a.poolIndex - b.poolIndex || a.entryIndex - b.entryIndex;
}

function addressOrder(a: PlacedRange, b: PlacedRange): number {
  if (a.range.family !== b.range.family) return a.range.family - b.range.family;
  return a.range.first < b.range.first ? -1 : a.range.first > b.range.first ? 1 : configOrder(a, b);
}

function overlapIssue(x: PlacedRange, y: PlacedRange): ConfigIssue {
  const [earlier, later] = configOrder(x, y) < 0 ? [x, y] : [y, x];
  const where = earlier.poolIndex === later.poolIndex ? `addresses[${earlier.entryIndex}] of the same pool` : `${earlier.poolLabel} addresses[${earlier.entryIndex}]`;
  return {
    path: `${later.poolLabel}: addresses[${later.entryIndex}]`,
    message: `${quote(later.text)} overlaps ${quote(earlier.text)} (${where})`,
  };
}

/**
 * Finds entries that share addresses, within a pool or across pools, in O(n log n): sorted by
 * first address, an entry overlaps an earlier one exactly when it starts before the furthest
 * end seen so far. Each overlapping entry is reported once, naming the entry it hits.
 */
export function findOverlaps(entries: readonly PlacedRange[]): ConfigIssue[] {
  const sorted = [...entries].sort(addressOrder);
  const issues: { issue: ConfigIssue; at: PlacedRange }[] = [];
  let reach: PlacedRange | undefined; // the entry reaching furthest so far, in this family
  for (const entry of sorted) {
    if (reach !== undefined && reach.range.family === entry.range.family && entry.range.first <= reach.range.last) {
      issues.push({ issue: overlapIssue(reach, entry), at: configOrder(reach, entry) < 0 ? entry : reach });
    }
    if (reach === undefined || reach.range.family !== entry.range.family || entry.range.last > reach.range.last) reach = entry;
  }
  return issues.sort((a, b) => configOrder(a.at, b.at)).map((i) => i.issue);
}
