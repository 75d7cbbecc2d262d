import { u16, u8 } from './bytes.js';

/**
 * Byte forms of the addresses frames carry: MAC, IPv4, IPv6. Small local parsers so the packet
 * core stays dependency-free and allocation-light (the lead may later route these through src/ip).
 */

/** A 6-byte Ethernet address. */
export type MacBytes = Uint8Array;

/** Parses `aa:bb:cc:dd:ee:ff` (case-insensitive); undefined when it is not one. */
export function parseMac(text: string): MacBytes | undefined {
  const parts = text.trim().split(':');
  if (parts.length !== 6) return undefined;
  const out = new Uint8Array(6);
  for (let i = 0; i < 6; i++) {
    const part = parts[i] ?? '';
    if (!/^[0-9a-fA-F]{2}$/.test(part)) return undefined;
    out[i] = Number.parseInt(part, 16);
  }
  return out;
}

/** Formats 6 bytes at `offset` as `aa:bb:cc:dd:ee:ff`. */
export function formatMac(bytes: Uint8Array, offset = 0): string {
  const parts: string[] = [];
  for (let i = 0; i < 6; i++) parts.push(u8(bytes, offset + i).toString(16).padStart(2, '0'));
  return parts.join(':');
}

/** Parses dotted-quad IPv4 text into 4 bytes; undefined when malformed. */
export function parseIpv4(text: string): Uint8Array | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const part = parts[i] ?? '';
    if (!/^(0|[1-9][0-9]{0,2})$/.test(part)) return undefined;
    const n = Number(part);
    if (n > 255) return undefined;
    out[i] = n;
  }
  return out;
}

/** Formats 4 bytes at `offset` as dotted quad. */
export function formatIpv4(bytes: Uint8Array, offset = 0): string {
  return `${u8(bytes, offset)}.${u8(bytes, offset + 1)}.${u8(bytes, offset + 2)}.${u8(bytes, offset + 3)}`;
}

/** The IPv4 address at `offset` as an unsigned 32-bit number: the owned-table key. */
export function ipv4Key(bytes: Uint8Array, offset = 0): number {
  return ((u16(bytes, offset) << 16) | u16(bytes, offset + 2)) >>> 0;
}

function parseGroup(part: string, last: boolean): number[] | undefined {
  if (last && part.includes('.')) {
    const v4 = parseIpv4(part);
    return v4 === undefined ? undefined : [u16(v4, 0), u16(v4, 2)];
  }
  return /^[0-9a-fA-F]{1,4}$/.test(part) ? [Number.parseInt(part, 16)] : undefined;
}

function parseGroups(text: string): number[] | undefined {
  if (text === '') return [];
  const groups: number[] = [];
  const parts = text.split(':');
  for (const [i, part] of parts.entries()) {
    const parsed = parseGroup(part, i === parts.length - 1);
    if (parsed === undefined) return undefined;
    groups.push(...parsed);
  }
  return groups;
}

/** Parses IPv6 text (with `::` and an embedded dotted quad) into 16 bytes; no zone. */
export function parseIpv6(text: string): Uint8Array | undefined {
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const head = parseGroups(halves[0] ?? '');
  const tail = halves.length === 2 ? parseGroups(halves[1] ?? '') : [];
  if (head === undefined || tail === undefined) return undefined;
  const missing = 8 - head.length - tail.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) return undefined;
  const groups = [...head, ...new Array<number>(missing).fill(0), ...tail];
  const out = new Uint8Array(16);
  groups.forEach((g, i) => {
    out[2 * i] = g >> 8;
    out[2 * i + 1] = g & 0xff;
  });
  return out;
}

/** Formats 16 bytes at `offset` as RFC 5952 text (lower case, longest zero run as `::`). */
function longestZeroRun(groups: readonly number[]): { start: number; length: number } {
  let best = { start: -1, length: 0 };
  for (let i = 0; i < groups.length; ) {
    let j = i;
    while (j < groups.length && groups[j] === 0) j++;
    // RFC 5952 4.2.2: a single zero group is not shortened.
    if (j - i > best.length && j - i >= 2) best = { start: i, length: j - i };
    i = j === i ? i + 1 : j;
  }
  return best;
}

export function formatIpv6(bytes: Uint8Array, offset = 0): string {
  const groups: number[] = [];
  for (let i = 0; i < 8; i++) groups.push(u16(bytes, offset + 2 * i));
  const { start: bestStart, length: bestLen } = longestZeroRun(groups);
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}

/** The IPv6 address at `offset` as a 32-character hex string: the owned-table key. */
export function ipv6Key(bytes: Uint8Array, offset = 0): string {
  let key = '';
  for (let i = 0; i < 16; i++) key += u8(bytes, offset + i).toString(16).padStart(2, '0');
  return key;
}

/** An IP address as the layer2 core uses it: family, bytes, table key and canonical text. */
export type IpBytes =
  | { readonly family: 4; readonly bytes: Uint8Array; readonly key: number; readonly text: string }
  | { readonly family: 6; readonly bytes: Uint8Array; readonly key: string; readonly text: string };

/** Parses IPv4 or IPv6 text; undefined when it is neither. */
export function parseIp(text: string): IpBytes | undefined {
  const v4 = parseIpv4(text);
  if (v4 !== undefined) return { family: 4, bytes: v4, key: ipv4Key(v4), text: formatIpv4(v4) };
  const v6 = parseIpv6(text);
  if (v6 !== undefined) return { family: 6, bytes: v6, key: ipv6Key(v6), text: formatIpv6(v6) };
  return undefined;
}
