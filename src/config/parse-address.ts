import { parseCidr, formatCidr } from '../ip/cidr.js';
import { familyBits, formatIp, parseIp } from '../ip/ip-addr.js';
import { parseRange, rangeOfCidr, rangeToCidrs } from '../ip/ip-range.js';
import { err, ok, type Result } from '../shared/result.js';
import type { AddressEntry } from './config.js';
import { quote } from './describe-value.js';

function invalidEntry(text: string): string {
  const single = parseIp(text);
  if (single.ok) return `${quote(text)} is a single address, not a CIDR: write "${text}/${familyBits(single.value.family)}"`;
  return `${quote(text)} is not a valid CIDR or range`;
}

function parseCidrEntry(text: string): Result<AddressEntry, string> {
  const cidr = parseCidr(text);
  if (cidr.ok) return ok({ text, range: rangeOfCidr(cidr.value), cidrs: [cidr.value] });
  if (cidr.error.kind === 'invalid') return err(invalidEntry(text));
  // Host bits set: refuse rather than guess (see docs/ipam.md, "Host bits").
  const network = formatCidr(cidr.error.network);
  const single = `${formatIp(cidr.error.address)}/${familyBits(cidr.error.address.family)}`;
  return err(`${quote(text)} has host bits set: write "${network}" for the whole network or "${single}" for one address`);
}

function parseRangeEntry(text: string): Result<AddressEntry, string> {
  const range = parseRange(text);
  if (range.ok) return ok({ text, range: range.value, cidrs: rangeToCidrs(range.value) });
  switch (range.error.kind) {
    case 'invalid':
      return err(`${quote(text)} is not a valid CIDR or range`);
    case 'mixedFamilies':
      return err(`${quote(text)} mixes IPv4 and IPv6: a range must stay within one family`);
    case 'reversed':
      return err(`${quote(text)} is reversed: the first address is after the last`);
  }
}

/**
 * Parses one `addresses` entry: a CIDR (`10.0.0.0/24`) or a range (`10.0.0.10-10.0.0.20`,
 * spaces around the dash allowed), IPv4 or IPv6. The error is a message quoting the entry.
 */
export function parseAddressEntry(raw: string): Result<AddressEntry, string> {
  const text = raw.trim();
  return text.includes('-') ? parseRangeEntry(text) : parseCidrEntry(text);
}
