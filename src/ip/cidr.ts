import { err, ok, type Result } from '../shared/result.js';
import { familyBits, formatIp, parseIp, type IpAddr, type IpFamily } from './ip-addr.js';

/** A network: the first address (host bits zero) and the prefix length. */
export interface Cidr {
  readonly family: IpFamily;
  /** The network address; every bit past `prefix` is zero. */
  readonly base: bigint;
  readonly prefix: number;
}

/** Why a text is not a CIDR: not one at all, or an address with host bits set. */
export type CidrError =
  | { readonly kind: 'invalid'; readonly reason: string }
  | { readonly kind: 'hostBits'; readonly network: Cidr; readonly address: IpAddr };

// Decimal without leading zeros, so "/024" is not silently read as 24.
const prefixText = /^(0|[1-9][0-9]{0,2})$/;

/** The number of addresses in `cidr`. */
export function cidrSize(cidr: Cidr): bigint {
  return 1n << BigInt(familyBits(cidr.family) - cidr.prefix);
}

/** The last address value of `cidr`. */
export function cidrLast(cidr: Cidr): bigint {
  return cidr.base + cidrSize(cidr) - 1n;
}

/** Builds a Cidr; throws (a bug) for a prefix out of range or host bits set. */
export function makeCidr(family: IpFamily, base: bigint, prefix: number): Cidr {
  const bits = familyBits(family);
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > bits) throw new RangeError(`bad prefix /${prefix}`);
  const cidr = { family, base, prefix };
  if (base & (cidrSize(cidr) - 1n)) throw new RangeError(`host bits set in ${base}/${prefix}`);
  return cidr;
}

/**
 * Parses `address/prefix`. An address with host bits set (10.0.0.7/24) is refused with the
 * network it lies in, so the caller can suggest the fix: ironlb never guesses which was meant.
 */
export function parseCidr(text: string): Result<Cidr, CidrError> {
  const slash = text.indexOf('/');
  if (slash < 0) return err({ kind: 'invalid', reason: 'missing /prefix' });
  const address = parseIp(text.slice(0, slash));
  if (!address.ok) return err({ kind: 'invalid', reason: address.error });
  const prefixPart = text.slice(slash + 1);
  const bits = familyBits(address.value.family);
  const prefix = prefixText.test(prefixPart) ? Number(prefixPart) : NaN;
  if (!(prefix <= bits)) return err({ kind: 'invalid', reason: `prefix must be 0 to ${bits}` });
  const hostMask = (1n << BigInt(bits - prefix)) - 1n;
  const network = makeCidr(address.value.family, address.value.value & ~hostMask, prefix);
  if (address.value.value & hostMask) return err({ kind: 'hostBits', network, address: address.value });
  return ok(network);
}

/** Canonical text, e.g. `10.0.0.0/24`, `2001:db8::/64`. */
export function formatCidr(cidr: Cidr): string {
  return `${formatIp({ family: cidr.family, value: cidr.base })}/${cidr.prefix}`;
}

/** Whether `ip` lies in `cidr`. */
export function cidrContains(cidr: Cidr, ip: IpAddr): boolean {
  return ip.family === cidr.family && ip.value >= cidr.base && ip.value <= cidrLast(cidr);
}
