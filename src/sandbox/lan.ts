import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { AppError } from '../shared/errors.js';
import { createNodePodNetwork, killNetnsProcesses, type NodePodNet } from './kubelet/pod-network.js';
import { podCidrOf } from './seed.js';

const run = promisify(execFile);

/**
 * What the sandbox LAN looks like: every name and address is derived from this plan, so `down`
 * can recompute what `up` made even after a crash (see docs/sandbox-network.md).
 */
export interface LanPlan {
  /** Prefix of every namespace and host link name, `ironlb` for the real sandbox; tests use a unique one. */
  readonly prefix: string;
  readonly nodes: number;
  /** First three octets of the IPv4 /24, e.g. `172.31.213`. */
  readonly v4Net: string;
  /** The IPv6 /64 prefix ending in `::`, e.g. `fd00:213::`. */
  readonly v6Net: string;
  /** Whether to make the veth into the host namespace (tests leave it out: they touch no host addresses). */
  readonly hostLink?: boolean;
}

/** The defaults of `ironlb sandbox up`, as docs/sandbox.md describes. */
export const defaultLanPlan: LanPlan = { prefix: 'ironlb', nodes: 3, v4Net: '172.31.213', v6Net: 'fd00:213::' };

/** One host on the LAN: its namespace, interface and addresses. */
export interface LanHost {
  readonly name: string;
  readonly netns: string;
  readonly v4: string;
  readonly v6: string;
}

/** The names and addresses a plan stands for. */
export interface LanLayout {
  /** The namespace that holds only the bridge. */
  readonly lanNetns: string;
  readonly bridge: string;
  /** The host end of the one veth into the host namespace (the API server is reached through it). */
  readonly hostLink: string;
  readonly host: { readonly v4: string; readonly v6: string };
  readonly nodes: readonly LanHost[];
  readonly client: LanHost;
  /** The interface name inside node and client namespaces. */
  readonly lanInterface: string;
  /** The dummy interface that holds Service IPs on each node (kube-proxy IPVS spelling). */
  readonly serviceInterface: string;
  readonly v4PrefixLength: 24;
  readonly v6PrefixLength: 64;
}

/** Derives names and addresses: node i is .(10+i) and ::(10+i) written with the same digits (.11 and ::11), the client .100 / ::100, the host .1 / ::1. */
export function lanLayout(plan: LanPlan): LanLayout {
  if (plan.nodes < 0 || plan.nodes > 80) throw new AppError('ERR_LAN_PLAN', `sandbox LAN: nodes must be 0..80, got ${plan.nodes}`);
  // Interface names are at most 15 bytes (IFNAMSIZ - 1).
  const hostLink = `${plan.prefix}-host`;
  if (hostLink.length > 15) throw new AppError('ERR_LAN_PLAN', `sandbox LAN: prefix "${plan.prefix}" is too long for interface names`);
  const hostAt = (name: string, netns: string, suffix: number): LanHost => ({
    name,
    netns,
    v4: `${plan.v4Net}.${suffix}`,
    v6: `${plan.v6Net}${suffix}`,
  });
  const nodes = Array.from({ length: plan.nodes }, (_, i) => hostAt(`node-${i + 1}`, `${plan.prefix}-node-${i + 1}`, 11 + i));
  return {
    lanNetns: `${plan.prefix}-lan`,
    bridge: 'br0',
    hostLink,
    host: { v4: `${plan.v4Net}.1`, v6: `${plan.v6Net}1` },
    nodes,
    client: hostAt('client', `${plan.prefix}-client`, 100),
    lanInterface: 'eth0',
    serviceInterface: 'kube-ipvs0',
    v4PrefixLength: 24,
    v6PrefixLength: 64,
  };
}

async function ip(args: readonly string[]): Promise<void> {
  try {
    await run('ip', [...args]);
  } catch (e: unknown) {
    const stderr = (e as { stderr?: unknown }).stderr;
    throw new AppError('ERR_LAN_IP', `ip ${args.join(' ')}: ${typeof stderr === 'string' ? stderr.trim() : String(e)}`, { cause: e });
  }
}

async function sysctl(netns: string, settings: readonly string[]): Promise<void> {
  await ip(['netns', 'exec', netns, 'sysctl', '-qw', ...settings]);
}

/**
 * Node and client namespaces: kube-proxy's strictARP settings, so that the kernel answers ARP
 * only for addresses on the interface it arrived on and sources ARP from that interface's own
 * address (LAYER2.md) - Service IPs on `kube-ipvs0` are then answered by ironlb's speaker only.
 */
const strictArp = [
  'net.ipv4.conf.all.arp_ignore=1',
  'net.ipv4.conf.all.arp_announce=2',
  'net.ipv4.conf.default.arp_ignore=1',
  'net.ipv4.conf.default.arp_announce=2',
  // DAD only slows a LAN whose addresses we hand out ourselves.
  'net.ipv6.conf.all.accept_dad=0',
  'net.ipv6.conf.default.accept_dad=0',
];

async function addMember(layout: LanLayout, member: LanHost, index: number, withDummy: boolean): Promise<void> {
  const { lanNetns, bridge, lanInterface } = layout;
  const port = `p${index}`;
  await ip(['netns', 'add', member.netns]);
  await sysctl(member.netns, strictArp);
  await ip(['-n', lanNetns, 'link', 'add', port, 'type', 'veth', 'peer', 'name', lanInterface, 'netns', member.netns]);
  await ip(['-n', lanNetns, 'link', 'set', port, 'master', bridge, 'up']);
  await ip(['-n', member.netns, 'link', 'set', 'lo', 'up']);
  await ip(['-n', member.netns, 'addr', 'add', `${member.v4}/${layout.v4PrefixLength}`, 'dev', lanInterface]);
  await ip(['-n', member.netns, 'addr', 'add', `${member.v6}/${layout.v6PrefixLength}`, 'dev', lanInterface, 'nodad']);
  await ip(['-n', member.netns, 'link', 'set', lanInterface, 'up']);
  if (withDummy) await addServiceInterface(member.netns, layout.serviceInterface);
}

/**
 * The dummy interface for Service IPs. Kernels without the dummy module (some containers) get
 * none: the stand-in then puts Service IPs on `lo`, which arp_ignore=1 equally keeps silent
 * (see `serviceInterfaceName`).
 */
async function addServiceInterface(netns: string, name: string): Promise<void> {
  try {
    await ip(['-n', netns, 'link', 'add', name, 'type', 'dummy']);
  } catch (e: unknown) {
    if (e instanceof AppError && e.message.includes('Unknown device type')) return;
    throw e;
  }
  await ip(['-n', netns, 'link', 'set', name, 'up']);
}

async function addBridge(layout: LanLayout): Promise<void> {
  const { lanNetns, bridge } = layout;
  await ip(['netns', 'add', lanNetns]);
  await ip(['-n', lanNetns, 'link', 'set', 'lo', 'up']);
  await ip(['netns', 'exec', lanNetns, 'sysctl', '-qw', 'net.ipv6.conf.all.disable_ipv6=0', 'net.ipv6.conf.default.accept_dad=0']);
  // No STP and no forwarding delay: ports forward as soon as they are up.
  await ip(['-n', lanNetns, 'link', 'add', bridge, 'type', 'bridge', 'stp_state', '0', 'forward_delay', '0']);
  await ip(['-n', lanNetns, 'link', 'set', bridge, 'up']);
}

async function addHostLink(layout: LanLayout): Promise<void> {
  const { lanNetns, bridge, hostLink } = layout;
  await ip(['link', 'add', hostLink, 'type', 'veth', 'peer', 'name', 'host', 'netns', lanNetns]);
  await ip(['-n', lanNetns, 'link', 'set', 'host', 'master', bridge, 'up']);
  await run('sysctl', ['-qw', `net.ipv6.conf.${hostLink}.accept_dad=0`]).catch(() => undefined);
  await ip(['addr', 'add', `${layout.host.v4}/${layout.v4PrefixLength}`, 'dev', hostLink]);
  await ip(['addr', 'add', `${layout.host.v6}/${layout.v6PrefixLength}`, 'dev', hostLink, 'nodad']);
  await ip(['link', 'set', hostLink, 'up']);
}

/**
 * Builds the LAN: a bridge in its own namespace, one veth per node and for the client, and one
 * veth into the host namespace (the host is .1/::1 on the LAN, so node processes reach the API
 * server at the host's LAN address). On any failure it removes what it made, then throws.
 */
export async function createLan(plan: LanPlan): Promise<LanLayout> {
  const layout = lanLayout(plan);
  try {
    await addBridge(layout);
    if (plan.hostLink !== false) await addHostLink(layout);
    for (const [i, node] of layout.nodes.entries()) await addMember(layout, node, i + 1, true);
    await addMember(layout, layout.client, 0, false);
    const podNets = nodePodNets(layout);
    for (const net of podNets) await createNodePodNetwork(net, podNets);
  } catch (e: unknown) {
    await destroyLan(plan);
    throw e;
  }
  return layout;
}

/** Each node's share of the Pod network (kubelet/pod-network.ts): its Pod CIDR, routed via its LAN address. */
export function nodePodNets(layout: LanLayout): NodePodNet[] {
  return layout.nodes.map((n, i) => ({ node: n.name, netns: n.netns, lanIp: n.v4, cidr: podCidrOf(i) }));
}

async function listNetns(): Promise<readonly string[]> {
  const { stdout } = await run('ip', ['netns', 'list']);
  return stdout.split('\n').map((line) => line.split(' ')[0] ?? '').filter((name) => name !== '');
}

/**
 * Removes every namespace and link the plan stands for, also node namespaces beyond `plan.nodes`
 * left by an earlier, larger run. Idempotent: what is already gone is skipped.
 */
export async function destroyLan(plan: LanPlan): Promise<void> {
  const layout = lanLayout(plan);
  const ours = new Set([layout.lanNetns, layout.client.netns, ...layout.nodes.map((n) => n.netns)]);
  const prefix = plan.prefix.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  // Node namespaces, and the Pod namespaces of each (kubelet/pod-network.ts: `<node netns>-p-<id>`).
  const nodePattern = new RegExp(`^${prefix}-node-\\d+(-p-[a-z0-9]+)?$`);
  const present = (await listNetns()).filter((name) => ours.has(name) || nodePattern.test(name));
  // Processes keep a deleted namespace alive: stop containers and agents a crash left behind first.
  for (const name of present) await killNetnsProcesses(name);
  for (const name of present) await ip(['netns', 'del', name]).catch(() => undefined);
  // Deleting the LAN namespace destroys the veth pair, host end included; this covers a crash before it moved.
  await ip(['link', 'del', layout.hostLink]).catch(() => undefined);
}
