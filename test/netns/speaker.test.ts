import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliPath } from '../helpers/cli.js';
import { inNetns } from '../helpers/lan-netns.js';
import { canRunRootTests } from '../helpers/root.js';
import { startSpeakerCluster, uniquePlan, waitUntil, type SpeakerCluster } from './speaker-cluster.js';

const excludeLabel = 'node.kubernetes.io/exclude-from-external-load-balancers';

describe.skipIf(!canRunRootTests('speaker'))('ironlb speaker: three processes on one LAN', () => {
  const plan = uniquePlan('isp', 3);
  const ipCluster = `${plan.v4Net}.200`;
  const ipLocal = `${plan.v4Net}.201`;
  let c: SpeakerCluster;

  /** The one node recorded as announcing `ip`, once exactly one is. */
  const recordedOwner = async (ip: string, not?: string): Promise<string> => {
    const owners = await waitUntil(
      `one recorded owner of ${ip}${not === undefined ? '' : ` other than ${not}`}`,
      async () => [...(await c.records())].filter(([, ips]) => ips.includes(ip)).map(([n]) => n),
      (o) => o.length === 1 && o[0] !== not,
    );
    return owners[0]!;
  };

  /** Exactly one MAC answers ARP for `ip` from the client, and it is `node`'s. */
  const answersOnly = async (ip: string, node: string): Promise<void> => {
    const macs = await waitUntil(`${node} answering ${ip}`, () => c.arpMacs(ip, 1), (m) => m.length === 1 && m[0] === c.macs.get(node));
    expect(macs).toEqual([c.macs.get(node)]);
    // steady state: several probes, still one MAC
    expect(await c.arpMacs(ip, 3)).toEqual([c.macs.get(node)]);
  };

  beforeAll(async () => {
    // The lease mode's own suite (renewals once a second, the partition judged by the Lease's 3 s):
    // split, the default, has its crash, partition and API-cut cases in speaker-split.test.ts.
    c = await startSpeakerCluster(plan, ['--liveness', 'lease', '--log-level', 'debug', '--conflict-reprobe', '2']);
    for (const n of c.lan.nodes) await c.startSpeaker(n.name);
  }, 60_000);

  afterAll(async () => {
    await (c as SpeakerCluster | undefined)?.close();
  }, 30_000);

  it('the elected owner answers ARP for a Cluster Service, the others do not', async () => {
    await c.createService('web', ipCluster, ['node-1', 'node-2', 'node-3']);
    const owner = await recordedOwner(ipCluster);
    await answersOnly(ipCluster, owner);
    expect(c.speakers.get(owner)!.output()).toContain('"event":"announceStarted"');
  }, 40_000);

  it('a Local Service follows its endpoints', async () => {
    await c.createService('local', ipLocal, ['node-2'], 'Local');
    expect(await recordedOwner(ipLocal)).toBe('node-2');
    await answersOnly(ipLocal, 'node-2');
    await c.setEndpoints('local', ['node-3']);
    expect(await recordedOwner(ipLocal, 'node-2')).toBe('node-3');
    await answersOnly(ipLocal, 'node-3');
  }, 40_000);

  it('dual stack: a config change adds an IPv6 range live; both IPs of the Service go to one node, which answers NS', async () => {
    const v6 = `${plan.v6Net}202`;
    const v4 = `${plan.v4Net}.202`;
    await c.setConfig(`address-pools:\n- name: default\n  protocol: layer2\n  addresses:\n  - ${plan.v4Net}.200-${plan.v4Net}.250\n  - ${plan.v6Net}200-${plan.v6Net}250\n`);
    await c.createService('dual', [v4, v6], ['node-1', 'node-2', 'node-3']);
    const owner = await recordedOwner(v6);
    expect(await recordedOwner(v4)).toBe(owner);
    await answersOnly(v4, owner);
    const ndisc = await waitUntil('an NA for the IPv6 IP', async () => inNetns(c.lan.client.netns, 'ndisc6', ['-r', '2', '-w', '1000', v6, c.lan.lanInterface]), (r) => r.code === 0);
    expect(ndisc.stdout.toLowerCase()).toContain(c.macs.get(owner));
  }, 40_000);

  // Until speakers publish their interface MACs, the other node's MAC counts as a host outside the
  // cluster: the owner defends once, then withholds the IP, and takes it back at the re-probe
  // (every 2 s here) once the other answerer is gone (docs/speaker.md "Address conflicts").
  it('split-brain guard: the owner logs and counts gratuitous ARP from another MAC for its IP, and has its IP back once that MAC is gone', async () => {
    const owner = await recordedOwner(ipLocal);
    const rogueNode = c.lan.nodes.find((n) => n.name !== owner)!;
    const rogue = spawn('ip', ['netns', 'exec', rogueNode.netns, process.execPath, cliPath, 'announce', '--interface', c.lan.lanInterface, '--ip', ipLocal], { stdio: 'ignore' });
    try {
      await waitUntil('an ipConflict line', async () => Promise.resolve(c.speakers.get(owner)!.output()), (out) => out.includes('"event":"ipConflict"') && out.includes(c.macs.get(rogueNode.name)!));
    } finally {
      rogue.kill('SIGKILL');
    }
    expect(await recordedOwner(ipLocal)).toBe(owner);
  }, 30_000);

  it('labelling the owner excluded moves the IP', async () => {
    const before = await recordedOwner(ipCluster);
    await c.labelNode(before, { [excludeLabel]: '' });
    const after = await recordedOwner(ipCluster, before);
    await answersOnly(ipCluster, after);
    await c.labelNode(before, { [excludeLabel]: null });
    // stickiness: the label gone, the IP stays where it is
    await new Promise((r) => setTimeout(r, 1500));
    expect(await recordedOwner(ipCluster)).toBe(after);
  }, 40_000);

  it('API load: each speaker renews with PUTs only, no GET of its Lease', async () => {
    await recordedOwner(ipCluster);
    c.api.server.requests.reset();
    const windowMs = 4000;
    await new Promise((r) => setTimeout(r, windowMs));
    const counts = c.api.server.requests.counts();
    for (const n of c.lan.nodes) {
      const user = c.userOf(n.name);
      const puts = counts.get(`${user} update leases`) ?? 0;
      expect(counts.get(`${user} get leases`) ?? 0).toBe(0);
      // one per second, plus at most one for a record change
      expect(puts).toBeGreaterThanOrEqual(windowMs / 1000 - 1);
      expect(puts).toBeLessThanOrEqual(windowMs / 1000 + 2);
    }
  }, 30_000);

  it('an owner cut off from the API stops answering once its Lease runs out; a peer takes over; healed, it does not take the IP back', async () => {
    const victim = await recordedOwner(ipCluster);
    await answersOnly(ipCluster, victim);
    await c.pinNeighbour(ipCluster, victim);
    c.partition(victim);
    try {
      const next = await waitUntil('a new owner in the client neighbour table', () => c.neighbourOwner(ipCluster), (o) => o !== undefined && o !== victim);
      await answersOnly(ipCluster, next!);
      expect(c.speakers.get(victim)!.output()).toContain('"event":"leaseRenewFailed"');
      c.partition(undefined);
      await waitUntil(`${victim} renewing again`, async () => (await c.records()).has(victim), (x) => x);
      await new Promise((r) => setTimeout(r, 2000));
      expect(await c.arpMacs(ipCluster, 2)).toEqual([c.macs.get(next!)]);
    } finally {
      c.partition(undefined);
    }
  }, 60_000);

  it('SIGKILL of the owner: a peer takes over once the Lease expires; the restarted node does not take it back', async () => {
    const victim = await recordedOwner(ipCluster);
    await answersOnly(ipCluster, victim);
    await c.pinNeighbour(ipCluster, victim);
    const started = Date.now();
    c.speakers.get(victim)!.child.kill('SIGKILL');
    const next = await waitUntil('a new owner in the client neighbour table', () => c.neighbourOwner(ipCluster), (o) => o !== undefined && o !== victim);
    console.log(`speaker failover after SIGKILL: ${Date.now() - started} ms (neighbour entry ${victim} -> ${next})`);
    await answersOnly(ipCluster, next!);
    await c.startSpeaker(victim);
    await waitUntil(`${victim} back`, async () => (await c.records()).has(victim), (x) => x);
    await new Promise((r) => setTimeout(r, 3000));
    expect(await c.arpMacs(ipCluster, 2)).toEqual([c.macs.get(next!)]);
  }, 60_000);

  it('SIGTERM of the owner: it releases its Lease, exits 0 and a peer takes over at once', async () => {
    const victim = await recordedOwner(ipCluster);
    await answersOnly(ipCluster, victim);
    const proc = c.speakers.get(victim)!;
    await c.pinNeighbour(ipCluster, victim);
    const started = Date.now();
    const exited = new Promise<number | null>((resolve) => proc.child.once('exit', (code) => { resolve(code); }));
    proc.child.kill('SIGTERM');
    const next = await waitUntil('a new owner in the client neighbour table', () => c.neighbourOwner(ipCluster), (o) => o !== undefined && o !== victim);
    console.log(`speaker failover after SIGTERM: ${Date.now() - started} ms (neighbour entry ${victim} -> ${next})`);
    expect(await exited).toBe(0);
    expect(proc.output()).toContain('"event":"leaseReleased"');
    await answersOnly(ipCluster, next!);
    await c.startSpeaker(victim);
  }, 40_000);
});
