import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import * as k8s from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startControllerProcess, type ControllerProcess } from '../helpers/controller-process.js';
import { inNetns, macOf } from '../helpers/lan-netns.js';
import { canRunRootTests } from '../helpers/root.js';
import { ns, startSpeakerCluster, uniquePlan, waitUntil, type SpeakerCluster } from './speaker-cluster.js';

/**
 * A host outside the cluster (the client namespace, a "rogue") holds pool addresses before any
 * Service exists. ironlb must never answer for them: the owner's probe finds the rogue, the
 * Service gets a Warning Event and another address, the controller quarantines the address;
 * once the rogue lets go, the next re-probe lifts the quarantine. The Linux kernel of the
 * client namespace is the other host, for ARP and for DAD.
 */
const run = promisify(execFile);

describe.skipIf(!canRunRootTests('address conflicts'))('address conflicts with a host outside the cluster', () => {
  const plan = uniquePlan('icf', 3);
  let c: SpeakerCluster;
  let controller: ControllerProcess;
  let core: k8s.CoreV1Api;
  let discovery: k8s.DiscoveryV1Api;
  let rogueMac: string;
  const v4 = (n: number): string => `${plan.v4Net}.${n}`;
  const v6 = (n: number): string => `${plan.v6Net}${n}`;

  beforeAll(async () => {
    c = await startSpeakerCluster(plan, ['--conflict-reprobe', '2', '--self-check-interval', '2', '--log-level', 'debug']);
    try {
      await c.setConfig(`address-pools:\n- name: default\n  protocol: layer2\n  addresses:\n  - ${v4(200)}-${v4(250)}\n  - ${v6(200)}-${v6(250)}\n`);
      core = c.kc.makeApiClient(k8s.CoreV1Api);
      discovery = c.kc.makeApiClient(k8s.DiscoveryV1Api);
      rogueMac = await macOf(c.lan.client.netns, c.lan.lanInterface);
      // The rogue holds the first address of each family before any Service exists.
      for (const [addr, extra] of [[`${v4(200)}/24`, []], [`${v6(200)}/64`, ['nodad']]] as const) {
        const r = await inNetns(c.lan.client.netns, 'ip', ['addr', 'add', addr, 'dev', c.lan.lanInterface, ...extra]);
        if (r.code !== 0) throw new Error(`ip addr add ${addr} in the client failed`);
      }
      for (const n of c.lan.nodes) await c.startSpeaker(n.name);
      controller = startControllerProcess(c.api.kubeconfigPath, ['--namespace', ns]);
      await controller.waitForEvent('obsListening', 60_000);
    } catch (e: unknown) {
      await c.close();
      throw e;
    }
  }, 120_000);

  afterAll(async () => {
    await (controller as ControllerProcess | undefined)?.stop();
    await (c as SpeakerCluster | undefined)?.close();
  }, 30_000);

  const createService = async (name: string, family: 'IPv4' | 'IPv6', loadBalancerIP?: string): Promise<void> => {
    await core.createNamespacedService({
      namespace: 'demo',
      body: {
        metadata: { name },
        spec: { type: 'LoadBalancer', ipFamilies: [family], ipFamilyPolicy: 'SingleStack', ports: [{ name: 'http', port: 80, protocol: 'TCP' }], selector: { app: name }, ...(loadBalancerIP === undefined ? {} : { loadBalancerIP }) },
      },
    });
    await discovery.createNamespacedEndpointSlice({
      namespace: 'demo',
      body: {
        metadata: { name: `${name}-1`, namespace: 'demo', labels: { 'kubernetes.io/service-name': name } },
        addressType: family,
        endpoints: c.lan.nodes.map((n, i) => ({ addresses: [family === 'IPv4' ? `10.244.${i}.10` : `fd10::${i + 1}`], nodeName: n.name, conditions: { ready: true } })),
        ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
      },
    });
  };

  const statusIps = async (name: string): Promise<string[]> => {
    const svc = await core.readNamespacedService({ name, namespace: 'demo' });
    return (svc.status?.loadBalancer?.ingress ?? []).map((i) => i.ip ?? '');
  };

  const warnings = async (name: string): Promise<string[]> => {
    const events = await core.listNamespacedEvent({ namespace: 'demo' });
    return events.items.filter((e) => e.involvedObject.name === name && e.type === 'Warning' && e.reason === 'AddressConflict').map((e) => e.message ?? '');
  };

  /**
   * Runs a tool on the test's own veth into the LAN (the client is the rogue itself, and a node
   * cannot see answers to its own requests through its speaker's socket).
   */
  const onHostLink = async (cmd: string, args: readonly string[]): Promise<string> => {
    try {
      return (await run(cmd, args, { timeout: 15_000 })).stdout;
    } catch (e: unknown) {
      const out = (e as { stdout?: unknown }).stdout;
      return typeof out === 'string' ? out : '';
    }
  };

  /** MACs answering ARP for `ip`. */
  const arpMacs = async (ip: string): Promise<string[]> => {
    const out = await onHostLink('arping', ['-c', '3', '-w', '4', '-I', c.lan.hostLink, ip]);
    return [...new Set([...out.matchAll(/\[([0-9A-Fa-f:]{17})\]/g)].map((m) => (m[1] ?? '').toLowerCase()))].sort();
  };

  /** MACs answering NS for `ip`. */
  const ndpMacs = async (ip: string): Promise<string[]> => {
    const r = { stdout: await onHostLink('ndisc6', ['-m', '-r', '3', '-w', '500', ip, c.lan.hostLink]) };
    return [...new Set([...r.stdout.matchAll(/([0-9a-f]{2}(?::[0-9a-f]{2}){5})/gi)].map((m) => (m[1] ?? '').toLowerCase()))].sort();
  };

  const quarantined = async (): Promise<string> => {
    const port = (controller.lines().find((l) => l.event === 'obsListening')?.port as number | undefined) ?? 0;
    const res = await fetch(`http://127.0.0.1:${String(port)}/metrics`);
    return (await res.text()).split('\n').filter((l) => l.startsWith('ironlb_addresses_quarantined{')).join('\n');
  };

  const speakerLines = (event: string): string[] => [...c.speakers.values()].flatMap((s) => s.output().split('\n').filter((l) => l.includes(`"event":"${event}"`)));

  it.each([
    { family: 'IPv4' as const, taken: v4(200), next: v4(201), macs: arpMacs },
    { family: 'IPv6' as const, taken: v6(200), next: v6(201), macs: ndpMacs },
  ])('$family: the rogue\'s address is never answered; the Service moves with a Warning; quarantined, then usable again once the rogue leaves', async ({ family, taken, next, macs }) => {
    const name = `web-${family.toLowerCase()}`;
    await createService(name, family);
    expect(await waitUntil(`${name} moved off ${taken}`, () => statusIps(name), (ips) => ips.length === 1 && ips[0] !== taken, 60_000)).toEqual([next]);
    const seen = await waitUntil(`Warning Events on ${name}`, () => warnings(name), (w) => w.length >= 2, 30_000);
    expect(seen.some((m) => m.includes(`IP ${taken} is in use by another host on the LAN (MAC ${rogueMac}`))).toBe(true);
    expect(seen.some((m) => m.includes(`assigned [${next}] instead`))).toBe(true);
    expect(await quarantined()).toContain(`ironlb_addresses_quarantined{ip="${taken}"} 1`);
    // Only the rogue answers for its address; ironlb announces the new one.
    expect(await macs(taken)).toEqual([rogueMac]);
    const answering = await waitUntil(`one node answering ${next}`, () => macs(next), (m) => m.length === 1, 30_000);
    expect([...c.macs.values()]).toContain(answering[0]);
    expect(speakerLines('gratuitousSent').some((l) => l.includes(taken))).toBe(false);

    // The rogue lets go: the next re-probe (every 2 s here) finds the address free.
    const del = await inNetns(c.lan.client.netns, 'ip', ['addr', 'del', family === 'IPv4' ? `${taken}/24` : `${taken}/64`, 'dev', c.lan.lanInterface]);
    expect(del.code).toBe(0);
    await waitUntil(`quarantine of ${taken} lifted`, quarantined, (m) => !m.includes(`"${taken}"`), 30_000);
    // Usable again: a Service asking for it gets it and ironlb answers for it.
    const pinned = `pinned-${family.toLowerCase()}`;
    await createService(pinned, family, taken);
    expect(await waitUntil(`${pinned} given ${taken}`, () => statusIps(pinned), (ips) => ips.length === 1, 30_000)).toEqual([taken]);
    const owner = await waitUntil(`a node answering ${taken}`, () => macs(taken), (m) => m.length === 1 && m[0] !== rogueMac, 30_000);
    expect([...c.macs.values()]).toContain(owner[0]);
  }, 180_000);

  it('another node\'s kernel answering for an announced IP (IPVS without strictARP) is found by the owner\'s self-check and reported with that MAC', async () => {
    const name = 'ipvs-like';
    await createService(name, 'IPv4');
    const [ip] = await waitUntil(`${name} given an IP`, () => statusIps(name), (ips) => ips.length === 1, 60_000);
    const ownerMac = (await waitUntil(`a node answering ${ip!}`, () => arpMacs(ip!), (m) => m.length === 1, 30_000))[0];
    const other = c.lan.nodes.find((n) => c.macs.get(n.name) !== ownerMac)!;
    const otherMac = c.macs.get(other.name)!;
    // A second address on the node's LAN interface, arp_ignore 0 (the default): its kernel answers ARP for it.
    const add = await inNetns(other.netns, 'ip', ['addr', 'add', `${ip!}/32`, 'dev', c.lan.lanInterface]);
    expect(add.code).toBe(0);
    try {
      const seen = await waitUntil(`a Warning naming ${otherMac}`, () => warnings(name), (w) => w.some((m) => m.includes(otherMac)), 30_000);
      expect(seen.some((m) => m.includes(`IP ${ip!}`) && m.includes(otherMac))).toBe(true);
      expect(speakerLines('addressConflict').some((l) => l.includes(ip!) && l.includes(otherMac))).toBe(true);
    } finally {
      await inNetns(other.netns, 'ip', ['addr', 'del', `${ip!}/32`, 'dev', c.lan.lanInterface]);
    }
  }, 120_000);
});

/**
 * Two speakers that both saw the same host on one address re-probe it on the same schedule (here
 * every second, so their probe windows always overlap). Each hears the other's probe; that must
 * not keep the quarantine: once the host lets go, both reports clear. The owner sees the host
 * first; then it is excluded from load balancers, so the other node is elected and sees it too.
 */
describe.skipIf(!canRunRootTests('address conflicts seen by two speakers'))('an address conflict seen by two speakers', () => {
  const plan = uniquePlan('icg', 2);
  let c: SpeakerCluster;
  let coord: k8s.CoordinationV1Api;
  const ip = `${plan.v4Net}.220`;

  beforeAll(async () => {
    c = await startSpeakerCluster(plan, ['--conflict-reprobe', '1', '--hold-down', '1']);
    try {
      coord = c.kc.makeApiClient(k8s.CoordinationV1Api);
      const r = await inNetns(c.lan.client.netns, 'ip', ['addr', 'add', `${ip}/24`, 'dev', c.lan.lanInterface]);
      if (r.code !== 0) throw new Error(`ip addr add ${ip} in the client failed`);
      for (const n of c.lan.nodes) await c.startSpeaker(n.name);
    } catch (e: unknown) {
      await c.close();
      throw e;
    }
  }, 120_000);

  afterAll(async () => {
    await (c as SpeakerCluster | undefined)?.close();
  }, 30_000);

  /** node -> the addresses in its `ironlb.io/conflicts` record. */
  const reports = async (): Promise<Map<string, string[]>> => {
    const leases = await coord.listNamespacedLease({ namespace: ns });
    const out = new Map<string, string[]>();
    for (const l of leases.items) {
      const node = l.metadata?.labels?.['ironlb.io/node'] ?? (l.metadata?.name ?? '').replace(/^ironlb-speaker-/, '');
      const raw = l.metadata?.annotations?.['ironlb.io/conflicts'] ?? '';
      if (raw !== '') out.set(node, [...(out.get(node) ?? []), ...(JSON.parse(raw) as { ip: string }[]).map((e) => e.ip)]);
    }
    return out;
  };

  it('both reports clear once the host leaves, though each speaker hears the other\'s re-probes', async () => {
    const nodes = c.lan.nodes.map((n) => n.name);
    await c.createService('held', ip, nodes);
    const first = await waitUntil('a speaker reporting the host', reports, (r) => r.size >= 1, 30_000);
    // Both may have seen it at once already (a short disagreement at start); else the other one is elected now.
    const excluded = first.size === 1 ? [...first.keys()][0] : undefined;
    if (excluded !== undefined) await c.labelNode(excluded, { 'node.kubernetes.io/exclude-from-external-load-balancers': '' });
    const both = await waitUntil('both speakers reporting the host', reports, (r) => r.size === 2, 30_000);
    expect([...both.values()]).toEqual([[ip], [ip]]);

    // The Service goes (as the controller moves a Service off a quarantined address): the
    // quarantine stays, and no Service holds the address any more. Then the host leaves.
    await c.kc.makeApiClient(k8s.CoreV1Api).deleteNamespacedService({ name: 'held', namespace: 'demo' });
    await new Promise((r) => setTimeout(r, 2_000));
    expect((await reports()).size).toBe(2);
    const del = await inNetns(c.lan.client.netns, 'ip', ['addr', 'del', `${ip}/24`, 'dev', c.lan.lanInterface]);
    expect(del.code).toBe(0);
    await waitUntil('both reports cleared', reports, (r) => r.size === 0, 20_000).catch(async (e: unknown) => {
      const lines = [JSON.stringify([...(await reports())]), ...[...c.speakers].map(([node, s]) => `${node}:\n${s.output().split('\n').filter((l) => l.includes('"addressConflict')).slice(-10).join('\n')}`)];
      throw new Error(`${String(e)}\n${lines.join('\n')}`);
    });
    // Usable again: a Service given it is announced by the node still eligible.
    await c.createService('again', ip, nodes);
    const owner = await waitUntil(`a node answering ${ip}`, () => c.arpMacs(ip, 2), (m) => m.length === 1, 20_000);
    expect(nodes.filter((n) => n !== excluded).map((n) => c.macs.get(n))).toContain(owner[0]);
  }, 150_000);
});
