import { err, ok, type Result } from '../shared/result.js';
import { cidrLast, makeCidr, type Cidr } from './cidr.js';
import { familyBits, formatIp, parseIp, type IpAddr, type IpFamily } from './ip-addr.js';

/** An inclusive range of addresses of one family, `first <= last`. */
export interface IpRange {
  readonly family: IpFamily;
  readonly first: bigint;
  readonly last: bigint;
}

/** Why a text is not a range. */
export type IpRangeError =
  | { readonly kind: 'invalid'; readonly reason: string }
  | { readonly kind: 'mixedFamilies' }
  | { readonly kind: 'reversed' };

/**
 * Parses `first-last` (spaces around the dash allowed), both plain addresses of one family,
 * first not after last.
 */
export function parseRange(text: string): Result<IpRange, IpRangeError> {
  const parts = text.split('-');
  if (parts.length !== 2) return err({ kind: 'invalid', reason: 'expected first-last' });
  const first = parseIp(parts[0]?.trim() ?? '');
  if (!first.ok) return err({ kind: 'invalid', reason: `start: ${first.error}` });
  const last = parseIp(parts[1]?.trim() ?? '');
  if (!last.ok) return err({ kind: 'invalid', reason: `end: ${last.error}` });
  if (first.value.family !== last.value.family) return err({ kind: 'mixedFamilies' });
  if (first.value.value > last.value.value) return err({ kind: 'reversed' });
  return ok({ family: first.value.family, first: first.value.value, last: last.value.value });
}

/** The range a CIDR covers. */
export function rangeOfCidr(cidr: Cidr): IpRange {
  return { family: cidr.family, first: cidr.base, last: cidrLast(cidr) };
}

/** The number of addresses in `range`. */
export function rangeSize(range: IpRange): bigint {
  return range.last - range.first + 1n;
}

/** Whether `ip` lies in `range`. */
export function rangeContains(range: IpRange, ip: IpAddr): boolean {
  return ip.family === range.family && ip.value >= range.first && ip.value <= range.last;
}

/** Whether two ranges share at least one address. */
export function rangesOverlap(a: IpRange, b: IpRange): boolean {
  return a.family === b.family && a.first <= b.last && b.first <= a.last;
}

/** Canonical text `first-last`. */
export function formatRange(range: IpRange): string {
  const first = formatIp({ family: range.family, value: range.first });
  const last = formatIp({ family: range.family, value: range.last });
  return `${first}-${last}`;
}

/** The number of trailing zero bits of `value`, at most `limit`. */
function trailingZeros(value: bigint, limit: number): number {
  let n = 0;
  while (n < limit && ((value >> BigInt(n)) & 1n) === 0n) n++;
  return n;
}

/** floor(log2(value)) for value >= 1. */
function log2Floor(value: bigint): number {
  return value.toString(2).length - 1;
}

/**
 * Summarises a range into the minimal list of CIDRs covering exactly it, in address order
 * (at most 2 x bits entries). 10.0.0.1-10.0.0.6 -> 10.0.0.1/32, .2/31, .4/31, .6/32.
 */
export function rangeToCidrs(range: IpRange): readonly Cidr[] {
  const bits = familyBits(range.family);
  const out: Cidr[] = [];
  let first = range.first;
  while (first <= range.last) {
    // The largest aligned block starting at `first` that does not pass `last`.
    const hostBits = Math.min(trailingZeros(first, bits), log2Floor(range.last - first + 1n));
    out.push(makeCidr(range.family, first, bits - hostBits));
    first += 1n << BigInt(hostBits);
  }
  return out;
}
