import * as k8s from '@kubernetes/client-node';
import { announcingAnnotation } from '../speaker/lease-view.js';
import { ironlbNamespace } from './seed.js';


/** One line of `sandbox status` about a node. */
export interface NodeStatus {
  readonly name: string;
  readonly speaker: 'alive' | 'expired' | 'released' | 'absent';
  readonly announcing: readonly string[];
}

/** One line about a LoadBalancer Service. */
export interface ServiceStatus {
  readonly key: string;
  readonly ips: readonly string[];
  readonly owners: readonly string[];
}

export interface SandboxStatus {
  readonly controllerLeader: string | undefined;
  readonly nodes: readonly NodeStatus[];
  readonly services: readonly ServiceStatus[];
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
  const nodeStatus = nodes.items.map((n): NodeStatus => {
    const name = n.metadata?.name ?? '';
    const lease = leaseOf.get(`ironlb-speaker-${name}`);
    const state = speakerState(lease, now);
    const raw = state === 'alive' ? (lease?.metadata?.annotations?.[announcingAnnotation] ?? '') : '';
    return { name, speaker: state, announcing: raw.split(',').map((s) => s.trim()).filter((s) => s !== '') };
  });
  const owners = (ip: string): string[] => nodeStatus.filter((n) => n.announcing.includes(ip)).map((n) => n.name);
  const lbs = services.items.filter((s) => s.spec?.type === 'LoadBalancer').map((s): ServiceStatus => {
    const ips = (s.status?.loadBalancer?.ingress ?? []).map((i) => i.ip ?? '').filter((ip) => ip !== '');
    return { key: `${s.metadata?.namespace ?? ''}/${s.metadata?.name ?? ''}`, ips, owners: [...new Set(ips.flatMap(owners))] };
  });
  const leader = leaseOf.get('ironlb-controller')?.spec?.holderIdentity;
  return { controllerLeader: leader === undefined || leader === '' ? undefined : leader, nodes: nodeStatus, services: lbs };
}

function table(rows: readonly (readonly string[])[]): string {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd((widths[i] ?? 0) + 2))).join('').trimEnd()).join('\n');
}

/** The human text of `sandbox status`; `pids` are the sandbox's child processes by name. */
export function formatSandboxStatus(s: SandboxStatus, pids: Readonly<Record<string, number>> = {}): string {
  const lines = [`controller: ${s.controllerLeader === undefined ? 'no leader' : `leader ${s.controllerLeader}`}`, ''];
  const pid = (node: string): string => String(pids[`speaker-${node}`] ?? '-');
  lines.push(table([['NODE', 'SPEAKER', 'SPEAKER-PID', 'ANNOUNCING'], ...s.nodes.map((n) => [n.name, n.speaker, pid(n.name), n.announcing.join(',') || '-'])]));
  lines.push('');
  if (s.services.length === 0) lines.push('no LoadBalancer Services');
  else lines.push(table([['SERVICE', 'EXTERNAL-IP', 'ANNOUNCED-BY'], ...s.services.map((v) => [v.key, v.ips.join(',') || '<pending>', v.owners.join(',') || '-'])]));
  return `${lines.join('\n')}\n`;
}
