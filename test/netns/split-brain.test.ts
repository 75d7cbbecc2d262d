import * as k8s from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { inNetns } from '../helpers/lan-netns.js';
import { canRunRootTests } from '../helpers/root.js';
import { ns, startSpeakerCluster, uniquePlan, waitUntil, type SpeakerCluster } from './speaker-cluster.js';

/**
 * A split brain forced with real processes: two `ironlb speaker`s on one LAN, and node-2's
 * watch of the speaker Leases goes silent (the API server keeps the stream open and sends
 * nothing, as a half-dead connection behind a proxy does). node-2 sees node-1's Lease stop
 * changing, counts it dead and takes its IP over; node-1 still sees node-2 alive, and keeps the
 * IP by the record rule (earliest acquireTime). Both answer. Each must report the other by name
 * and MAC (Warning Event, `ironlb_address_conflicts`, the `ironlb.io/conflicts` Lease
 * annotation), and once node-2's view is whole again exactly one MAC answers and both reports
 * are gone. The client namespace's kernel is the ARP / NDP peer: for IPv6 the speakers hear each
 * other through unsolicited Neighbor Advertisements and DAD self-checks, and the client counts
 * the NAs answering one Neighbor Solicitation (ndisc6 -m).
 */
describe.skipIf(!canRunRootTests('split brain')).each([
  { family: 'IPv4' as const, tag: 'isb' },
  { family: 'IPv6' as const, tag: 'isc' },
])('split brain between two speakers ($family)', ({ family, tag }) => {
  const plan = uniquePlan(tag, 2);
  let c: SpeakerCluster;
  let core: k8s.CoreV1Api;
  let coord: k8s.CoordinationV1Api;
  const ip = family === 'IPv4' ? `${plan.v4Net}.210` : `${plan.v6Net}210`;
  /** The MACs answering for `ip`, as the client sees them: ARP replies, or the NAs to one solicitation. */
  const answerers = (): Promise<string[]> => (family === 'IPv4' ? c.arpMacs(ip, 3) : c.ndpMacs(ip));

  beforeAll(async () => {
    // Lease liveness: the split brain is forced by silencing one speaker's Lease watch, so it
    // sees its peer's renewals stop; split liveness writes membership Leases only on change, and
    // its split brain (a LAN cut between owner and standby) is test/netns/speaker-split.test.ts's.
    c = await startSpeakerCluster(plan, ['--liveness', 'lease', '--conflict-reprobe', '2', '--self-check-interval', '2', '--hold-down', '1']);
    if (family === 'IPv6') await c.setConfig(`address-pools:\n- name: default\n  protocol: layer2\n  addresses:\n  - ${plan.v6Net}200-${plan.v6Net}250\n`);
    core = c.kc.makeApiClient(k8s.CoreV1Api);
    coord = c.kc.makeApiClient(k8s.CoordinationV1Api);
  }, 60_000);

  afterAll(async () => {
    if ((c as SpeakerCluster | undefined) === undefined) return;
    c.api.server.faults.stallWatches = undefined;
    await c.close();
  }, 30_000);

  const conflictsOf = async (node: string): Promise<string> => {
    const lease = await coord.readNamespacedLease({ name: `ironlb-speaker-${node}`, namespace: ns });
    return lease.metadata?.annotations?.['ironlb.io/conflicts'] ?? '';
  };

  const warnings = async (): Promise<string[]> => {
    const events = await core.listNamespacedEvent({ namespace: 'demo' });
    return events.items.filter((e) => e.involvedObject.name === 'split' && e.type === 'Warning' && e.reason === 'AddressConflict').map((e) => e.message ?? '');
  };

  /** The `ironlb_address_conflicts` lines of a node's speaker, read inside its namespace. */
  const conflictGauge = async (node: string): Promise<string> => {
    const port = /"event":"obsListening","port":(\d+)/.exec(c.speakers.get(node)?.output() ?? '')?.[1] ?? '0';
    const netns = c.lan.nodes.find((n) => n.name === node)?.netns ?? '';
    const script = `fetch('http://127.0.0.1:${port}/metrics').then((r) => r.text()).then((t) => { process.stdout.write(t); })`;
    const r = await inNetns(netns, process.execPath, ['-e', script]);
    return r.stdout.split('\n').filter((l) => l.startsWith('ironlb_address_conflicts{')).join('\n');
  };

  it('both speakers report the other by name and MAC; once the views agree, one MAC answers and the reports clear', async () => {
    const [a, b] = ['node-1', 'node-2'] as const;
    onTestFailed(() => {
      // What each speaker saw, for the CI log.
      const wanted = /"event":"(announceStarted|announceStopped|ipConflict|addressConflict|addressConflictCleared|eventWriteFailed)"/;
      for (const [node, s] of c.speakers) console.log(`${node}:\n${s.output().split('\n').filter((l) => wanted.test(l)).join('\n')}`);
    });
    const macA = c.macs.get(a)!;
    const macB = c.macs.get(b)!;
    // node-1 first, alone: it announces the IP and has the earlier acquireTime.
    await c.startSpeaker(a);
    await waitUntil(`${a}'s Lease`, () => c.records(), (r) => r.has(a), 30_000);
    await c.createService('split', ip, [a, b]);
    await waitUntil(`${a} recording ${ip}`, () => c.records(), (r) => r.get(a)?.includes(ip) === true, 30_000);
    expect(await waitUntil(`${a} answering ${ip}`, answerers, (m) => m.length === 1, 20_000)).toEqual([macA]);
    // node-2 joins; the record keeps the IP on node-1 (stickiness).
    await c.startSpeaker(b);
    await waitUntil(`${b}'s Lease`, () => c.records(), (r) => r.has(b), 30_000);
    await new Promise((r) => setTimeout(r, 2_000)); // past node-2's hold-down (1 s)
    expect((await c.records()).get(b)).toEqual([]);
    expect(await answerers()).toEqual([macA]);

    c.api.server.faults.stallWatches = { user: c.userOf(b), resource: 'leases' };
    try {
      // node-2 counts node-1 dead after its Lease duration; node-1 sees node-2 alive. Both answer.
      await waitUntil(`both recording ${ip}`, () => c.records(), (r) => r.get(a)?.includes(ip) === true && r.get(b)?.includes(ip) === true, 20_000);
      expect(await waitUntil(`two MACs answering ${ip}`, answerers, (m) => m.length === 2, 20_000)).toEqual([macA, macB].sort());
      // Each reports the other: Event, Lease annotation and gauge name the node and its MAC.
      const seen = await waitUntil('a Warning from each side', warnings, (w) => w.some((m) => m.includes(`node ${b} (MAC ${macB}`)) && w.some((m) => m.includes(`node ${a} (MAC ${macA}`)), 20_000);
      expect(seen.filter((m) => m.startsWith(`IP ${ip} is also answered by node`))).toHaveLength(2);
      expect(JSON.parse(await conflictsOf(a))).toEqual([expect.objectContaining({ ip, mac: macB, node: b })]);
      expect(JSON.parse(await conflictsOf(b))).toEqual([expect.objectContaining({ ip, mac: macA, node: a })]);
      expect(await conflictGauge(a)).toContain(`ironlb_address_conflicts{ip="${ip}"} 1`);
      expect(await conflictGauge(b)).toContain(`ironlb_address_conflicts{ip="${ip}"} 1`);
    } finally {
      // The views agree again: node-2's watch is cut, it resumes and catches up.
      c.api.server.faults.stallWatches = undefined;
      c.api.server.faults.closeWatches();
    }

    // node-1 keeps the IP (earlier acquireTime); node-2 stops answering and drops its report at
    // once; node-1's next re-probe (every 2 s here) hears nobody else and clears its own.
    await waitUntil(`only ${a} recording ${ip}`, () => c.records(), (r) => r.get(a)?.includes(ip) === true && r.get(b)?.includes(ip) === false, 20_000);
    await waitUntil('both reports cleared', async () => [await conflictsOf(a), await conflictsOf(b)], (v) => v.every((x) => x === ''), 20_000);
    for (let i = 0; i < 3; i += 1) expect(await answerers()).toEqual([macA]);
    expect(await conflictGauge(a)).toBe('');
    expect(await conflictGauge(b)).toBe('');
  }, 150_000);
});
