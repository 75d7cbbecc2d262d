import { writeFile } from 'node:fs/promises';
import { stringify } from 'yaml';

/** A kubeconfig for one cluster, user and context named `ironlb-sandbox`. */
export function kubeconfigYaml(server: string, token: string, namespace = 'default'): string {
  const name = 'ironlb-sandbox';
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name, cluster: { server } }],
    users: [{ name, user: { token } }],
    contexts: [{ name, context: { cluster: name, user: name, namespace } }],
    'current-context': name,
    preferences: {},
  });
}

/** Writes the kubeconfig, readable by its owner only (it holds a bearer token). */
export async function writeKubeconfig(path: string, server: string, token: string): Promise<void> {
  await writeFile(path, kubeconfigYaml(server, token), { mode: 0o600 });
}
