import type { JsonObject } from './apiserver/object.js';
import type { LanHost } from './lan.js';

/** The namespace ironlb runs in, as in manifests/ironlb.yaml. */
export const ironlbNamespace = 'ironlb-system';

/** The default pool of the sandbox: .200-.250 and ::200-::250 of the LAN (docs/sandbox.md). */
export function sandboxConfigYaml(v4Net: string, v6Net: string): string {
  return [
    'address-pools:',
    '- name: default',
    '  protocol: layer2',
    '  addresses:',
    `  - ${v4Net}.200-${v4Net}.250`,
    `  - ${v6Net}200-${v6Net}250`,
    '',
  ].join('\n');
}

export function namespaceObject(name: string): JsonObject {
  return { apiVersion: 'v1', kind: 'Namespace', metadata: { name } };
}

/**
 * The pool ConfigMap as `kubectl apply -f` leaves it: with the last-applied-configuration
 * annotation (https://kubernetes.io/docs/tasks/manage-kubernetes-objects/declarative-config/#how-apply-calculates-differences-and-merges-changes),
 * so the walk-through's own `kubectl apply -f` of a pool updates it without kubectl's warning
 * about a missing annotation, as on a cluster where the admin applied the first pool.
 */
export function configMapObject(yaml: string): JsonObject {
  const applied = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { annotations: {}, name: 'config', namespace: ironlbNamespace }, data: { config: yaml } };
  const lastApplied = `${JSON.stringify(applied)}\n`;
  return { ...applied, metadata: { ...applied.metadata, annotations: { 'kubectl.kubernetes.io/last-applied-configuration': lastApplied } } };
}

/** The cluster's Pod network, which every node's Pod CIDR is cut from (kubeadm `--pod-network-cidr`, flannel's default). */
export const clusterPodCidr = '10.244.0.0/16';

/** The Pod CIDR of the node at `index` (0-based): 10.244.N.0/24 with N from 1, as a host-gateway CNI's IPAM hands them out. */
export function podCidrOf(index: number): string {
  return `10.244.${String(index + 1)}.0/24`;
}

/**
 * A Node as a kubelet registers it: InternalIPs, Ready, hostname label, its Pod CIDR. The first
 * node is the control plane, tainted and labelled as kubeadm does it
 * (https://kubernetes.io/docs/reference/setup-tools/kubeadm/implementation-details/), so that
 * only Pods tolerating `node-role.kubernetes.io/control-plane:NoSchedule` (ironlb's speakers) run
 * there. kubeadm's `node.kubernetes.io/exclude-from-external-load-balancers` label is left off:
 * ironlb honours it, and the sandbox wants node-1 to announce like the others.
 */
export function nodeObject(node: LanHost, now: Date, index: number): JsonObject {
  const time = now.toISOString().replace(/\.\d{3}Z$/, 'Z');
  const controlPlane = index === 0;
  const labels = { 'kubernetes.io/hostname': node.name, 'kubernetes.io/os': 'linux', ...(controlPlane ? { 'node-role.kubernetes.io/control-plane': '' } : {}) };
  const taints = controlPlane ? [{ key: 'node-role.kubernetes.io/control-plane', effect: 'NoSchedule' }] : [];
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name: node.name, labels },
    spec: { podCIDR: podCidrOf(index), podCIDRs: [podCidrOf(index)], ...(controlPlane ? { taints } : {}) },
    status: {
      addresses: [
        { type: 'InternalIP', address: node.v4 },
        { type: 'InternalIP', address: node.v6 },
        { type: 'Hostname', address: node.name },
      ],
      conditions: [{ type: 'Ready', status: 'True', reason: 'KubeletReady', message: 'sandbox node', lastHeartbeatTime: time, lastTransitionTime: time }],
      nodeInfo: { kubeletVersion: 'v1.32.0-ironlb-sandbox', operatingSystem: 'linux', architecture: 'amd64' },
    },
  };
}
