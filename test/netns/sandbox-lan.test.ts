import type { ChildProcess } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLan, destroyLan, lanLayout, type LanLayout, type LanPlan } from '../../src/sandbox/lan.js';
import { desiredRouting } from '../../src/sandbox/service-routing.js';
import { inNetns, macOf, startNodeProcess, stopProcess } from '../helpers/lan-netns.js';
import { canRunRootTests } from '../helpers/root.js';

// Unique names and a private subnet per run: other suites run on this machine at the same time.
const id = process.pid % 100000;
const plan: LanPlan = { prefix: `ilt${id}`, nodes: 2, v4Net: `10.213.${id % 250}`, v6Net: `fd00:213:${((id % 65534) + 1).toString(16)}::`, hostLink: false };
const v4Svc = `${plan.v4Net}.200`;
const v6Svc = `${plan.v6Net}200`;
const v4Remote = `${plan.v4Net}.201`;

function ourLeftovers(): string[] {
  const netns = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' });
  const links = execFileSync('ip', ['-o', 'link'], { encoding: 'utf8' });
  return `${netns}\n${links}`.split('\n').filter((l) => l.includes(plan.prefix));
}

describe.skipIf(!canRunRootTests('sandbox LAN'))('sandbox LAN (real namespaces)', () => {
  let lan: LanLayout;
  const children: ChildProcess[] = [];
  const node = (i: number) => lan.nodes[i]!;

  beforeAll(async () => {
    await destroyLan(plan);
    lan = await createLan(plan);
  });

  afterAll(async () => {
    await Promise.all(children.map(stopProcess));
    await destroyLan(plan);
  });

  it.each([
    { name: 'client -> node-1 over IPv4', family: '-4', to: 0 },
    { name: 'client -> node-2 over IPv6', family: '-6', to: 1 },
  ])('$name', async ({ family, to }) => {
    const target = family === '-4' ? node(to).v4 : node(to).v6;
    const r = await inNetns(lan.client.netns, 'ping', [family, '-c', '1', '-W', '2', target]);
    expect(r.code).toBe(0);
  });

  it('nodes run the backend and the stand-in; the kernel answers no ARP or NS for Service IPs', async () => {
    const nodeIps = new Map(lan.nodes.map((n) => [n.name, n.v4]));
    const services = [
      { key: 'default/web', ingressIps: [v4Svc, v6Svc], ports: [{ port: 80, protocol: 'TCP', targetPort: 8080 }], endpointNodes: ['node-1', 'node-2'] },
      { key: 'default/remote', ingressIps: [v4Remote], ports: [{ port: 80, protocol: 'TCP', targetPort: 8080 }], endpointNodes: ['node-2'] },
    ];
    for (const n of lan.nodes) {
      children.push(await startNodeProcess(n.netns, n.name, n.v4, desiredRouting(n.name, services, nodeIps).routing));
    }
    // Controls first, so that the negative checks below can fail: the kernel answers for node addresses.
    expect((await inNetns(lan.client.netns, 'arping', ['-c', '1', '-w', '2', '-I', 'eth0', node(0).v4])).code).toBe(0);
    expect((await inNetns(lan.client.netns, 'ndisc6', ['-r', '1', '-w', '1000', node(0).v6, 'eth0'])).code).toBe(0);
    // The Service IPs sit on every node's kube-ipvs0, yet nobody answers for them (no speaker runs).
    expect((await inNetns(lan.client.netns, 'arping', ['-c', '2', '-w', '2', '-I', 'eth0', v4Svc])).code).not.toBe(0);
    expect((await inNetns(lan.client.netns, 'ndisc6', ['-r', '2', '-w', '500', v6Svc, 'eth0'])).code).not.toBe(0);
  });

  it.each([
    { name: 'backend of node-1 answers its name', url: () => `http://${node(0).v4}:8080/`, via: undefined, want: 'node-1' },
    { name: 'backend of node-2 answers its name', url: () => `http://${node(1).v4}:8080/`, via: undefined, want: 'node-2' },
    { name: 'Service IP announced by node-1 -> local backend', url: () => `http://${v4Svc}/`, via: 0, want: 'node-1' },
    { name: 'Service IP announced by node-2 -> local backend', url: () => `http://${v4Svc}/`, via: 1, want: 'node-2' },
    { name: 'IPv6 Service IP announced by node-2 -> local backend', url: () => `http://[${v6Svc}]/`, via: 1, want: 'node-2' },
    { name: 'endpoint only on node-2, announced by node-1 -> forwarded', url: () => `http://${v4Remote}/`, via: 0, want: 'node-2' },
  ])('$name', async ({ url, via, want }) => {
    if (via !== undefined) {
      // Stand in for the speaker: point the client's neighbour entries at the announcing node.
      const mac = await macOf(node(via).netns, 'eth0');
      for (const ip of [v4Svc, v6Svc, v4Remote]) {
        await inNetns(lan.client.netns, 'ip', ['neigh', 'replace', ip, 'lladdr', mac, 'dev', 'eth0', 'nud', 'permanent']);
      }
    }
    const r = await inNetns(lan.client.netns, 'curl', ['-sS', '-g', '--max-time', '5', url()]);
    expect(r.stdout).toBe(`${want}\n`);
  });

  it('destroy leaves no namespace or link behind, and is idempotent', async () => {
    await Promise.all(children.map(stopProcess));
    await destroyLan(plan);
    await destroyLan(plan);
    expect(ourLeftovers()).toEqual([]);
  });
});

describe.skipIf(!canRunRootTests('sandbox LAN failure cleanup'))('sandbox LAN: failure cleanup', () => {
  const failing: LanPlan = { ...plan, prefix: `ilf${id}`, v4Net: `10.214.${id % 250}`, nodes: 2 };

  afterAll(async () => {
    await destroyLan(failing);
  });

  it('a createLan that fails half way removes what it made', async () => {
    // A stray namespace with node-2's name makes the build fail after the bridge and node-1 exist.
    execFileSync('ip', ['netns', 'add', `${failing.prefix}-node-2`]);
    await expect(createLan(failing)).rejects.toThrow(/netns add/);
    const left = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' }).split('\n').filter((l) => l.includes(failing.prefix));
    expect(left).toEqual([]);
  });

  it('rejects a prefix too long for interface names before touching anything', () => {
    expect(() => lanLayout({ ...failing, prefix: 'much-too-long-prefix' })).toThrow(/too long/);
  });
});
