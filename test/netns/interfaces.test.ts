import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nsExec, sh } from '../helpers/netns.js';
import { canRunRootTests } from '../helpers/root.js';

interface Seen {
  readonly name: string;
  readonly index: number;
  readonly mac: string | null;
  readonly up: boolean;
  readonly noArp: boolean;
  readonly member: boolean;
  readonly prefixes: readonly string[];
  readonly defaultRoute4: boolean;
  readonly defaultRoute6: boolean;
}

// Runs the speaker's interface source inside the namespace (`ip netns exec` mounts that
// namespace's sysfs), printing what it sees as JSON.
const probe = `
import { createSystemInterfaceSource } from './src/sys/net-interfaces.ts';
const hex = (b) => Buffer.from(b).toString('hex');
const list = await createSystemInterfaceSource().list();
console.log(JSON.stringify(list.map((i) => ({ ...i, mac: i.mac ?? null, prefixes: i.prefixes.map((p) => hex(p.bytes) + '/' + p.length) }))));
`;

async function seen(ns: string): Promise<readonly Seen[]> {
  return JSON.parse(await nsExec(ns, [process.execPath, '--import', 'tsx', '--input-type=module', '-e', probe])) as Seen[];
}

describe.skipIf(!canRunRootTests('interfaces from the kernel (netns)'))('interfaces read from /sys and /proc in a real namespace', () => {
  const ns = `ironlb-ifs-${randomBytes(3).toString('hex')}`;

  beforeAll(async () => {
    const made = await sh('ip', ['netns', 'add', ns]);
    if (made.code !== 0) throw new Error(`ip netns add ${ns}: ${made.stderr}`);
    const steps: readonly (readonly string[])[] = [
      ['ip', 'link', 'set', 'lo', 'up'],
      ['ip', 'link', 'add', 'lan0', 'address', '02:00:5e:00:53:01', 'type', 'veth', 'peer', 'name', 'lan0p'],
      ['ip', 'link', 'set', 'lan0', 'up'],
      ['ip', 'link', 'set', 'lan0p', 'up'],
      ['ip', 'addr', 'add', '192.0.2.10/24', 'dev', 'lan0'],
      ['ip', 'addr', 'add', '198.51.100.1/28', 'dev', 'lan0', 'label', 'lan0:vip'],
      ['ip', 'addr', 'add', '2001:db8:1::10/64', 'dev', 'lan0', 'nodad'],
      ['ip', 'route', 'add', 'default', 'via', '192.0.2.1'],
      ['ip', '-6', 'route', 'add', 'default', 'via', '2001:db8:1::1'],
      // A bridge with a member: the member must not answer, the bridge may.
      ['ip', 'link', 'add', 'br0', 'type', 'bridge'],
      ['ip', 'link', 'add', 'port0', 'type', 'veth', 'peer', 'name', 'port0p'],
      ['ip', 'link', 'set', 'port0', 'master', 'br0'],
      ['ip', 'link', 'set', 'port0', 'up'],
      ['ip', 'link', 'set', 'port0p', 'up'],
      ['ip', 'link', 'set', 'br0', 'up'],
      // A NOARP link, and one administratively down.
      // (veth: this kernel has no dummy module.)
      ['ip', 'link', 'add', 'quiet0', 'type', 'veth', 'peer', 'name', 'quiet0p'],
      ['ip', 'link', 'set', 'quiet0p', 'up'],
      ['ip', 'link', 'set', 'quiet0', 'arp', 'off', 'up'],
      ['ip', 'link', 'add', 'down0', 'type', 'veth', 'peer', 'name', 'down0p'],
    ];
    for (const step of steps) await nsExec(ns, step);
  }, 30_000);

  afterAll(async () => {
    await sh('ip', ['netns', 'del', ns]);
  });

  it('agrees with the kernel on indexes, MACs, flags, members, prefixes and default routes', async () => {
    const list = await seen(ns);
    const byName = new Map(list.map((i) => [i.name, i]));
    // The oracle: iproute2 asked over rtnetlink in the same namespace.
    const links = JSON.parse(await nsExec(ns, ['ip', '-j', 'link', 'show'])) as { ifname: string; ifindex: number }[];
    expect(list.map((i) => [i.name, i.index]).sort()).toEqual(links.map((l) => [l.ifname, l.ifindex]).sort());
    expect(byName.get('lan0')).toMatchObject({
      mac: '02:00:5e:00:53:01',
      up: true,
      noArp: false,
      member: false,
      defaultRoute4: true,
      defaultRoute6: true,
    });
    expect(byName.get('lan0')?.prefixes).toEqual(expect.arrayContaining(['c000020a/24', 'c6336401/28', '20010db8000100000000000000000010/64']));
    expect(byName.get('port0')).toMatchObject({ member: true, up: true });
    expect(byName.get('br0')).toMatchObject({ member: false });
    expect(byName.get('quiet0')).toMatchObject({ noArp: true, up: true });
    expect(byName.get('down0')).toMatchObject({ up: false });
    expect(byName.get('lo')).toMatchObject({ mac: null, defaultRoute4: false });
  }, 30_000);
});
