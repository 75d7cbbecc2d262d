import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { AppError, describeError } from '../shared/errors.js';
import type { InterfacePrefix, NetInterface } from '../layer2/interfaces.js';
import type { InterfaceSource } from '../layer2/announcer.js';
import { parseIpv4, parseIpv6 } from '../layer2/packet/address.js';

const run = promisify(execFile);

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function strings(v: unknown): readonly string[] {
  return Array.isArray(v) ? v.filter((s): s is string => typeof s === 'string') : [];
}

function toPrefix(raw: unknown): InterfacePrefix | undefined {
  if (!isRecord(raw) || typeof raw.local !== 'string' || typeof raw.prefixlen !== 'number') return undefined;
  if (raw.family === 'inet') {
    const bytes = parseIpv4(raw.local);
    return bytes === undefined ? undefined : { family: 4, bytes, length: raw.prefixlen };
  }
  const bytes = raw.family === 'inet6' ? parseIpv6(raw.local) : undefined;
  return bytes === undefined ? undefined : { family: 6, bytes, length: raw.prefixlen };
}

/** A bond or bridge member: the master answers for the segment, not the member. */
function isMember(raw: Record<string, unknown>): boolean {
  const info = raw.linkinfo;
  const slaveKind = isRecord(info) ? info.info_slave_kind : undefined;
  return slaveKind === 'bond' || slaveKind === 'bridge' || (typeof raw.master === 'string' && slaveKind === undefined);
}

function defaultDevices(raw: unknown): ReadonlySet<string> {
  const devs = Array.isArray(raw) ? raw.map((r) => (isRecord(r) && typeof r.dev === 'string' ? r.dev : '')) : [];
  return new Set(devs.filter((d) => d !== ''));
}

/**
 * Parses `ip -j -d addr show` and `ip -j route show default` (v4, v6) output into
 * NetInterfaces. Entries it cannot read are skipped, never guessed.
 */
export function parseIpJson(addrs: unknown, routes4: unknown, routes6: unknown): readonly NetInterface[] {
  if (!Array.isArray(addrs)) return [];
  const d4 = defaultDevices(routes4);
  const d6 = defaultDevices(routes6);
  const out: NetInterface[] = [];
  for (const raw of addrs) {
    if (!isRecord(raw) || typeof raw.ifname !== 'string' || typeof raw.ifindex !== 'number') continue;
    const flags = strings(raw.flags);
    const ether = raw.link_type === 'ether' && typeof raw.address === 'string';
    out.push({
      name: raw.ifname,
      index: raw.ifindex,
      mac: ether ? (raw.address as string) : undefined,
      up: flags.includes('UP') && flags.includes('LOWER_UP'),
      noArp: flags.includes('NOARP'),
      loopback: flags.includes('LOOPBACK'),
      member: isMember(raw),
      prefixes: (Array.isArray(raw.addr_info) ? raw.addr_info : []).map(toPrefix).filter((p): p is InterfacePrefix => p !== undefined),
      defaultRoute4: d4.has(raw.ifname),
      defaultRoute6: d6.has(raw.ifname),
    });
  }
  return out;
}

async function ipJson(args: readonly string[]): Promise<unknown> {
  const { stdout } = await run('ip', ['-j', ...args], { maxBuffer: 16 * 1024 * 1024 });
  return stdout.trim() === '' ? [] : (JSON.parse(stdout) as unknown);
}

/**
 * Reads interfaces, addresses and default routes with iproute2's JSON output (polled by the
 * announcer; netlink would push changes, polling is simpler and cheap at a 2 s period).
 */
export function createIpInterfaceSource(): InterfaceSource {
  return {
    async list() {
      try {
        const [addrs, r4, r6] = await Promise.all([ipJson(['-d', 'addr', 'show']), ipJson(['route', 'show', 'default']), ipJson(['-6', 'route', 'show', 'default'])]);
        return parseIpJson(addrs, r4, r6);
      } catch (e: unknown) {
        throw new AppError('ERR_INTERFACES', `reading interfaces with ip -j failed: ${describeError(e)}`, { cause: e });
      }
    },
  };
}
