import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { promisify } from 'node:util';
import * as k8s from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatSandboxStatus, readSandboxStatus } from '../../src/sandbox/sandbox-status.js';
import { inNetns, macOf } from '../helpers/lan-netns.js';
import { canRunRootTests } from '../helpers/root.js';
import { startSpeakerCluster, uniquePlan, waitUntil, type SpeakerCluster } from './speaker-cluster.js';

const run = promisify(execFile);

/**
 * Election by reach (docs/election.md): node-1 and node-2 sit on the LAN's bridge (subnet A),
 * node-3 on a second bridge with subnet B, reaching the API server through the host. Service IPs
 * of A never go to node-3, those of B only to node-3, and an IP of a subnet no node has (C) is
 * still announced under the fallback, with a Warning Event.
 */
describe.skipIf(!canRunRootTests('speaker reach'))('election by reach: a node on another subnet', () => {
  const plan = uniquePlan('irc', 3);
  const [o1, o2, o3] = plan.v4Net.split('.').map(Number) as [number, number, number];
  const netA = plan.v4Net;
  const netB = `${o1}.${o2}.${o3 + 1}`;
  const netC = `${o1}.${o2}.${o3 + 2}`;
  // the second LAN: its bridge's namespace, a client on it, and the host's end (the way node-3 reaches the API server)
  const lan2 = `${plan.prefix}-lan2`;
  const client2 = `${plan.prefix}-cl2`;
  const hostLink2 = `${plan.prefix}-h2`;
  let c: SpeakerCluster;
  let node3Mac = '';

  const ip = async (...args: string[]): Promise<void> => {
    await run('ip', args);
  };

  const removeLan2 = async (): Promise<void> => {
    for (const ns of [lan2, client2]) await ip('netns', 'del', ns).catch(() => undefined);
    await ip('link', 'del', hostLink2).catch(() => undefined);
  };

  /** node-3 leaves bridge A for bridge B (subnet B, default route via the host at B.1). */
  const buildLan2 = async (): Promise<void> => {
    const node3 = c.lan.nodes.find((n) => n.name === 'node-3')!;
    await ip('netns', 'add', lan2);
    await ip('-n', lan2, 'link', 'set', 'lo', 'up');
    await ip('-n', lan2, 'link', 'add', 'br0', 'type', 'bridge', 'stp_state', '0', 'forward_delay', '0');
    await ip('-n', lan2, 'link', 'set', 'br0', 'up');
    await ip('link', 'add', hostLink2, 'type', 'veth', 'peer', 'name', 'host', 'netns', lan2);
    await ip('-n', lan2, 'link', 'set', 'host', 'master', 'br0', 'up');
    await ip('addr', 'add', `${netB}.1/24`, 'dev', hostLink2);
    await ip('link', 'set', hostLink2, 'up');
    // Deleting node-3's end of its veth removes the pair, and so its port on bridge A.
    await ip('-n', node3.netns, 'link', 'del', c.lan.lanInterface);
    await ip('-n', lan2, 'link', 'add', 'p3', 'type', 'veth', 'peer', 'name', c.lan.lanInterface, 'netns', node3.netns);
    await ip('-n', lan2, 'link', 'set', 'p3', 'master', 'br0', 'up');
    await ip('-n', node3.netns, 'addr', 'add', `${netB}.13/24`, 'dev', c.lan.lanInterface);
    await ip('-n', node3.netns, 'link', 'set', c.lan.lanInterface, 'up');
    await ip('-n', node3.netns, 'route', 'add', 'default', 'via', `${netB}.1`);
    await ip('netns', 'add', client2);
    await ip('-n', lan2, 'link', 'add', 'p0', 'type', 'veth', 'peer', 'name', c.lan.lanInterface, 'netns', client2);
    await ip('-n', lan2, 'link', 'set', 'p0', 'master', 'br0', 'up');
    await ip('-n', client2, 'addr', 'add', `${netB}.100/24`, 'dev', c.lan.lanInterface);
    await ip('-n', client2, 'link', 'set', c.lan.lanInterface, 'up');
    node3Mac = await macOf(node3.netns, c.lan.lanInterface);
  };

  /** node -> value of its `ironlb.io/interfaces` annotation. */
  const interfaceRecords = async (): Promise<Map<string, string | undefined>> => {
    const leases = await c.kc.makeApiClient(k8s.CoordinationV1Api).listNamespacedLease({ namespace: 'ironlb-system' });
    return new Map(leases.items.filter((l) => l.metadata?.name?.startsWith('ironlb-speaker-') === true).map((l) => [l.metadata!.name!.slice('ironlb-speaker-'.length), l.metadata?.annotations?.['ironlb.io/interfaces']]));
  };

  /** The one node recorded as announcing `ip`, once exactly one is. */
  const recordedOwner = async (address: string): Promise<string> => {
    const owners = await waitUntil(`one recorded owner of ${address}`, async () => [...(await c.records())].filter(([, ips]) => ips.includes(address)).map(([n]) => n), (o) => o.length === 1);
    return owners[0]!;
  };

  const arpMacsFrom = async (netns: string, address: string): Promise<string[]> => {
    const r = await inNetns(netns, 'arping', ['-c', '2', '-w', '3', '-I', c.lan.lanInterface, address]);
    return [...new Set([...r.stdout.matchAll(/\[([0-9A-Fa-f:]{17})\]/g)].map((m) => (m[1] ?? '').toLowerCase()))].sort();
  };

  /** IPs of pool A that sha256 rendezvous over all three nodes would give to node-3: without reach, node-3 would win them. */
  const favouringNode3 = (count: number): string[] => {
    const rank = (node: string, address: string): string => createHash('sha256').update(`${node}#${address}`).digest('hex');
    const out: string[] = [];
    for (let host = 200; host <= 250 && out.length < count; host++) {
      const address = `${netA}.${host}`;
      const best = ['node-1', 'node-2', 'node-3'].sort((a, b) => (rank(a, address) < rank(b, address) ? -1 : 1))[0];
      if (best === 'node-3') out.push(address);
    }
    return out;
  };

  beforeAll(async () => {
    await removeLan2();
    c = await startSpeakerCluster(plan);
    await buildLan2();
    const pools = [['a', netA], ['b', netB], ['c', netC]].map(([name, net]) => `- name: ${name}\n  protocol: layer2\n  addresses:\n  - ${net}.200-${net}.250\n`).join('');
    await c.setConfig(`address-pools:\n${pools}`);
    for (const n of c.lan.nodes) await c.startSpeaker(n.name);
  }, 60_000);

  afterAll(async () => {
    await (c as SpeakerCluster | undefined)?.close();
    await removeLan2();
  }, 30_000);

  it('each speaker publishes its interface, MAC and subnets on its Lease', async () => {
    const records = await waitUntil('three interface records', interfaceRecords, (r) => [...r.values()].filter((v) => v !== undefined).length === 3);
    // (the nodes' pod bridges, cni0, are announceable too and listed beside eth0)
    expect(records.get('node-1')?.split(' ')).toContain(`eth0=${c.macs.get('node-1')};${netA}.0/24,${plan.v6Net}/64`);
    expect(records.get('node-3')?.split(' ')).toContain(`eth0=${node3Mac};${netB}.0/24`);
    expect(records.get('node-3')).not.toContain(`${netA}.0/24`);
  }, 30_000);

  it('node-3 never wins the IPs of subnet A, even those the hash gives it', async () => {
    const ips = favouringNode3(3);
    expect(ips).toHaveLength(3);
    for (const [i, address] of ips.entries()) await c.createService(`a${i}`, address, ['node-1', 'node-2', 'node-3']);
    for (const address of ips) {
      const owner = await recordedOwner(address);
      expect(owner).not.toBe('node-3');
      expect(await arpMacsFrom(c.lan.client.netns, address)).toEqual([c.macs.get(owner)]);
    }
    // and it stays so (no late grab once everything has settled)
    await new Promise((r) => setTimeout(r, 2000));
    const records = await c.records();
    expect(records.get('node-3') ?? []).toEqual([]);
    expect(c.speakers.get('node-1')!.output() + c.speakers.get('node-2')!.output()).not.toContain('"event":"noInterfaceFallback"');
  }, 60_000);

  it('node-3 announces the pool of its own subnet, answering on bridge B', async () => {
    const address = `${netB}.200`;
    await c.createService('b0', address, ['node-1', 'node-2', 'node-3']);
    expect(await recordedOwner(address)).toBe('node-3');
    const macs = await waitUntil(`node-3 answering ${address} on bridge B`, () => arpMacsFrom(client2, address), (m) => m.length > 0);
    expect(macs).toEqual([node3Mac]);
  }, 40_000);

  it('an IP of a subnet no node has is still announced (the fallback), with a Warning Event', async () => {
    const address = `${netC}.200`;
    await c.createService('c0', address, ['node-1', 'node-2', 'node-3']);
    const owner = await recordedOwner(address);
    const core = c.kc.makeApiClient(k8s.CoreV1Api);
    const events = await waitUntil(
      'a noInterfaceFallback Event',
      async () => (await core.listNamespacedEvent({ namespace: 'demo' })).items.filter((e) => e.reason === 'noInterfaceFallback' && e.involvedObject.name === 'c0'),
      (e) => e.length > 0,
    );
    expect(events.map((e) => [e.type, e.message])).toEqual([['Warning', `no node has an interface whose prefix contains ${address}; announcing it from node ${owner} on its default-route interface, where clients may not reach it`]]);
    expect(c.speakers.get(owner)!.output()).toContain('"event":"noInterfaceFallback"');
  }, 40_000);

  it('sandbox status shows the published interfaces, the nodes out for noInterface, and the fallback', async () => {
    const status = await readSandboxStatus(c.kc, Date.now());
    const service = (name: string): unknown => status.services.find((s) => s.key === `demo/${name}`);
    expect(service('a0')).toMatchObject({ noInterface: ['node-3'], interfaceFallback: false });
    expect(service('b0')).toMatchObject({ owners: ['node-3'], noInterface: ['node-1', 'node-2'], interfaceFallback: false });
    expect(service('c0')).toMatchObject({ noInterface: [], interfaceFallback: true });
    const text = formatSandboxStatus(status);
    // node-3 announces B.200, and C.200 too when the fallback's hash picked it
    expect(text).toMatch(new RegExp(`node-3 +alive +- +\\S*${netB.replace(/\./g, '\\.')}\\.200\\S* +.*eth0 ${netB.replace(/\./g, '\\.')}\\.0/24\n`));
    expect(text).toMatch(/demo\/c0 +\S+ +\S+ +fallback\n/);
    expect(text).toMatch(/demo\/b0 +\S+ +node-3 +node-1,node-2\n/);
  }, 20_000);
});
