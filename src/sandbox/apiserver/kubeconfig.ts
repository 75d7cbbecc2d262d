import { writeFile } from 'node:fs/promises';
import { stringify } from 'yaml';

/** A kubeconfig for one cluster, user and context named `ironlb-sandbox`; `caCert` (PEM) for an https server. */
export function kubeconfigYaml(server: string, token: string, caCert: string | undefined, namespace = 'default'): string {
  const name = 'ironlb-sandbox';
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    // client-node accepts plain http:// only with skip-TLS-verify set (tests without TLS).
    clusters: [{ name, cluster: caCert === undefined ? { server, 'insecure-skip-tls-verify': true } : { server, 'certificate-authority-data': Buffer.from(caCert).toString('base64') } }],
    users: [{ name, user: { token } }],
    contexts: [{ name, context: { cluster: name, user: name, namespace } }],
    'current-context': name,
    preferences: {},
  });
}

/** Writes the kubeconfig, readable by its owner only (it holds a bearer token). */
export async function writeKubeconfig(path: string, server: string, token: string, caCert?: string): Promise<void> {
  await writeFile(path, kubeconfigYaml(server, token, caCert), { mode: 0o600 });
}
