import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import * as k8s from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { macOf } from '../helpers/lan-netns.js';
import { canRunRootTests } from '../helpers/root.js';
import { ns, startSpeakerCluster, uniquePlan, waitUntil, type SpeakerCluster } from './speaker-cluster.js';

/**
 * A rolling switch of liveness modes (docs/election.md, "Mixed modes"): three real speakers in
 * `--liveness lease`, restarted one at a time with `--liveness split` (SIGTERM, then the new flag,
 * as a DaemonSet rolling update does), then back one at a time. From the client namespace arping
 * asks for every Service IP once a second throughout, and tcpdump there counts the answers to
 * each request: never two, and never more than a short gap. Heartbeat timings are shortened
 * (renew 1 s, duration 5 s) so that a split membership Lease, written on change only, is older
 * than a heartbeat duration within the test: a speaker that judged it by its renewals would see
 * a live split node die and answer for its IPs too.
 */
describe.skipIf(!canRunRootTests('speaker liveness switch'))('ironlb speakers, rolling switch between liveness modes', () => {
  const plan = uniquePlan('isw', 3);
  const ips = [0, 1, 2, 3, 4, 5].map((i) => `${plan.v4Net}.${String(220 + i)}`);
  let c: SpeakerCluster;
  let coord: k8s.CoordinationV1Api;
  let monitor: ArpMonitor | undefined;
  const all = (): string[] => c.lan.nodes.map((n) => n.name);

  beforeAll(async () => {
    c = await startSpeakerCluster(plan, ['--log-level', 'info', '--heartbeat-renew', '1', '--heartbeat-duration', '5', '--hold-down', '3']);
    coord = c.kc.makeApiClient(k8s.CoordinationV1Api);
    for (const n of all()) await c.startSpeaker(n, ['--liveness', 'lease']);
    for (const [i, ip] of ips.entries()) await c.createService(`sw${String(i)}`, ip, all());
    for (const ip of ips) await waitUntil(`one MAC for ${ip}`, () => c.arpMacs(ip, 1), (m) => m.length === 1, 30_000);
  }, 90_000);

  afterAll(async () => {
    await monitor?.stop();
    await (c as SpeakerCluster | undefined)?.close();
  }, 30_000);

  /** The mode `node`'s Lease says its speaker runs, and its holder. */
  async function leaseOf(node: string): Promise<{ role: string; holder: string }> {
    const l = await coord.readNamespacedLease({ name: `ironlb-speaker-${node}`, namespace: ns });
    return { role: l.metadata?.labels?.['ironlb.io/lease'] ?? '', holder: l.spec?.holderIdentity ?? '' };
  }

  /** SIGTERM (a rolling update's delete), then the same node with `mode`, once its Lease shows it. */
  async function switchNode(node: string, mode: 'lease' | 'split'): Promise<void> {
    const proc = c.speakers.get(node);
    if (proc !== undefined && proc.child.exitCode === null && proc.child.signalCode === null) {
      const exited = once(proc.child, 'exit');
      proc.child.kill('SIGTERM');
      await exited;
    }
    await c.startSpeaker(node, ['--liveness', mode]);
    // A split membership Lease is labelled `membership`; a lease-mode one anything else.
    await waitUntil(`${node} a member in ${mode} mode`, () => leaseOf(node), (l) => (l.role === 'membership') === (mode === 'split') && l.holder === node, 20_000);
    // Past the hold-down (3 s) and a heartbeat duration (5 s): IPs move to it again, and a Lease it
    // does not write any more is older than any duration it declares.
    await new Promise((r) => setTimeout(r, 6000));
  }

  it('lease -> split -> lease, one node at a time: every request answered once, never by two MACs', async () => {
    const clientMac = await macOf(c.lan.client.netns, c.lan.lanInterface);
    monitor = await startArpMonitor(c, ips, clientMac);
    for (const node of all()) await switchNode(node, 'split');
    const split = monitor.report();
    console.log(`liveness switch, lease -> split: ${String(split.requests)} requests, ${String(split.doubles.length)} answered twice (${split.doubles.slice(0, 5).join('; ')}), longest gap ${String(split.longestGap)}`);
    // Judged halfway too, so a failure says which direction broke.
    expect(split.doubles).toEqual([]);
    expect(split.longestGap).toBeLessThanOrEqual(2);
    for (const node of all()) await switchNode(node, 'lease');
    const report = await monitor.stop();
    monitor = undefined;
    console.log(`liveness switch: ${String(report.requests)} requests, ${String(report.doubles.length)} answered twice, longest gap ${String(report.longestGap)} unanswered in a row (${JSON.stringify(report.gaps)}); halfway ${String(split.requests)} requests`);
    const reaps = [...c.speakers.values()].filter((p) => p.output().includes('"event":"memberReaped"')).map((p) => p.node);
    expect(report.requests).toBeGreaterThan(ips.length * 30);
    expect(report.doubles).toEqual([]);
    // A graceful hand-over takes well under a second; at one request a second, two in a row is the bound.
    expect(report.longestGap).toBeLessThanOrEqual(2);
    // Nobody was taken for dead while alive.
    expect(reaps).toEqual([]);
    for (const ip of ips) expect(await c.arpMacs(ip, 2)).toHaveLength(1);
  }, 240_000);
});

interface ArpReport {
  readonly requests: number;
  /** `ip@time: mac,mac` for every request answered by more than one reply. */
  readonly doubles: readonly string[];
  /** The most requests for one IP left unanswered in a row. */
  readonly longestGap: number;
  /** ip -> its longest run of unanswered requests. */
  readonly gaps: Readonly<Record<string, number>>;
}

interface ArpMonitor {
  report(): ArpReport;
  stop(): Promise<ArpReport>;
}

/**
 * One arping per IP in the client namespace (a broadcast request a second) and tcpdump beside them: each
 * answer (a reply to the client's MAC) belongs to the last request for its IP, answered within
 * microseconds, long before the next one.
 */
async function startArpMonitor(c: SpeakerCluster, ips: readonly string[], clientMac: string): Promise<ArpMonitor> {
  const netns = c.lan.client.netns;
  const children: ChildProcess[] = [];
  let text = '';
  const dump = spawn('ip', ['netns', 'exec', netns, 'tcpdump', '-i', c.lan.lanInterface, '-n', '-e', '-tt', '-l', '--immediate-mode', '-U', 'arp'], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(dump);
  const stopAll = async (): Promise<void> => {
    await Promise.all(children.map(async (child) => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, 'exit');
      child.kill('SIGKILL');
      await exited;
    }));
  };
  try {
    await new Promise<void>((resolve, reject) => {
      dump.stderr.setEncoding('utf8').on('data', (d: string) => { if (d.includes('listening on')) resolve(); });
      dump.on('exit', () => { reject(new Error('tcpdump exited')); });
    });
    dump.stdout.setEncoding('utf8').on('data', (d: string) => { text += d; });
    // -b: broadcast every request. Without it arping unicasts to the first MAC that answered,
    // so a second answerer would never be asked, nor a new owner after a hand-over.
    for (const ip of ips) children.push(spawn('ip', ['netns', 'exec', netns, 'arping', '-b', '-I', c.lan.lanInterface, ip], { stdio: 'ignore' }));
  } catch (e: unknown) {
    await stopAll();
    throw e;
  }
  const report = (): ArpReport => analyse(text, ips, clientMac);
  return {
    report,
    async stop() {
      // Let the last answers flush, then stop.
      await new Promise((r) => setTimeout(r, 1500));
      await stopAll();
      return report();
    },
  };
}

/** Reads tcpdump `-e -tt` lines of ARP: the client's requests and the replies sent to it. */
function analyse(text: string, ips: readonly string[], clientMac: string): ArpReport {
  // ip -> MACs that answered its latest request (undefined before the first)
  const open = new Map<string, { at: string; macs: string[] }>();
  const doubles: string[] = [];
  const gaps: Record<string, number> = {};
  const run = new Map<string, number>();
  let requests = 0;
  const close = (ip: string): void => {
    const last = open.get(ip);
    if (last === undefined) return;
    if (last.macs.length > 1) doubles.push(`${ip}@${last.at}: ${last.macs.join(',')}`);
    const unanswered = last.macs.length === 0 ? (run.get(ip) ?? 0) + 1 : 0;
    run.set(ip, unanswered);
    gaps[ip] = Math.max(gaps[ip] ?? 0, unanswered);
  };
  for (const line of text.split('\n')) {
    const m = /^(\S+) ([0-9a-f:]{17}) > ([0-9a-f:]{17}), .*: (Request who-has (\S+)(?: \([0-9a-f:]+\))? tell ([^,\s]+)|Reply (\S+) is-at ([0-9a-f:]{17}))/.exec(line);
    if (m === null) continue;
    const [, at = '', src, dst, , askedIp, teller, repliedIp, mac] = m;
    if (askedIp !== undefined && src === clientMac && teller !== askedIp && ips.includes(askedIp)) {
      close(askedIp);
      open.set(askedIp, { at, macs: [] });
      requests += 1;
    } else if (repliedIp !== undefined && dst === clientMac && mac !== undefined) {
      open.get(repliedIp)?.macs.push(mac);
    }
  }
  // The last request of each IP may still be in flight: not judged.
  return { requests, doubles, longestGap: Math.max(0, ...Object.values(gaps)), gaps };
}
