import * as k8s from '@kubernetes/client-node';
import { ipReach, reachesIp, type NodeReach } from '../election/reach.js';
import { conflictReports, quarantinedAddresses } from '../controller/quarantine.js';
import { formatCidr } from '../ip/cidr.js';
import type { NodeName } from '../shared/brand.js';
import { interfacesAnnotation, reachOf, toInterfacesRecord, type InterfacesRecord } from '../speaker/interfaces-record.js';
import { announcingAnnotation } from '../speaker/lease-view.js';
import { ironlbNamespace } from './seed.js';

/** One line of `sandbox status` about a node. */
export interface NodeStatus {
  readonly name: string;
  readonly speaker: 'alive' | 'expired' | 'released' | 'absent';
  readonly announcing: readonly string[];
  /** What its speaker published in `ironlb.io/interfaces` (docs/election.md, "Reach"). */
  readonly interfaces: InterfacesRecord;
}

/** One line about a LoadBalancer Service. */
export interface ServiceStatus {
  readonly key: string;
  readonly ips: readonly string[];
  readonly owners: readonly string[];
  /** Alive nodes out for `noInterface`: no published interface on the subnet of one of its IPs. */
  readonly noInterface: readonly string[];
  /** Some IP of it is on a subnet no alive node has an interface on (announced under the fallback). */
  readonly interfaceFallback: boolean;
}

/** One address conflict a speaker reports on its Lease (`ironlb.io/conflicts`, docs/speaker.md "Address conflicts"). */
export interface ConflictStatus {
  readonly ip: string;
  /** The node whose speaker saw the other MAC. */
  readonly seenBy: string;
  readonly mac: string;
  /** The cluster node that MAC belongs to (split brain, IPVS without strictARP), if it is one. */
  readonly node: string | undefined;
  readonly iface: string;
  /** When the speaker first saw it (RFC 3339), if it says. */
  readonly since: string | undefined;
  /** The controller keeps the address out of allocation (controller/quarantine.ts, over the same Leases). */
  readonly quarantined: boolean;
}

export interface SandboxStatus {
  readonly controllerLeader: string | undefined;
  readonly nodes: readonly NodeStatus[];
  readonly services: readonly ServiceStatus[];
  readonly conflicts: readonly ConflictStatus[];
}

function speakerState(lease: k8s.V1Lease | undefined, now: number): NodeStatus['speaker'] {
  if (lease === undefined) return 'absent';
  const spec = lease.spec ?? {};
  if ((spec.holderIdentity ?? '') === '') return 'released';
  // client-node 1.4 hands Lease times over as strings despite its Date types.
  const renew = Date.parse(String(spec.renewTime ?? ''));
  const duration = (spec.leaseDurationSeconds ?? 0) * 1000;
  // status runs on the machine that runs every speaker: one clock, so comparing is fair here
  return renew + duration >= now ? 'alive' : 'expired';
}

function toNodeStatus(name: string, leaseOf: ReadonlyMap<string, k8s.V1Lease>, now: number): NodeStatus {
  const lease = leaseOf.get(`ironlb-speaker-${name}`);
  const state = speakerState(lease, now);
  const annotations = lease?.metadata?.annotations ?? {};
  const raw = state === 'alive' ? (annotations[announcingAnnotation] ?? '') : '';
  const interfaces = toInterfacesRecord(annotations[interfacesAnnotation]);
  return { name, speaker: state, announcing: raw.split(',').map((s) => s.trim()).filter((s) => s !== ''), interfaces };
}

/** Reads nodes, speaker Leases and LoadBalancer Services from the sandbox API server. */
export async function readSandboxStatus(kc: k8s.KubeConfig, now: number): Promise<SandboxStatus> {
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const coord = kc.makeApiClient(k8s.CoordinationV1Api);
  const [nodes, leases, services] = await Promise.all([
    core.listNode(),
    coord.listNamespacedLease({ namespace: ironlbNamespace }),
    core.listServiceForAllNamespaces(),
  ]);
  const leaseOf = new Map(leases.items.map((l) => [l.metadata?.name ?? '', l]));
  const nodeStatus = nodes.items.map((n) => toNodeStatus(n.metadata?.name ?? '', leaseOf, now));
  const owners = (ip: string): string[] => nodeStatus.filter((n) => n.announcing.includes(ip)).map((n) => n.name);
  const lbs = services.items.filter((s) => s.spec?.type === 'LoadBalancer').map((s): ServiceStatus => {
    const ips = (s.status?.loadBalancer?.ingress ?? []).map((i) => i.ip ?? '').filter((ip) => ip !== '');
    return { key: `${s.metadata?.namespace ?? ''}/${s.metadata?.name ?? ''}`, ips, owners: [...new Set(ips.flatMap(owners))], ...reachStatus(ips, nodeStatus) };
  });
  const leader = leaseOf.get('ironlb-controller')?.spec?.holderIdentity;
  return { controllerLeader: leader === undefined || leader === '' ? undefined : leader, nodes: nodeStatus, services: lbs, conflicts: conflictStatus(leases.items) };
}

/** The speakers' conflict reports, each marked quarantined as the controller judges it. */
export function conflictStatus(leases: Parameters<typeof conflictReports>[0]): readonly ConflictStatus[] {
  const quarantine = quarantinedAddresses(leases);
  return conflictReports(leases).map((r) => ({ ip: r.text, seenBy: r.reporter, mac: r.mac, node: r.node, iface: r.iface, since: r.since, quarantined: r.node === undefined && quarantine.has(r.text) }));
}

/** The election's reach judgement (election/reach.ts) over the alive speakers' records. */
function reachStatus(ips: readonly string[], nodes: readonly NodeStatus[]): Pick<ServiceStatus, 'noInterface' | 'interfaceFallback'> {
  const alive = nodes.filter((n) => n.speaker === 'alive').map((n) => n.name as NodeName);
  const reach = new Map<NodeName, NodeReach>(nodes.map((n) => [n.name as NodeName, reachOf(n.interfaces)]));
  const perIp = ips.map((ip) => ipReach(ip, alive, reach));
  return {
    noInterface: alive.filter((node) => perIp.some((r) => !reachesIp(node, r, reach))),
    interfaceFallback: perIp.some((r) => r.fallback),
  };
}

/** `eth0 192.0.2.0/24,2001:db8::/64; eth1 -`, or why there is nothing to show. */
function interfacesText(record: InterfacesRecord): string {
  if (record.kind === 'absent') return 'unknown';
  if (record.kind === 'invalid') return 'unreadable';
  if (record.interfaces.length === 0) return 'none';
  return record.interfaces.map((i) => `${i.name} ${i.prefixes.map(formatCidr).join(',') || '-'}`).join('; ');
}

function noInterfaceText(s: ServiceStatus): string {
  const out = [...s.noInterface];
  if (s.interfaceFallback) out.push('fallback');
  return out.join(',') || '-';
}

function table(rows: readonly (readonly string[])[]): string {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd((widths[i] ?? 0) + 2))).join('').trimEnd()).join('\n');
}

/** The human text of `sandbox status`; `pids` are the sandbox's child processes by name. */
export function formatSandboxStatus(s: SandboxStatus, pids: Readonly<Record<string, number>> = {}): string {
  const lines = [`controller: ${s.controllerLeader === undefined ? 'no leader' : `leader ${s.controllerLeader}`}`, ''];
  const pid = (node: string): string => String(pids[`speaker-${node}`] ?? '-');
  lines.push(table([['NODE', 'SPEAKER', 'SPEAKER-PID', 'ANNOUNCING', 'INTERFACES'], ...s.nodes.map((n) => [n.name, n.speaker, pid(n.name), n.announcing.join(',') || '-', interfacesText(n.interfaces)])]));
  lines.push('');
  if (s.services.length === 0) lines.push('no LoadBalancer Services');
  else lines.push(table([['SERVICE', 'EXTERNAL-IP', 'ANNOUNCED-BY', 'NO-INTERFACE'], ...s.services.map((v) => [v.key, v.ips.join(',') || '<pending>', v.owners.join(',') || '-', noInterfaceText(v)])]));
  lines.push('');
  if (s.conflicts.length === 0) lines.push('no address conflicts');
  else lines.push(table([['CONFLICT-IP', 'SEEN-BY', 'OTHER-MAC', 'OTHER-NODE', 'INTERFACE', 'SINCE', 'STATE'], ...s.conflicts.map((c) => [c.ip, c.seenBy, c.mac, c.node ?? '-', c.iface, c.since ?? '-', c.quarantined ? 'quarantined' : 'two-answerers'])]));
  return `${lines.join('\n')}\n`;
}
