import type { JsonObject } from './apiserver/object.js';
import type { LanHost } from './lan.js';

/** The namespace ironlb runs in, as in manifests/ironlb.yaml. */
export const ironlbNamespace = 'ironlb-system';

/** The default pool of the sandbox: .200-.250 and ::200-::250 of the LAN (issue 7). */
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

export function configMapObject(yaml: string): JsonObject {
  return { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'config', namespace: ironlbNamespace }, data: { config: yaml } };
}

/** A Node as a kubelet registers it: InternalIPs, Ready, hostname label. */
export function nodeObject(node: LanHost, now: Date): JsonObject {
  const time = now.toISOString().replace(/\.\d{3}Z$/, 'Z');
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name: node.name, labels: { 'kubernetes.io/hostname': node.name, 'kubernetes.io/os': 'linux' } },
    spec: {},
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
