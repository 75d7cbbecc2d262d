import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliPath } from '../helpers/cli.js';
import { runKubectl } from '../helpers/kubectl.js';
import { inNetns } from '../helpers/lan-netns.js';
import { canRunRootTests } from '../helpers/root.js';
import { ns, startSpeakerCluster, uniquePlan, waitUntil, type SpeakerCluster, type SpeakerProcess } from './speaker-cluster.js';

const excludeLabel = 'node.kubernetes.io/exclude-from-external-load-balancers';

/**
 * Three `ironlb speaker` processes on one LAN, the kernel as the client's ARP/NDP peer, run once
 * per liveness mode at its defaults (docs/speaker.md, "Membership"): `split`, what users run, and
 * `lease`. The election, the announcements and the stickiness are the same in both; what differs
 * is said per mode below: what each speaker writes to the API at steady state, how a crash is
 * found (a standby's LAN probes and a reap, or a Lease running out), how long an owner cut off
 * from the API keeps answering, and the failover time each mode promises.
 */
interface Mode {
  readonly liveness: 'split' | 'lease';
  readonly tag: string;
  /**
   * Client-observed failover after SIGKILL of the owner must come within this. split: three
   * silent 500 ms probe rounds, one reap, one watch delivery (the < 4 s target of
   * docs/election.md). lease: the 3 s Lease plus 250 ms grace, counted from the last renewal.
   */
  readonly crashBudgetMs: number;
  /**
   * ... and not before this: lease, the Lease cannot run out sooner than its 3 s less one 1 s
   * renewal period plus the 250 ms grace after the kill (docs/speaker.md "Measured": 2386 to
   * 3340 ms); split: no floor.
   */
  readonly crashFloorMs: number;
}

const modes: readonly Mode[] = [
  { liveness: 'split', tag: 'iss', crashBudgetMs: 4000, crashFloorMs: 0 },
  { liveness: 'lease', tag: 'isp', crashBudgetMs: 4000, crashFloorMs: 2250 },
];

/**
 * Graceful failover (SIGTERM: the Lease released, every peer elects at once) is < 0.5 s in both
 * modes as `npm run bench` measures it (speaker.failover_graceful_ms); here the client's
 * neighbour table is polled every 100 ms through `ip netns exec`, on a machine shared with other
 * suites, so the test allows twice that and still fails a failover that waits for a reap (1.5 s)
 * or a Lease expiry (3 s).
 */
const gracefulBudgetMs = 1000;

describe.skipIf(!canRunRootTests('speaker')).each(modes)('ironlb speaker: three processes on one LAN, --liveness $liveness', (mode) => {
  const plan = uniquePlan(mode.tag, 3);
  const ipCluster = `${plan.v4Net}.200`;
  const ipLocal = `${plan.v4Net}.201`;
  const split = mode.liveness === 'split';
  let c: SpeakerCluster;
  // every speaker process started, restarted ones included (their logs, for reading a failure)
  const started: SpeakerProcess[] = [];
  const start = async (node: string): Promise<void> => {
    started.push(await c.startSpeaker(node));
  };

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

  /** The lines with `event` that `node`'s current speaker process logged. */
  const linesOf = (node: string, event: string): string[] => c.speakers.get(node)!.output().split('\n').filter((l) => l.includes(`"event":"${event}"`));

  /** split: the running nodes whose latest standby duties include probing `owner` for `ip`. */
  // A standby probes each owner at one of its IPs (`owner:ip`), not necessarily ipCluster: the
  // owner may also own ipLocal (CI: one standby probed node-1 at the other IP, and the wait for
  // two standbys at ipCluster timed out).
  const standbysOf = (owner: string): string[] =>
    [...c.speakers].filter(([, p]) => p.child.exitCode === null && p.child.signalCode === null).filter(([node]) => {
      const last = linesOf(node, 'standbyDuties').at(-1);
      return last !== undefined && (JSON.parse(last) as { probing: string[] }).probing.some((entry) => entry.startsWith(`${owner}:`));
    }).map(([node]) => node);

  /** A node's membership Lease as the API server stores it now. */
  const leaseOf = (node: string): { holder: string; acquire: number; announcing: string[] } => {
    const stored = c.api.server.store.get('coordination.k8s.io/leases', ns, `ironlb-speaker-${node}`) as { spec?: { holderIdentity?: string; acquireTime?: string }; metadata?: { annotations?: Record<string, string> } } | undefined;
    return {
      holder: stored?.spec?.holderIdentity ?? '',
      acquire: Date.parse(String(stored?.spec?.acquireTime)),
      announcing: (stored?.metadata?.annotations?.['ironlb.io/announcing'] ?? '').split(',').filter((s) => s !== ''),
    };
  };

  beforeAll(async () => {
    // HTTPS, so that the real kubectl can edit a Lease (it sends its token only over TLS).
    c = await startSpeakerCluster(plan, ['--liveness', mode.liveness, '--log-level', 'debug', '--conflict-reprobe', '2'], { tls: true });
    for (const n of c.lan.nodes) await start(n.name);
  }, 60_000);

  afterAll(async () => {
    // IRONLB_SPEAKER_LOGS=DIR: every speaker's log, for reading a failure afterwards.
    const dir = process.env.IRONLB_SPEAKER_LOGS;
    if (dir !== undefined) {
      mkdirSync(dir, { recursive: true });
      for (const [i, p] of started.entries()) writeFileSync(join(dir, `${mode.liveness}-${String(i)}-${p.node}.log`), `${p.output()}\nexit ${String(p.child.exitCode)} ${String(p.child.signalCode)}\n`);
    }
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

  const apiLoad = split
    ? 'API load at steady state: the owner\'s two standbys probe it on the LAN; no membership Lease is written, each heartbeat at most once in 4 s (every 10 s), PUTs only'
    : 'API load at steady state: each speaker renews its Lease with one PUT a second, no GET';
  it(apiLoad, async () => {
    const owner = await recordedOwner(ipCluster);
    // split: crashes are found on the LAN, not by the API: both other nodes stand by for the owner.
    if (split) await waitUntil(`two standbys probing ${owner}`, () => Promise.resolve(standbysOf(owner)), (s) => s.length === 2);
    c.api.server.requests.reset();
    const windowMs = 4000;
    await new Promise((r) => setTimeout(r, windowMs));
    const writes = c.api.server.requests.entries().filter((e) => e.resource === 'leases' && e.verb !== 'watch' && e.verb !== 'list');
    for (const n of c.lan.nodes) {
      const user = c.userOf(n.name);
      const mine = writes.filter((e) => e.user === user);
      expect(mine.filter((e) => e.verb !== 'update').map((e) => `${e.verb} ${e.name}`), `${n.name}: Lease requests other than PUT`).toEqual([]);
      const membership = mine.filter((e) => e.name === `ironlb-speaker-${n.name}`).length;
      if (split) {
        expect(membership, `${n.name}: membership Lease writes (written on change only)`).toBe(0);
        expect(mine.filter((e) => e.name === `ironlb-heartbeat-${n.name}`).length, `${n.name}: heartbeat writes`).toBeLessThanOrEqual(1);
      } else {
        // one per second, plus at most one for a record change
        expect(membership).toBeGreaterThanOrEqual(windowMs / 1000 - 1);
        expect(membership).toBeLessThanOrEqual(windowMs / 1000 + 2);
      }
    }
  }, 30_000);

  if (split) {
    it('split: an owner cut off from the API keeps answering alone past the 3 s a lease-mode owner would last (its heartbeat lasts 40 s; the expiry itself: speaker-split.test.ts, shortened heartbeats); healed, nothing moved', async () => {
      const owner = await recordedOwner(ipCluster);
      await answersOnly(ipCluster, owner);
      c.partition(owner);
      try {
        await new Promise((r) => setTimeout(r, 4500));
        expect(await c.arpMacs(ipCluster, 2)).toEqual([c.macs.get(owner)]);
        expect(leaseOf(owner).holder, 'still a member: nobody reaped it').toBe(owner);
      } finally {
        c.partition(undefined);
      }
      await new Promise((r) => setTimeout(r, 1000));
      expect(await c.arpMacs(ipCluster, 2)).toEqual([c.macs.get(owner)]);
    }, 40_000);
  } else {
    it('lease: an owner cut off from the API stops answering once its Lease runs out; a peer takes over; healed, it does not take the IP back', async () => {
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
  }

  const crashName = split
    ? `SIGKILL of the owner: a standby finds it silent on the LAN and reaps it; the client fails over within ${String(mode.crashBudgetMs)} ms; the restarted node does not take the IP back`
    : `SIGKILL of the owner: a peer takes over once its Lease runs out (${String(mode.crashFloorMs)} to ${String(mode.crashBudgetMs)} ms); nobody reaps; the restarted node does not take the IP back`;
  it(crashName, async () => {
    const victim = await recordedOwner(ipCluster);
    await answersOnly(ipCluster, victim);
    // split: a crash is found by the owner's standbys; wait until one probes it (a node only just elected has none yet).
    const standbys = split ? await waitUntil(`standbys probing ${victim}`, () => Promise.resolve(standbysOf(victim)), (s) => s.length > 0) : [];
    await c.pinNeighbour(ipCluster, victim);
    // Its Lease written once more with nothing the election reads changed (as its conflicts record
    // or the settling write do): split standbys must reap with that version, not meet a 409 on the
    // version of their last election and wait for the next one.
    const touched = await runKubectl(c.api.kubeconfigPath, ['-n', ns, 'annotate', '--overwrite', 'lease', `ironlb-speaker-${victim}`, `test.ironlb.io/touched=${String(Date.now())}`]);
    expect(touched.code, touched.stderr).toBe(0);
    await new Promise((r) => setTimeout(r, 300));
    const reapsBefore = new Map(c.lan.nodes.map((n) => [n.name, linesOf(n.name, 'memberReaped').length]));
    const started = Date.now();
    c.speakers.get(victim)!.child.kill('SIGKILL');
    const next = await waitUntil('a new owner in the client neighbour table', () => c.neighbourOwner(ipCluster), (o) => o !== undefined && o !== victim);
    const failoverMs = Date.now() - started;
    console.log(`--liveness ${mode.liveness}: speaker failover after SIGKILL: ${String(failoverMs)} ms (neighbour entry ${victim} -> ${String(next)})`);
    const reaps = c.lan.nodes.filter((n) => n.name !== victim).flatMap((n) => linesOf(n.name, 'memberReaped').slice(reapsBefore.get(n.name)).map((l) => `${n.name}: ${l}`));
    // Over budget: where the time went, for the CI log (each survivor's takeover lines, ms after the kill).
    if (failoverMs >= mode.crashBudgetMs) {
      const events = /"event":"(standbyDuties|ownerSilent|memberReaped|reapMoved|reapFailed|announceStarted|ipConflict|leaseRenewFailed)"/;
      for (const n of c.lan.nodes.filter((x) => x.name !== victim)) {
        const lines = c.speakers.get(n.name)!.output().split('\n').filter((l) => events.test(l) && (JSON.parse(l) as { time: number }).time >= started - 2000);
        console.log(`== ${n.name}\n${lines.map((l) => `+${String((JSON.parse(l) as { time: number }).time - started)} ms ${l.slice(0, 240)}`).join('\n')}`);
      }
    }
    await answersOnly(ipCluster, next!);
    if (split) {
      expect(standbys, 'the new owner was a standby of the victim').toContain(next);
      expect(reaps.filter((l) => l.includes(`"peer":"${victim}"`) && l.includes('"reason":"probesUnanswered"')), 'reaped for unanswered probes').toHaveLength(1);
      expect(leaseOf(victim).holder, 'its membership Lease reaped').toBe('');
    } else {
      expect(reaps, 'lease mode reaps nobody: the Lease runs out by itself').toEqual([]);
    }
    expect(failoverMs).toBeGreaterThanOrEqual(mode.crashFloorMs);
    expect(failoverMs).toBeLessThan(mode.crashBudgetMs);
    await start(victim);
    await waitUntil(`${victim} back`, async () => (await c.records()).has(victim), (x) => x);
    await new Promise((r) => setTimeout(r, 3000));
    expect(await c.arpMacs(ipCluster, 2)).toEqual([c.macs.get(next!)]);
  }, 60_000);

  it(`SIGTERM of the owner: it releases its Lease, exits 0 and a peer takes over within ${String(gracefulBudgetMs)} ms, nobody reaping it`, async () => {
    const victim = await recordedOwner(ipCluster);
    await answersOnly(ipCluster, victim);
    const proc = c.speakers.get(victim)!;
    await c.pinNeighbour(ipCluster, victim);
    const reapsBefore = new Map(c.lan.nodes.map((n) => [n.name, linesOf(n.name, 'memberReaped').length]));
    const started = Date.now();
    const exited = new Promise<number | null>((resolve) => proc.child.once('exit', (code) => { resolve(code); }));
    proc.child.kill('SIGTERM');
    const next = await waitUntil('a new owner in the client neighbour table', () => c.neighbourOwner(ipCluster), (o) => o !== undefined && o !== victim);
    const failoverMs = Date.now() - started;
    console.log(`--liveness ${mode.liveness}: speaker failover after SIGTERM: ${String(failoverMs)} ms (neighbour entry ${victim} -> ${String(next)})`);
    expect(await exited).toBe(0);
    expect(proc.output()).toContain('"event":"leaseReleased"');
    expect(c.lan.nodes.flatMap((n) => linesOf(n.name, 'memberReaped').slice(reapsBefore.get(n.name))), 'a released member is not reaped').toEqual([]);
    expect(failoverMs).toBeLessThan(gracefulBudgetMs);
    await answersOnly(ipCluster, next!);
    await start(victim);
  }, 40_000);

  // A record on a node's Lease that it did not write (by hand, an older speaker): peers keep a
  // recorded owner (docs/election.md, "Anti-flap"), so it must not stand. lease: the next renewal
  // (1 s) writes the node's record over it. split: nothing is renewed; the node reads the edit in
  // its own Lease's echo and writes its record again (docs/speaker.md, "Split liveness").
  it('a Lease edited with kubectl to claim an IP its node does not announce is written back by the node within 2 s; the owner keeps the IP', async () => {
    const owner = await recordedOwner(ipCluster);
    await answersOnly(ipCluster, owner);
    // A claimant that loses the tie rule (a later acquireTime): the owner keeps the IP, so the claim is false throughout.
    const younger = (node: string): boolean => leaseOf(node).acquire > leaseOf(owner).acquire;
    let claimant = c.lan.nodes.map((n) => n.name).find((n) => n !== owner && younger(n));
    if (claimant === undefined) {
      claimant = c.lan.nodes.map((n) => n.name).find((n) => n !== owner)!;
      const proc = c.speakers.get(claimant)!;
      const exited = new Promise((r) => proc.child.once('exit', r));
      proc.child.kill('SIGTERM');
      await exited;
      await start(claimant);
      const node = claimant;
      await waitUntil(`${node} a member again, younger than ${owner}`, () => Promise.resolve(leaseOf(node).holder === node && younger(node)), (x) => x);
    }
    const node = claimant;
    await waitUntil(`${node}'s record written`, () => Promise.resolve(leaseOf(node).holder === node && !leaseOf(node).announcing.includes(ipCluster)), (x) => x);
    const claim = [...leaseOf(node).announcing, ipCluster].join(',');
    const started = Date.now();
    const r = await runKubectl(c.api.kubeconfigPath, ['-n', ns, 'annotate', '--overwrite', 'lease', `ironlb-speaker-${node}`, `ironlb.io/announcing=${claim}`]);
    expect(r.code, r.stderr).toBe(0);
    const rewrittenMs = await waitUntil(`${node} writing its record back`, () => Promise.resolve(leaseOf(node).announcing.includes(ipCluster) ? undefined : Date.now() - started), (ms) => ms !== undefined, 10_000) ?? Number.POSITIVE_INFINITY;
    console.log(`--liveness ${mode.liveness}: a false record claim written back after ${String(rewrittenMs)} ms`);
    expect(rewrittenMs).toBeLessThan(2000);
    if (split) expect(linesOf(node, 'recordRewritten'), 'split: rewritten from its own echo').toHaveLength(1);
    await answersOnly(ipCluster, owner);
  }, 60_000);
});
