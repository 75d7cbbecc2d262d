import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { loadKubeEndpoint } from '../../src/k8s/kube-rest.js';
import { AppError } from '../../src/shared/errors.js';

/** A kubeconfig with one context `c` over cluster `k` and user `u`. */
function kubeconfig(cluster: Record<string, unknown>, user: Record<string, unknown>, currentContext = 'c'): string {
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'k', cluster }],
    users: [{ name: 'u', user }],
    contexts: [{ name: 'c', context: { cluster: 'k', user: 'u' } }],
    'current-context': currentContext,
  });
}

describe('loadKubeEndpoint (the speaker reads kubeconfigs without client-node)', () => {
  let dir = '';
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ironlb-kubeconfig-'));
    await writeFile(join(dir, 'token'), 'from-file\n');
    await writeFile(join(dir, 'ca.pem'), 'CA PEM');
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const write = async (name: string, text: string): Promise<string> => {
    const path = join(dir, name);
    await writeFile(path, text);
    return path;
  };

  it.each([
    { name: 'token and inline CA', cluster: { server: 'https://10.0.0.1:6443/', 'certificate-authority-data': Buffer.from('CA').toString('base64') }, user: { token: 't1' }, server: 'https://10.0.0.1:6443', token: 't1', ca: 'CA', reject: true },
    { name: 'tokenFile and a CA file beside the kubeconfig', cluster: { server: 'https://api:6443', 'certificate-authority': 'ca.pem' }, user: { tokenFile: 'TOKEN' }, server: 'https://api:6443', token: 'from-file', ca: 'CA PEM', reject: true },
    { name: 'plain http, insecure', cluster: { server: 'http://127.0.0.1:8080', 'insecure-skip-tls-verify': true }, user: {}, server: 'http://127.0.0.1:8080', token: undefined, ca: undefined, reject: false },
  ])('$name', async ({ name, cluster, user, server, token, ca, reject }) => {
    const resolvedUser = 'tokenFile' in user ? { tokenFile: join(dir, 'token') } : user;
    const path = await write(`${name.replace(/\W+/g, '-')}.yaml`, kubeconfig(cluster, resolvedUser));
    const endpoint = loadKubeEndpoint({ kubeconfigPath: path, env: {} });
    expect(endpoint.server).toBe(server);
    expect(endpoint.token()).toBe(token);
    expect(endpoint.tls.ca?.toString()).toBe(ca);
    expect(endpoint.tls.rejectUnauthorized).toBe(reject);
  });

  it.each([
    { name: 'an exec credential plugin', text: kubeconfig({ server: 'https://a' }, { exec: { command: 'aws' } }), message: /users\[u\]\.user\.exec: not supported by the speaker/ },
    { name: 'no current context', text: kubeconfig({ server: 'https://a' }, {}, ''), message: /has no current cluster/ },
    { name: 'a context naming a missing cluster', text: kubeconfig({ server: 'https://a' }, {}).replace('cluster: k\n', 'cluster: gone\n'), message: /clusters: no entry named "gone"/ },
    { name: 'a cluster without server', text: kubeconfig({}, {}), message: /clusters\[k\]\.cluster\.server: missing/ },
    { name: 'not YAML', text: '{', message: /cannot load kubeconfig/ },
  ])('refuses $name with a clear error', async ({ name, text, message }) => {
    const path = await write(`bad-${name.replace(/\W+/g, '-')}.yaml`, text);
    expect(() => loadKubeEndpoint({ kubeconfigPath: path, env: {} })).toThrow(message);
    try {
      loadKubeEndpoint({ kubeconfigPath: path, env: {} });
    } catch (e: unknown) {
      expect(e).toBeInstanceOf(AppError);
      expect((e as AppError).code).toBe('ERR_KUBECONFIG');
    }
  });

  it('uses the pod service account when there is no kubeconfig', () => {
    const endpoint = loadKubeEndpoint({ env: { HOME: join(dir, 'no-home'), KUBERNETES_SERVICE_HOST: 'fd00::1', KUBERNETES_SERVICE_PORT: '443' }, serviceAccountDir: dir });
    expect(endpoint.server).toBe('https://[fd00::1]:443');
    expect(endpoint.token()).toBe('from-file');
  });

  it('says there is no cluster configuration when there is none', () => {
    expect(() => loadKubeEndpoint({ env: { HOME: join(dir, 'no-home') }, serviceAccountDir: join(dir, 'none') })).toThrow(/^no cluster configuration: .*KUBECONFIG.*not in a pod/);
  });
});
