import { readFile, readdir, readlink } from 'node:fs/promises';
import { networkInterfaces } from 'node:os';
import { basename, join } from 'node:path';
import { AppError, describeError } from '../shared/errors.js';
import { toNetInterfaces, type Ipv4Entry, type LinkFacts } from '../layer2/kernel-tables.js';
import type { InterfaceSource } from '../layer2/announcer.js';

/** Where the kernel's tables are read from; tests point these at a fake tree. */
export interface KernelInterfaceDeps {
  /** sysfs mount, normally `/sys`. */
  readonly sysRoot: string;
  /** procfs mount, normally `/proc`. `PROC/net` is the reading process's own network namespace. */
  readonly procRoot: string;
  /** IPv4 addresses of this network namespace, normally from `os.networkInterfaces()`. */
  readonly ipv4: () => readonly Ipv4Entry[];
}

/** The IPv4 entries of `os.networkInterfaces()` (libuv lists only interfaces that are up and running). */
export function osIpv4Entries(): readonly Ipv4Entry[] {
  const out: Ipv4Entry[] = [];
  for (const [name, addrs] of Object.entries(networkInterfaces())) {
    for (const a of addrs ?? []) {
      const length = Number(a.cidr?.split('/')[1]);
      if (a.family === 'IPv4' && Number.isInteger(length)) out.push({ name, address: a.address, length });
    }
  }
  return out;
}

async function readText(path: string): Promise<string> {
  return (await readFile(path, 'utf8')).trim();
}

async function optional<T>(read: Promise<T>): Promise<T | undefined> {
  try {
    return await read;
  } catch {
    return undefined;
  }
}

/** `/proc/net/dev` lists the links of the reading process's network namespace, whatever /sys shows. */
function linkNames(procNetDev: string): readonly string[] {
  return procNetDev
    .split('\n')
    .slice(2)
    .map((l) => l.split(':')[0]?.trim() ?? '')
    .filter((n) => n !== '');
}

async function readLink(sysRoot: string, name: string): Promise<LinkFacts> {
  const dir = join(sysRoot, 'class/net', name);
  const [index, type, address, flags, carrier, masterPath] = await Promise.all([
    readText(join(dir, 'ifindex')),
    readText(join(dir, 'type')),
    readText(join(dir, 'address')),
    readText(join(dir, 'flags')),
    // Reading `carrier` fails with EINVAL while the link is administratively down.
    optional(readText(join(dir, 'carrier'))),
    optional(readlink(join(dir, 'master'))),
  ]);
  const master = masterPath === undefined ? undefined : basename(masterPath);
  const uevent = master === undefined ? undefined : await optional(readText(join(sysRoot, 'class/net', master, 'uevent')));
  const masterKind = /^DEVTYPE=(.*)$/m.exec(uevent ?? '')?.[1];
  return { name, index: Number(index), type: Number(type), address, flags: Number.parseInt(flags, 16), carrier: carrier === '1', master, masterKind };
}

/**
 * Reads interfaces, addresses, flags, masters and default routes from the kernel itself:
 * `/sys/class/net`, `/proc/net/{dev,if_inet6,route,ipv6_route}` and `os.networkInterfaces()`
 * for IPv4 (docs/speaker.md says why not `ip -j` or rtnetlink). Polled by the announcer.
 *
 * sysfs shows the network namespace it was mounted in, procfs the reader's: a link listed by
 * `/proc/net/dev` but missing under `/sys/class/net` means /sys belongs to another namespace,
 * and the read fails rather than describe the wrong interfaces.
 */
export function createKernelInterfaceSource(deps: KernelInterfaceDeps): InterfaceSource {
  const proc = (file: string): Promise<string> => readFile(join(deps.procRoot, 'net', file), 'utf8');
  return {
    async list() {
      try {
        const [dev, ifInet6, route4, route6] = await Promise.all([proc('dev'), optional(proc('if_inet6')), proc('route'), optional(proc('ipv6_route'))]);
        const names = linkNames(dev);
        const present = new Set(await readdir(join(deps.sysRoot, 'class/net')));
        const missing = names.filter((n) => !present.has(n));
        if (missing.length > 0) {
          throw new Error(`${join(deps.sysRoot, 'class/net')} lacks ${missing.join(', ')}: sysfs is mounted from another network namespace`);
        }
        const links = await Promise.all(names.map(async (n) => readLink(deps.sysRoot, n)));
        // No if_inet6 / ipv6_route: IPv6 is disabled in this kernel (ipv6.disable=1).
        return toNetInterfaces({ links, ipv4: deps.ipv4(), ifInet6: ifInet6 ?? '', route4, route6: route6 ?? '' });
      } catch (e: unknown) {
        throw new AppError('ERR_INTERFACES', `reading network interfaces from the kernel failed: ${describeError(e)}`, { cause: e });
      }
    },
  };
}

/** The kernel interface source on this machine's /sys and /proc. */
export function createSystemInterfaceSource(): InterfaceSource {
  return createKernelInterfaceSource({ sysRoot: '/sys', procRoot: '/proc', ipv4: osIpv4Entries });
}
