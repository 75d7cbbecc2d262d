import { u16, u8 } from './bytes.js';
import { formatIp, parseIp as parseIpAddr, type IpAddr } from '../../ip/ip-addr.js';

/**
 * Byte forms of the addresses frames carry: MAC, IPv4, IPv6. Text goes through src/ip (the one
 * parser and formatter of addresses); the hot-path helpers here only read bytes.
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

/** Big-endian bytes of an address (4 or 16). */
function toBytes(ip: IpAddr): Uint8Array {
  const out = new Uint8Array(ip.family === 4 ? 4 : 16);
  let v = ip.value;
  for (let i = out.length - 1; i >= 0; i--) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return out;
}

/** Parses dotted-quad IPv4 text into 4 bytes (src/ip's parser); undefined when malformed. */
export function parseIpv4(text: string): Uint8Array | undefined {
  const r = parseIpAddr(text);
  return r.ok && r.value.family === 4 ? toBytes(r.value) : undefined;
}

/** Formats 4 bytes at `offset` as dotted quad. */
export function formatIpv4(bytes: Uint8Array, offset = 0): string {
  return `${u8(bytes, offset)}.${u8(bytes, offset + 1)}.${u8(bytes, offset + 2)}.${u8(bytes, offset + 3)}`;
}

/** The IPv4 address at `offset` as an unsigned 32-bit number: the owned-table key. */
export function ipv4Key(bytes: Uint8Array, offset = 0): number {
  return ((u16(bytes, offset) << 16) | u16(bytes, offset + 2)) >>> 0;
}

/** Parses IPv6 text into 16 bytes (src/ip's parser); undefined when malformed. */
export function parseIpv6(text: string): Uint8Array | undefined {
  const r = parseIpAddr(text);
  return r.ok && r.value.family === 6 ? toBytes(r.value) : undefined;
}

/** Formats 16 bytes at `offset` as RFC 5952 text (src/ip's formatter). */
export function formatIpv6(bytes: Uint8Array, offset = 0): string {
  let value = 0n;
  for (let i = 0; i < 16; i++) value = (value << 8n) | BigInt(u8(bytes, offset + i));
  return formatIp({ family: 6, value });
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
