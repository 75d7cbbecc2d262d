import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { cidrContains, parseCidr } from '../ip/cidr.js';
import { formatIp, parseIp, type IpFamily } from '../ip/ip-addr.js';
import { AppError } from '../shared/errors.js';
import { err, ok, type Result } from '../shared/result.js';
import { lanLayout, type LanLayout, type LanPlan } from './lan.js';

const run = promisify(execFile);

/**
 * The sandbox's rogue host (docs/speaker.md "Try it in the sandbox"): addresses put on the client
 * namespace's LAN interface, so its kernel answers ARP and NDP for them as a printer or a
 * forgotten VM holding a pool address would. ironlb's speakers must find it (RFC 5227 probe,
 * RFC 4862 DAD) and leave the address alone.
 */

/** One address for the rogue, checked against the sandbox LAN. */
export interface RogueAddress {
  /** Canonical text. */
  readonly ip: string;
  readonly family: IpFamily;
  /** With the LAN's prefix length, as `ip addr` takes it. */
  readonly withPrefix: string;
}

/**
 * Parses the address argument of `ironlb sandbox rogue add|remove`: an IPv4 or IPv6 address in
 * the sandbox LAN's /24 or /64 (elsewhere nobody on the LAN would ask for it), and not the address
 * of a host the sandbox made (the API server's link, a node, the client). Pure.
 */
export function parseRogueAddress(arg: string, plan: LanPlan): Result<RogueAddress, string> {
  const parsed = parseIp(arg.trim());
  if (!parsed.ok) return err(`"${arg}" is not an IPv4 or IPv6 address`);
  const ip = parsed.value;
  const layout = lanLayout(plan);
  const lan = ip.family === 4 ? `${plan.v4Net}.0/${String(layout.v4PrefixLength)}` : `${plan.v6Net}/${String(layout.v6PrefixLength)}`;
  const cidr = parseCidr(lan);
  if (!cidr.ok || !cidrContains(cidr.value, ip)) return err(`${formatIp(ip)} is not on the sandbox LAN (${lan}): no host there would ask for it`);
  const text = formatIp(ip);
  const hosts = [{ name: 'the host link', ...layout.host }, ...layout.nodes, layout.client];
  const taken = hosts.find((h) => canonical(h.v4) === text || canonical(h.v6) === text);
  if (taken !== undefined) return err(`${text} is the sandbox's own address of ${taken.name}; choose a pool address (e.g. ${plan.v4Net}.200)`);
  const length = ip.family === 4 ? layout.v4PrefixLength : layout.v6PrefixLength;
  return ok({ ip: text, family: ip.family, withPrefix: `${text}/${String(length)}` });
}

function canonical(text: string): string {
  const parsed = parseIp(text);
  return parsed.ok ? formatIp(parsed.value) : text;
}

/** `ip -j addr show` of one interface, as far as it is read here. */
interface IpJsonLink {
  readonly addr_info?: readonly { readonly local?: string; readonly scope?: string }[];
}

/**
 * The rogue's addresses, from `ip -j addr show dev eth0` in the client namespace: every global
 * address but the client's own. Pure.
 */
export function rogueAddressesOf(ipJson: string, layout: LanLayout): readonly string[] {
  let links: unknown;
  try {
    links = JSON.parse(ipJson);
  } catch {
    return [];
  }
  if (!Array.isArray(links)) return [];
  const own = new Set([canonical(layout.client.v4), canonical(layout.client.v6)]);
  return (links as IpJsonLink[])
    .flatMap((l) => l.addr_info ?? [])
    .filter((a) => a.scope === 'global' && typeof a.local === 'string')
    .map((a) => canonical(a.local ?? ''))
    .filter((ip) => !own.has(ip));
}

/** What `ironlb sandbox rogue` does to the client namespace. */
export type RogueAction = 'add' | 'remove';

/**
 * Adds the address to, or removes it from, the client namespace's LAN interface. IPv6 addresses
 * skip DAD (`nodad`): the rogue holds the address at once, as a host that had it before ironlb
 * came would. Fails with ERR_SANDBOX_ROGUE and `ip`'s own words (e.g. the address is already
 * there, or is not).
 */
export async function setRogue(plan: LanPlan, action: RogueAction, address: RogueAddress): Promise<void> {
  const layout = lanLayout(plan);
  const args = ['netns', 'exec', layout.client.netns, 'ip', 'addr', action === 'add' ? 'add' : 'del', address.withPrefix, 'dev', layout.lanInterface];
  if (action === 'add' && address.family === 6) args.push('nodad');
  try {
    await run('ip', args, { timeout: 10_000 });
  } catch (e: unknown) {
    const stderr = (e as { stderr?: unknown }).stderr;
    const said = typeof stderr === 'string' ? stderr.trim() : '';
    const why = /File exists|already assigned/i.test(said) ? 'the client already holds it' : /Cannot assign|not found|No such/i.test(said) ? 'the client does not hold it' : said;
    throw new AppError('ERR_SANDBOX_ROGUE', `could not ${action} ${address.ip} ${action === 'add' ? 'to' : 'from'} ${layout.client.netns}/${layout.lanInterface}: ${why}`, { cause: e });
  }
}

/** The rogue's addresses now (see {@link rogueAddressesOf}). */
export async function listRogue(plan: LanPlan): Promise<readonly string[]> {
  const layout = lanLayout(plan);
  try {
    const { stdout } = await run('ip', ['netns', 'exec', layout.client.netns, 'ip', '-j', 'addr', 'show', 'dev', layout.lanInterface], { timeout: 10_000 });
    return rogueAddressesOf(stdout, layout);
  } catch (e: unknown) {
    throw new AppError('ERR_SANDBOX_ROGUE', `could not read the addresses of ${layout.client.netns}/${layout.lanInterface}`, { cause: e });
  }
}
