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
  // join() makes one flat string; a template literal of 13+ characters is a tree of cons
  // strings, which an allocator that keeps the text of every IP in use holds on to.
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

// ::ffff:0.0.0.0/96, compared rather than shifted (a shift allocates a BigInt).
const ipv4MappedFirst = 0xffff00000000n;
const ipv4MappedLast = 0xffffffffffffn;

// IPv6 text is built from one 32-digit hex string by index arithmetic: it runs on every
// allocation, and per-group BigInt steps, Number#toString(16) (V8's generic radix path) or
// array joins cost up to twice as much.

/** Whether group `g` (0-7) of a 32-digit hex string is zero. */
function isZeroGroup(hex: string, g: number): boolean {
  const at = g * 4;
  return hex.charCodeAt(at) === 48 && hex.charCodeAt(at + 1) === 48 && hex.charCodeAt(at + 2) === 48 && hex.charCodeAt(at + 3) === 48; // '0'
}

/** Group `g` of a 32-digit hex string without leading zeros. */
function groupText(hex: string, g: number): string {
  let first = g * 4;
  while (first < g * 4 + 3 && hex.charCodeAt(first) === 48 /* '0' */) first++;
  return hex.slice(first, g * 4 + 4);
}

/** The start and length of the longest run (length >= 2) of zero groups, leftmost on ties (RFC 5952 4.2); start -1 when none. */
function longestZeroRun(hex: string): { start: number; length: number } {
  let best = { start: -1, length: 1 };
  let start = -1;
  for (let g = 0; g <= 8; g++) {
    if (g < 8 && isZeroGroup(hex, g)) {
      if (start < 0) start = g;
      continue;
    }
    if (start >= 0 && g - start > best.length) best = { start, length: g - start };
    start = -1;
  }
  return best;
}

function formatIpv6(value: bigint): string {
  // IPv4-mapped addresses keep the dotted quad (RFC 5952 section 5).
  if (value >= ipv4MappedFirst && value <= ipv4MappedLast) return `::ffff:${formatIpv4(value & 0xffffffffn)}`;
  const hex = value.toString(16).padStart(32, '0');
  const run = longestZeroRun(hex);
  let out = '';
  let afterGroup = false;
  for (let g = 0; g < 8; g++) {
    if (g === run.start) {
      out += '::';
      g += run.length - 1;
      afterGroup = false;
    } else {
      out += afterGroup ? `:${groupText(hex, g)}` : groupText(hex, g);
      afterGroup = true;
    }
  }
  return out;
}

/** Canonical text: IPv4 dotted quad, IPv6 in RFC 5952 form (compressed, lowercase). */
export function formatIp(ip: IpAddr): string {
  return ip.family === 4 ? formatIpv4(ip.value) : formatIpv6(ip.value);
}

/** {@link formatIp} of `text` (surrounding blanks ignored), or undefined when it is not an address. */
export function canonicalIpText(text: string): string | undefined {
  const ip = parseIp(text.trim());
  return ip.ok ? formatIp(ip.value) : undefined;
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
