import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { defaultRouteDevices4, defaultRouteDevices6, parseIfInet6, type Ipv4Entry } from '../../../src/layer2/kernel-tables.js';
import { createKernelInterfaceSource } from '../../../src/sys/net-interfaces.js';

// Lines in the kernel's own formats, copied from a bookworm host and netns tests.
const ifInet6 = [
  'fd000000000000000000000000000002 03 40 00 80     eth0',
  'fe800000000000000000000000000003 03 40 20 c0     eth0', // tentative (0x40): kept
  'fd000000000000000000000000000099 03 40 00 88     eth0', // DAD failed (0x08): left out
  '00000000000000000000000000000001 01 80 10 80       lo',
  'garbage',
].join('\n');
const route4 = [
  'Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT',
  'eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0',
  'eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0',
  'eth2\t00000000\t00000000\t0201\t0\t0\t0\t00000000\t0\t0\t0', // reject route: not a default
].join('\n');
const route6 = [
  'fd000000000000000000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000001 00000000 00000001     eth0',
  '00000000000000000000000000000000 00 00000000000000000000000000000000 00 fd000000000000000000000000000001 00000400 00000002 00000000 00000003     eth0',
  '00000000000000000000000000000000 00 00000000000000000000000000000000 00 00000000000000000000000000000000 ffffffff 00000001 00000000 00200200       lo',
].join('\n');

describe('kernel table parsers', () => {
  it('reads /proc/net/if_inet6: prefixes per interface, DAD-failed left out', () => {
    const got = parseIfInet6(ifInet6);
    expect([...got.keys()]).toEqual(['eth0', 'lo']);
    expect(got.get('eth0')?.map((p) => [Buffer.from(p.bytes).toString('hex'), p.length])).toEqual([
      ['fd000000000000000000000000000002', 64],
      ['fe800000000000000000000000000003', 64],
    ]);
  });
  it('reads default routes from /proc/net/route and /proc/net/ipv6_route', () => {
    expect([...defaultRouteDevices4(route4)]).toEqual(['eth0']);
    expect([...defaultRouteDevices6(route6)]).toEqual(['eth0']);
  });
});

interface FakeLink {
  readonly name: string;
  readonly index: number;
  readonly type?: number;
  readonly address?: string;
  readonly flags: string;
  readonly carrier?: string;
  readonly master?: string;
  readonly devtype?: string;
}

describe('createKernelInterfaceSource over a fake /sys and /proc', () => {
  let root = '';
  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'ironlb-sys-'));
  });
  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  async function tree(links: readonly FakeLink[], devNames = links.map((l) => l.name)): Promise<void> {
    const net = join(root, 'sys/class/net');
    await mkdir(join(root, 'proc/net'), { recursive: true });
    for (const l of links) {
      const dir = join(net, l.name);
      await mkdir(dir, { recursive: true });
      await writeFile(join(dir, 'ifindex'), `${l.index}\n`);
      await writeFile(join(dir, 'type'), `${l.type ?? 1}\n`);
      await writeFile(join(dir, 'address'), `${l.address ?? '00:00:00:00:00:00'}\n`);
      await writeFile(join(dir, 'flags'), `${l.flags}\n`);
      if (l.carrier !== undefined) await writeFile(join(dir, 'carrier'), `${l.carrier}\n`);
      if (l.master !== undefined) await symlink(`../../../devices/virtual/net/${l.master}`, join(dir, 'master'));
      await writeFile(join(dir, 'uevent'), `${l.devtype === undefined ? '' : `DEVTYPE=${l.devtype}\n`}INTERFACE=${l.name}\nIFINDEX=${l.index}\n`);
    }
    const dev = ['Inter-|   Receive', ' face |bytes    packets', ...devNames.map((n) => `${n.padStart(6)}: 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0`)].join('\n');
    await writeFile(join(root, 'proc/net/dev'), `${dev}\n`);
    await writeFile(join(root, 'proc/net/if_inet6'), ifInet6);
    await writeFile(join(root, 'proc/net/route'), route4);
    await writeFile(join(root, 'proc/net/ipv6_route'), route6);
  }

  const ipv4: readonly Ipv4Entry[] = [
    { name: 'eth0', address: '192.0.2.10', length: 24 },
    { name: 'eth0:vip', address: '198.51.100.1', length: 28 },
    { name: 'lo', address: '127.0.0.1', length: 8 },
  ];
  const source = () => createKernelInterfaceSource({ sysRoot: join(root, 'sys'), procRoot: join(root, 'proc'), ipv4: () => ipv4 });

  it('reads index, MAC, flags, carrier, masters, prefixes and default routes', async () => {
    await tree([
      { name: 'lo', index: 1, type: 772, flags: '0x9', carrier: '1' },
      { name: 'eth0', index: 3, address: '02:00:00:00:00:03', flags: '0x1003', carrier: '1' },
      { name: 'eth1', index: 4, address: '02:00:00:00:00:04', flags: '0x1002' }, // admin down: no carrier file
      { name: 'eth2', index: 5, address: '02:00:00:00:00:05', flags: '0x1083', carrier: '1' }, // NOARP
      { name: 'eth3', index: 6, address: '02:00:00:00:00:06', flags: '0x1803', carrier: '1', master: 'bond0' },
      { name: 'eth4', index: 7, address: '02:00:00:00:00:07', flags: '0x1003', carrier: '1', master: 'vrf0' },
      { name: 'eth5', index: 8, address: '02:00:00:00:00:08', flags: '0x1003', carrier: '0' }, // up, no carrier
      { name: 'bond0', index: 9, address: '02:00:00:00:00:06', flags: '0x1403', carrier: '1', devtype: 'bond' },
      { name: 'vrf0', index: 10, address: '02:00:00:00:00:0a', flags: '0x1c1', carrier: '1', devtype: 'vrf' },
    ]);
    const list = await source().list();
    expect(list.map((i) => [i.name, i.index, i.mac, i.up, i.noArp, i.loopback, i.member, i.defaultRoute4, i.defaultRoute6])).toEqual([
      ['lo', 1, undefined, true, false, true, false, false, false],
      ['eth0', 3, '02:00:00:00:00:03', true, false, false, false, true, true],
      ['eth1', 4, '02:00:00:00:00:04', false, false, false, false, false, false],
      ['eth2', 5, '02:00:00:00:00:05', true, true, false, false, false, false],
      ['eth3', 6, '02:00:00:00:00:06', true, false, false, true, false, false],
      ['eth4', 7, '02:00:00:00:00:07', true, false, false, false, false, false],
      ['eth5', 8, '02:00:00:00:00:08', false, false, false, false, false, false],
      ['bond0', 9, '02:00:00:00:00:06', true, false, false, false, false, false],
      ['vrf0', 10, '02:00:00:00:00:0a', true, true, false, false, false, false],
    ]);
    expect(list[1]?.prefixes.map((p) => [p.family, p.length])).toEqual([[4, 24], [4, 28], [6, 64], [6, 64]]);
  });

  it('fails with a clear error when /sys shows another network namespace', async () => {
    await tree([{ name: 'lo', index: 1, type: 772, flags: '0x9', carrier: '1' }], ['lo', 'veth-node1']);
    const e = await source().list().then(() => undefined, (x: unknown) => x);
    expect(e).toMatchObject({ code: 'ERR_INTERFACES' });
    expect(String(e)).toMatch(/lacks veth-node1: sysfs is mounted from another network namespace/);
  });

  it('fails with ERR_INTERFACES when /proc/net is unreadable', async () => {
    await expect(source().list()).rejects.toMatchObject({ code: 'ERR_INTERFACES' });
  });
});
