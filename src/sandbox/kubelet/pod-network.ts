import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { AppError } from '../../shared/errors.js';
import { clusterPodCidr } from '../seed.js';
import { fnv32a } from '../workloads/pods.js';

const run = promisify(execFile);

/**
 * The sandbox's Pod network, a host-gateway CNI in the way of the `bridge` plugin with
 * `host-local` IPAM and flannel's host-gw backend
 * (https://www.cni.dev/plugins/current/main/bridge/, https://github.com/flannel-io/flannel/blob/master/Documentation/backends.md#host-gw):
 * each node namespace has a bridge `cni0` holding the first address of its Pod CIDR
 * (10.244.N.0/24 -> 10.244.N.1), forwards IPv4, and routes every other node's Pod CIDR via that
 * node's LAN address; each Pod that is not hostNetwork gets a namespace of its own, a veth whose
 * node end is on `cni0`, an address from the node's CIDR and a default route via the bridge.
 * Traffic from a Pod to anything outside the Pod network is masqueraded to the node's address, as
 * the bridge plugin's `ipMasq` and flannel's `--ip-masq` do: hosts on the LAN (the API server's
 * among them) have no route to the Pod CIDRs, so without it a Pod's connection to the API server
 * never gets an answer.
 * Names derive from the LAN plan and the Pod's uid, so `sandbox down` finds them after a crash.
 */

/** The bridge in each node namespace. */
export const podBridge = 'cni0';

/** One node's share of the Pod network. */
export interface NodePodNet {
  readonly node: string;
  /** The node's namespace. */
  readonly netns: string;
  /** The node's LAN address: other nodes route its Pod CIDR via it. */
  readonly lanIp: string;
  /** `10.244.N.0/24`. */
  readonly cidr: string;
}

/** `10.244.N.0/24` -> `10.244.N` and the gateway `10.244.N.1`; undefined for anything but an IPv4 /24. */
export function parsePodCidr(cidr: string): { readonly base: string; readonly gateway: string } | undefined {
  const m = /^(\d{1,3}\.\d{1,3}\.\d{1,3})\.0\/24$/.exec(cidr);
  if (m?.[1] === undefined) return undefined;
  return { base: m[1], gateway: `${m[1]}.1` };
}

/** The prefix of every Pod namespace of a node: `<node netns>-p-`. */
export function podNetnsPrefix(nodeNetns: string): string {
  return `${nodeNetns}-p-`;
}

/** The namespace of a Pod (by uid) on a node. */
export function podNetnsName(nodeNetns: string, uid: string): string {
  return `${podNetnsPrefix(nodeNetns)}${fnv32a(uid).toString(36)}`;
}

/** The node end of a Pod's veth (at most 15 bytes, IFNAMSIZ - 1). */
export function podVethName(uid: string): string {
  return `veth${fnv32a(`veth/${uid}`).toString(16).padStart(8, '0')}`;
}

/**
 * The next free host address of the CIDR after `last` (.2 to .254; .1 is the bridge), wrapping
 * around, or undefined when full. As the host-local IPAM plugin does (it resumes after its last
 * reserved address), so a Pod does not get the address a Pod just gave up: the node's neighbour
 * cache may still map it to the old Pod's MAC for seconds, and the new Pod's probes from the node
 * would fail meanwhile.
 */
export function pickPodIp(cidr: string, used: ReadonlySet<string>, last?: string): string | undefined {
  const parsed = parsePodCidr(cidr);
  if (parsed === undefined) return undefined;
  const lastHost = last?.startsWith(`${parsed.base}.`) === true ? Number(last.slice(parsed.base.length + 1)) : 1;
  for (let i = 0; i < 253; i++) {
    const host = ((lastHost - 2 + 1 + i) % 253 + 253) % 253 + 2;
    const ip = `${parsed.base}.${String(host)}`;
    if (!used.has(ip)) return ip;
  }
  return undefined;
}

/** Runs `ip ARGS`, turning a failure into an AppError with ip's own message. */
async function ip(args: readonly string[]): Promise<void> {
  try {
    await run('ip', [...args]);
  } catch (e: unknown) {
    const stderr = (e as { stderr?: unknown }).stderr;
    throw new AppError('ERR_POD_NETWORK', `ip ${args.join(' ')}: ${typeof stderr === 'string' ? stderr.trim() : String(e)}`, { cause: e });
  }
}

/**
 * Makes a node's half of the Pod network: `cni0` with the gateway address, IPv4 forwarding, and
 * a route to every other node's Pod CIDR via its LAN address.
 */
export async function createNodePodNetwork(self: NodePodNet, all: readonly NodePodNet[]): Promise<void> {
  const parsed = parsePodCidr(self.cidr);
  if (parsed === undefined) throw new AppError('ERR_POD_NETWORK', `node ${self.node}: spec.podCIDR "${self.cidr}" is not an IPv4 /24`);
  const n = self.netns;
  await ip(['-n', n, 'link', 'add', podBridge, 'type', 'bridge', 'stp_state', '0', 'forward_delay', '0']);
  await ip(['-n', n, 'addr', 'add', `${parsed.gateway}/24`, 'dev', podBridge]);
  await ip(['-n', n, 'link', 'set', podBridge, 'up']);
  await ip(['netns', 'exec', n, 'sysctl', '-qw', 'net.ipv4.ip_forward=1']);
  for (const other of all) {
    if (other.node !== self.node) await ip(['-n', n, 'route', 'replace', other.cidr, 'via', other.lanIp]);
  }
  await masquerade(n, self.cidr);
}

/** `iptables -t nat -A POSTROUTING -s <pod CIDR> ! -d <cluster Pod network> -j MASQUERADE` in the node's namespace. */
async function masquerade(netns: string, cidr: string): Promise<void> {
  const rule = ['-t', 'nat', '-A', 'POSTROUTING', '-s', cidr, '!', '-d', clusterPodCidr, '-j', 'MASQUERADE'];
  await ip(['netns', 'exec', netns, 'iptables', '-w', ...rule]);
}

/** What a Pod's namespace is made of. */
export interface PodSandbox {
  readonly netns: string;
  readonly veth: string;
  readonly ip: string;
}

/**
 * Makes a Pod's namespace, its veth onto the node's `cni0`, its address and default route. On
 * failure it removes what it made, then throws.
 */
export async function createPodSandbox(node: NodePodNet, uid: string, podIp: string): Promise<PodSandbox> {
  const parsed = parsePodCidr(node.cidr);
  if (parsed === undefined) throw new AppError('ERR_POD_NETWORK', `node ${node.node}: spec.podCIDR "${node.cidr}" is not an IPv4 /24`);
  const sandbox: PodSandbox = { netns: podNetnsName(node.netns, uid), veth: podVethName(uid), ip: podIp };
  // A crashed kubelet may have left one behind: start clean.
  await removePodSandbox(node, sandbox);
  try {
    await ip(['netns', 'add', sandbox.netns]);
    await ip(['-n', sandbox.netns, 'link', 'set', 'lo', 'up']);
    await ip(['-n', node.netns, 'link', 'add', sandbox.veth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', sandbox.netns]);
    await ip(['-n', node.netns, 'link', 'set', sandbox.veth, 'master', podBridge, 'up']);
    await ip(['-n', sandbox.netns, 'addr', 'add', `${podIp}/24`, 'dev', 'eth0']);
    await ip(['-n', sandbox.netns, 'link', 'set', 'eth0', 'up']);
    await ip(['-n', sandbox.netns, 'route', 'add', 'default', 'via', parsed.gateway]);
  } catch (e: unknown) {
    await removePodSandbox(node, sandbox);
    throw e;
  }
  return sandbox;
}

/** Kills every process left in a namespace (a container that outlived its kubelet). */
export async function killNetnsProcesses(netns: string): Promise<void> {
  const { stdout } = await run('ip', ['netns', 'pids', netns]).catch(() => ({ stdout: '' }));
  for (const pid of stdout.split('\n').map((s) => Number(s.trim())).filter((p) => Number.isInteger(p) && p > 0)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

/** Removes a Pod's namespace and veth, killing anything still in it. Idempotent. */
export async function removePodSandbox(node: NodePodNet, sandbox: Pick<PodSandbox, 'netns' | 'veth'>): Promise<void> {
  await killNetnsProcesses(sandbox.netns);
  await ip(['netns', 'del', sandbox.netns]).catch(() => undefined);
  await ip(['-n', node.netns, 'link', 'del', sandbox.veth]).catch(() => undefined);
}

/** The namespaces of every Pod of a node that exist now (after a crash, before a new start). */
export async function listPodNetns(nodeNetns: string): Promise<string[]> {
  const { stdout } = await run('ip', ['netns', 'list']).catch(() => ({ stdout: '' }));
  const prefix = podNetnsPrefix(nodeNetns);
  return stdout.split('\n').map((line) => line.split(' ')[0] ?? '').filter((name) => name.startsWith(prefix));
}
