import { Address4, Address6 } from 'ip-address';
import { err, ok, type Result } from '../shared/result.js';

/** An address family: 4 or 6. */
export type IpFamily = 4 | 6;

/**
 * An IP address: its family and its value as an unsigned integer (32 or 128 bits).
 * The one IP type of ironlb; build it with {@link parseIp} or {@link ipFromValue}.
 */
export interface IpAddr {
  readonly family: IpFamily;
  readonly value: bigint;
}

/** The number of bits in an address of `family`. */
export function familyBits(family: IpFamily): 32 | 128 {
  return family === 4 ? 32 : 128;
}

/** The largest address value of `family` (all ones). */
export function maxValue(family: IpFamily): bigint {
  return (1n << BigInt(familyBits(family))) - 1n;
}

/** The Kubernetes name of a family, as in `spec.ipFamilies`. */
export function familyName(family: IpFamily): 'IPv4' | 'IPv6' {
  return family === 4 ? 'IPv4' : 'IPv6';
}

/** Builds an address from a value; throws (a bug) when the value does not fit the family. */
export function ipFromValue(family: IpFamily, value: bigint): IpAddr {
  if (value < 0n || value > maxValue(family)) throw new RangeError(`${value} does not fit IPv${family}`);
  return { family, value };
}

// Plain IPv4 dotted quad or IPv6 text; prefixes, zones and brackets are not addresses.
const ipv6Chars = /^[0-9a-fA-F:.]+$/;

/**
 * Parses an IPv4 (dotted quad, no leading zeros) or IPv6 address (any RFC 4291 text form,
 * without zone or prefix). The error is a short reason, without the input.
 */
export function parseIp(text: string): Result<IpAddr, string> {
  if (text.includes(':')) {
    if (!ipv6Chars.test(text) || !Address6.isValid(text)) return err('not a valid IPv6 address');
    return ok({ family: 6, value: new Address6(text).bigInt() });
  }
  if (!/^[0-9.]+$/.test(text) || !Address4.isValid(text)) return err('not a valid IPv4 address');
  return ok({ family: 4, value: new Address4(text).bigInt() });
}

function formatIpv4(value: bigint): string {
  const n = Number(value);
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

/** The eight 16-bit groups of an IPv6 value (four 32-bit BigInt steps: this runs on every allocation). */
function groupsOf(value: bigint): number[] {
  const groups: number[] = [];
  for (let shift = 96n; shift >= 0n; shift -= 32n) {
    const word = Number(BigInt.asUintN(32, value >> shift));
    groups.push(word >>> 16, word & 0xffff);
  }
  return groups;
}

/** The start and length of the longest run (length >= 2) of zero groups, leftmost on ties (RFC 5952 4.2); start -1 when none. */
function longestZeroRun(groups: readonly number[]): { start: number; length: number } {
  let best = { start: -1, length: 1 };
  let start = -1;
  for (let i = 0; i <= groups.length; i++) {
    if (i < groups.length && groups[i] === 0) {
      if (start < 0) start = i;
      continue;
    }
    if (start >= 0 && i - start > best.length) best = { start, length: i - start };
    start = -1;
  }
  return best;
}

/** Groups [from, to) in lowercase hex without leading zeros, colon-separated. */
function joinHex(groups: readonly number[], from: number, to: number): string {
  let out = '';
  for (let i = from; i < to; i++) out += `${i > from ? ':' : ''}${(groups[i] ?? 0).toString(16)}`;
  return out;
}

function formatIpv6(value: bigint): string {
  // IPv4-mapped addresses keep the dotted quad (RFC 5952 section 5).
  if (value >> 32n === 0xffffn) return `::ffff:${formatIpv4(value & 0xffffffffn)}`;
  const groups = groupsOf(value);
  const run = longestZeroRun(groups);
  if (run.start < 0) return joinHex(groups, 0, 8);
  return `${joinHex(groups, 0, run.start)}::${joinHex(groups, run.start + run.length, 8)}`;
}

/** Canonical text: IPv4 dotted quad, IPv6 in RFC 5952 form (compressed, lowercase). */
export function formatIp(ip: IpAddr): string {
  return ip.family === 4 ? formatIpv4(ip.value) : formatIpv6(ip.value);
}

/** Whether two addresses are the same. */
export function ipEquals(a: IpAddr, b: IpAddr): boolean {
  return a.family === b.family && a.value === b.value;
}

/** Orders addresses: IPv4 before IPv6, then by value. */
export function compareIp(a: IpAddr, b: IpAddr): number {
  if (a.family !== b.family) return a.family - b.family;
  return a.value < b.value ? -1 : a.value > b.value ? 1 : 0;
}
