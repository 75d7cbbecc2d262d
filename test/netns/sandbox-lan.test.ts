import type { ChildProcess } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startProcessContainer } from '../../src/sandbox/kubelet/process-container.js';
import { createPodSandbox, type PodSandbox } from '../../src/sandbox/kubelet/pod-network.js';
import type { RunningContainer } from '../../src/sandbox/kubelet/runtime.js';
import { createLan, destroyLan, lanLayout, nodePodNets, type LanLayout, type LanPlan } from '../../src/sandbox/lan.js';
import { desiredRouting, type Backend, type ServiceRouteView } from '../../src/sandbox/service-routing.js';
import { repoRoot } from '../helpers/cli.js';
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
  const pods: { sandbox: PodSandbox; container: RunningContainer }[] = [];
  const logs = mkdtempSync(join(tmpdir(), 'ironlb-lan-pods-'));
  const node = (i: number) => lan.nodes[i]!;

  /** A Pod as the kubelet makes it: its namespace, veth and address on node `i`, the stand-in web server in it. */
  async function startPod(i: number, name: string): Promise<PodSandbox> {
    const net = nodePodNets(lan)[i]!;
    const sandbox = await createPodSandbox(net, `uid-${name}`, net.cidr.replace('.0/24', '.2'));
    const launch = { pod: { namespace: 'default', name, uid: `uid-${name}` }, nodeName: net.node, container: { name: 'web', image: 'nginx', command: [], args: [], ports: [{ containerPort: 8080, protocol: 'TCP' }], security: {} }, env: [], netns: sandbox.netns, hostNetwork: false, podIp: sandbox.ip, hostIp: net.lanIp, logPath: join(logs, `${name}.log`), serviceAccountDir: undefined };
    const argv = [process.execPath, join(repoRoot, 'bin', 'ironlb.js'), 'sandbox', 'stand-in', '--pod', name, '--node', net.node, '--port', '8080'];
    pods.push({ sandbox, container: startProcessContainer(launch, { argv, env: { PATH: process.env.PATH ?? '' } }, new AbortController().signal) });
    // Ready when it answers from its own namespace.
    for (let t = 0; t < 50 && (await inNetns(sandbox.netns, 'curl', ['-s', '-m', '1', `http://${sandbox.ip}:8080/`])).code !== 0; t++) await new Promise((r) => setTimeout(r, 100));
    return sandbox;
  }

  beforeAll(async () => {
    await destroyLan(plan);
    lan = await createLan(plan);
  });

  afterAll(async () => {
    await Promise.all(children.map(stopProcess));
    await Promise.all(pods.map((p) => p.container.stop(0)));
    await destroyLan(plan);
    rmSync(logs, { recursive: true, force: true });
  });

  it.each([
    { name: 'client -> node-1 over IPv4', family: '-4', to: 0 },
    { name: 'client -> node-2 over IPv6', family: '-6', to: 1 },
  ])('$name', async ({ family, to }) => {
    const target = family === '-4' ? node(to).v4 : node(to).v6;
    const r = await inNetns(lan.client.netns, 'ping', [family, '-c', '1', '-W', '2', target]);
    expect(r.code).toBe(0);
  });

  it('Pods on each node reach each other over the LAN routes (host-gateway Pod network)', async () => {
    const a = await startPod(0, 'pod-a');
    const b = await startPod(1, 'pod-b');
    expect([a.ip, b.ip]).toEqual(['10.244.1.2', '10.244.2.2']);
    // Pod to Pod across nodes: pod-a's node routes 10.244.2.0/24 via node-2's LAN address.
    expect((await inNetns(a.netns, 'curl', ['-sS', '-m', '3', `http://${b.ip}:8080/`])).stdout).toBe('pod-b on node-2\n');
    // Node to its own Pod over cni0, and to the other node's Pod.
    expect((await inNetns(node(0).netns, 'curl', ['-sS', '-m', '3', `http://${b.ip}:8080/`])).stdout).toBe('pod-b on node-2\n');
    expect((await inNetns(node(1).netns, 'curl', ['-sS', '-m', '3', `http://${b.ip}:8080/`])).stdout).toBe('pod-b on node-2\n');
  });

  it('a Pod reaches hosts outside the Pod network (the API server\'s, the client\'s), masqueraded to its node\'s LAN address', async () => {
    const a = pods[0]?.sandbox;
    expect(a).toBeDefined();
    // The client has no route to 10.244.0.0/16 (as a LAN host has none): only a masqueraded
    // packet gets an answer.
    expect((await inNetns(lan.client.netns, 'ip', ['-4', 'route', 'get', a?.ip ?? ''])).code).not.toBe(0);
    expect((await inNetns(a?.netns ?? '', 'ping', ['-4', '-c', '1', '-W', '2', lan.client.v4])).code).toBe(0);
  });

  it('nodes run the kube-proxy stand-in; the kernel answers no ARP or NS for Service IPs', async () => {
    const [a, b] = pods.map((p): Backend => ({ host: p.sandbox.ip, port: 8080, node: p.sandbox.ip.startsWith('10.244.1.') ? 'node-1' : 'node-2' }));
    const services: ServiceRouteView[] = [
      { key: 'default/web', clusterIps: [], ingressIps: [v4Svc, v6Svc], externalLocal: true, ports: [{ port: 80, protocol: 'TCP', backends: [a!, b!] }] },
      { key: 'default/remote', clusterIps: [], ingressIps: [v4Remote], externalLocal: false, ports: [{ port: 80, protocol: 'TCP', backends: [b!] }] },
    ];
    for (const n of lan.nodes) {
      children.push(await startNodeProcess(n.netns, desiredRouting(n.name, [n.v4], services).routing));
    }
    // Controls first, so that the negative checks below can fail: the kernel answers for node addresses.
    expect((await inNetns(lan.client.netns, 'arping', ['-c', '1', '-w', '2', '-I', 'eth0', node(0).v4])).code).toBe(0);
    expect((await inNetns(lan.client.netns, 'ndisc6', ['-r', '1', '-w', '1000', node(0).v6, 'eth0'])).code).toBe(0);
    // The Service IPs sit on every node's kube-ipvs0, yet nobody answers for them (no speaker runs).
    expect((await inNetns(lan.client.netns, 'arping', ['-c', '2', '-w', '2', '-I', 'eth0', v4Svc])).code).not.toBe(0);
    expect((await inNetns(lan.client.netns, 'ndisc6', ['-r', '2', '-w', '500', v6Svc, 'eth0'])).code).not.toBe(0);
  });

  it.each([
    { name: 'Local Service IP announced by node-1 -> the Pod on node-1', url: () => `http://${v4Svc}/`, via: 0, want: 'pod-a on node-1' },
    { name: 'Local Service IP announced by node-2 -> the Pod on node-2', url: () => `http://${v4Svc}/`, via: 1, want: 'pod-b on node-2' },
    { name: 'IPv6 Service IP announced by node-2 -> the IPv4 Pod on node-2', url: () => `http://[${v6Svc}]/`, via: 1, want: 'pod-b on node-2' },
    { name: 'endpoint only on node-2, announced by node-1 -> forwarded to the Pod over the LAN', url: () => `http://${v4Remote}/`, via: 0, want: 'pod-b on node-2' },
  ])('$name', async ({ url, via, want }) => {
    // Stand in for the speaker: point the client's neighbour entries at the announcing node.
    const mac = await macOf(node(via).netns, 'eth0');
    for (const ip of [v4Svc, v6Svc, v4Remote]) {
      await inNetns(lan.client.netns, 'ip', ['neigh', 'replace', ip, 'lladdr', mac, 'dev', 'eth0', 'nud', 'permanent']);
    }
    const r = await inNetns(lan.client.netns, 'curl', ['-sS', '-g', '--max-time', '5', url()]);
    expect(r.stdout).toBe(`${want}\n`);
  });

  it('destroy leaves no namespace, link or Pod process behind (Pods still running), and is idempotent', async () => {
    await Promise.all(children.map(stopProcess));
    const pids = pods.map((p) => p.container.pid);
    await destroyLan(plan);
    await Promise.all(pods.map((p) => p.container.exited));
    expect(pids.filter((pid) => pid !== undefined && existsSync(`/proc/${String(pid)}`))).toEqual([]);
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
