import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authorizerFromStore } from '../../src/sandbox/apiserver/rbac.js';
import { createServiceAdmission } from '../../src/sandbox/apiserver/service.js';
import { createServiceAccountTokens } from '../../src/sandbox/apiserver/service-account-tokens.js';
import { tableRenderer } from '../../src/sandbox/apiserver/tables.js';
import { runNamespaceControllers } from '../../src/sandbox/serviceaccounts/controller.js';
import { fetchServiceAccountVolume, writeServiceAccountVolume } from '../../src/sandbox/serviceaccounts/volume.js';
import { createJsonClient } from '../../src/sandbox/workloads/json-client.js';
import { createWorkloadAdmission } from '../../src/sandbox/workloads/admission.js';
import { workloadColumns } from '../../src/sandbox/workloads/tables.js';
import { systemClock } from '../../src/sys/clock.js';
import { startTestApiServer, type TestApiServer } from '../helpers/apiserver.js';
import { repoRoot } from '../helpers/cli.js';
import { runKubectl } from '../helpers/kubectl.js';
import { waitFor } from '../helpers/wait.js';

const python = '/usr/bin/python3';
const hasPythonClient = existsSync(python) && (await new Promise<boolean>((resolve) => execFile(python, ['-c', 'import kubernetes'], (e) => { resolve(e === null); })));

/** The official Python client asks for a token as kubectl create token does; prints it. */
const pythonTokenRequest = `
import sys
from kubernetes import client, config
config.load_kube_config(sys.argv[1])
spec = client.V1TokenRequestSpec(audiences=[], expiration_seconds=int(sys.argv[4]))
r = client.CoreV1Api().create_namespaced_service_account_token(sys.argv[3], sys.argv[2], client.AuthenticationV1TokenRequest(spec=spec))
print(r.status.token)
print(r.status.expiration_timestamp.isoformat())
`;

function runPython(args: readonly string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(python, ['-c', pythonTokenRequest, ...args], { timeout: 30_000 }, (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : 1, stdout, stderr });
    });
  });
}

/**
 * Service accounts as kube-apiserver does them: `kubectl apply -f manifests/` stores the
 * ServiceAccounts and RBAC objects, TokenRequest issues bound tokens, the server authenticates
 * them as `system:serviceaccount:<ns>:<name>` while their objects exist, and RBAC is evaluated
 * over the applied objects. Real clients: kubectl, the official Python client, client-node's
 * in-cluster loader.
 */
describe('service accounts and RBAC applied with kubectl', () => {
  let api: TestApiServer;
  let dir: string;
  const stop = new AbortController();
  let controllers: Promise<void>;
  const kubectl = (...args: string[]) => runKubectl(api.kubeconfigPath, args);
  /** kubectl as a bearer token, against the same server and CA. */
  const kubectlAs = (token: string, ...args: string[]) => runKubectl(api.kubeconfigPath, ['--token', token, ...args]);
  const tokens = createServiceAccountTokens({ now: () => new Date() });

  beforeAll(async () => {
    api = await startTestApiServer({
      admission: new Map([['/services', createServiceAdmission()], ...createWorkloadAdmission()]),
      table: tableRenderer(workloadColumns),
      storeAuthorizer: authorizerFromStore,
      serviceAccountTokens: await tokens,
    });
    dir = await mkdtemp(join(tmpdir(), 'ironlb-sa-'));
    controllers = runNamespaceControllers({ kubeConfig: api.kubeConfig(), caCert: api.cert?.cert ?? '', logger: pino({ level: 'silent' }), clock: systemClock }, stop.signal);
  });
  afterAll(async () => {
    stop.abort();
    await controllers;
    await api.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('applies manifests/ as users do, with kubectl\'s default validation', async () => {
    const r = await kubectl('apply', '-f', join(repoRoot, 'manifests', 'ironlb.yaml'));
    expect(r.stderr).toBe('');
    expect(r.stdout.split('\n').filter(Boolean)).toEqual([
      'namespace/ironlb-system created',
      'serviceaccount/controller created',
      'serviceaccount/speaker created',
      'clusterrole.rbac.authorization.k8s.io/ironlb:controller created',
      'clusterrole.rbac.authorization.k8s.io/ironlb:speaker created',
      'role.rbac.authorization.k8s.io/controller created',
      'role.rbac.authorization.k8s.io/speaker created',
      'clusterrolebinding.rbac.authorization.k8s.io/ironlb:controller created',
      'clusterrolebinding.rbac.authorization.k8s.io/ironlb:speaker created',
      'rolebinding.rbac.authorization.k8s.io/controller created',
      'rolebinding.rbac.authorization.k8s.io/speaker created',
      'deployment.apps/controller created',
      'daemonset.apps/speaker created',
    ]);
    expect((await kubectl('get', 'sa', '-n', 'ironlb-system', '-o', 'name')).stdout).toContain('serviceaccount/speaker');
    expect((await kubectl('apply', '-f', join(repoRoot, 'manifests', 'ironlb.yaml'))).stdout).toContain('clusterrole.rbac.authorization.k8s.io/ironlb:speaker unchanged');
  });

  it('gives every namespace a default ServiceAccount and the kube-root-ca.crt ConfigMap', async () => {
    await kubectl('create', 'namespace', 'team-a');
    const sa = await waitFor('the default ServiceAccount', async () => (await kubectl('get', 'sa', 'default', '-n', 'team-a', '-o', 'name')).stdout.trim(), (out) => out !== '');
    expect(sa).toBe('serviceaccount/default');
    const ca = await waitFor('kube-root-ca.crt', async () => (await kubectl('get', 'cm', 'kube-root-ca.crt', '-n', 'team-a', '-o', 'jsonpath={.data.ca\\.crt}')).stdout, (out) => out !== '');
    expect(ca).toBe(api.cert?.cert);
  });

  it.skipIf(!hasPythonClient)('issues a token through TokenRequest (official Python client) that authenticates as the service account, with the RBAC applied', async () => {
    const r = await runPython([api.kubeconfigPath, 'ironlb-system', 'controller', '600']);
    expect(r.stderr).toBe('');
    const [token = '', expiry = ''] = r.stdout.trim().split('\n');
    expect(Date.parse(expiry) - Date.now()).toBeGreaterThan(590_000);
    expect((await kubectlAs(token, 'get', 'svc', '-A')).code).toBe(0);
    const denied = await kubectlAs(token, 'get', 'secrets', '-n', 'ironlb-system');
    expect(denied.stderr).toContain('secrets is forbidden: User "system:serviceaccount:ironlb-system:controller" cannot list resource "secrets" in API group "" in the namespace "ironlb-system"');
  });

  it('refuses a TokenRequest shorter than 10 minutes with kube-apiserver\'s message', async () => {
    const reply = await createJsonClient(api.kubeConfig()).send('POST', '/api/v1/namespaces/ironlb-system/serviceaccounts/speaker/token', { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { expirationSeconds: 60 } });
    expect(reply.code).toBe(422);
    expect(reply.body.message).toBe('TokenRequest.authentication.k8s.io "speaker" is invalid: spec.expirationSeconds: Invalid value: 60: may not specify a duration less than 10 minutes');
  });

  it('takes rights away when the binding is deleted, and the token away when the ServiceAccount is', async () => {
    const client = createJsonClient(api.kubeConfig());
    // kubectl's typed command: sends the ServiceAccount in protobuf.
    const created = await kubectl('create', 'serviceaccount', 'temp', '-n', 'ironlb-system');
    expect(created.stdout).toBe('serviceaccount/temp created\n');
    const binding = { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding', metadata: { name: 'temp', namespace: 'ironlb-system' }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'speaker' }, subjects: [{ kind: 'ServiceAccount', name: 'temp' }] };
    expect((await client.send('POST', '/apis/rbac.authorization.k8s.io/v1/namespaces/ironlb-system/rolebindings', binding)).code).toBe(201);
    const issued = await client.send('POST', '/api/v1/namespaces/ironlb-system/serviceaccounts/temp/token', { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: {} });
    const token = String((issued.body.status as { token?: string } | undefined)?.token);
    const allowed = await kubectlAs(token, 'get', 'leases', '-n', 'ironlb-system');
    expect(allowed.code, allowed.stderr).toBe(0);
    await kubectl('delete', 'rolebinding', 'temp', '-n', 'ironlb-system');
    expect((await kubectlAs(token, 'get', 'leases', '-n', 'ironlb-system')).stderr).toContain('leases.coordination.k8s.io is forbidden: User "system:serviceaccount:ironlb-system:temp" cannot list resource "leases"');
    await kubectl('delete', 'serviceaccount', 'temp', '-n', 'ironlb-system');
    expect((await kubectlAs(token, 'get', 'leases', '-n', 'ironlb-system')).stderr).toContain('You must be logged in to the server (Unauthorized)');
  });

  it('writes the volume a kubelet mounts (token bound to the Pod, ca.crt, namespace), which client-node loads as in-cluster config', async () => {
    const client = createJsonClient(api.kubeConfig());
    const pod = (await client.send('POST', '/api/v1/namespaces/ironlb-system/pods', { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'probe' }, spec: { serviceAccountName: 'speaker', containers: [{ name: 'c', image: 'ironlb/ironlb:0.1.0' }] } })).body;
    const volume = await fetchServiceAccountVolume(client, pod, new Date());
    const mount = join(dir, 'var/run/secrets/kubernetes.io/serviceaccount');
    await writeServiceAccountVolume(mount, volume);
    expect(await readFile(join(mount, 'namespace'), 'utf8')).toBe('ironlb-system');
    expect(await readFile(join(mount, 'ca.crt'), 'utf8')).toBe(api.cert?.cert);
    expect((await stat(join(mount, 'token'))).mode & 0o777).toBe(0o644);
    // The kubelet's 3607 s token is reported as such and refreshed at 80% of it.
    expect(volume.refreshAt.getTime() - Date.now()).toBeGreaterThan(0.8 * 3600_000);

    const url = new URL(api.url);
    const saved = { host: process.env.KUBERNETES_SERVICE_HOST, port: process.env.KUBERNETES_SERVICE_PORT };
    process.env.KUBERNETES_SERVICE_HOST = url.hostname;
    process.env.KUBERNETES_SERVICE_PORT = url.port;
    const kc = new k8s.KubeConfig();
    try {
      kc.loadFromCluster(dir);
    } finally {
      if (saved.host === undefined) delete process.env.KUBERNETES_SERVICE_HOST;
      else process.env.KUBERNETES_SERVICE_HOST = saved.host;
      if (saved.port === undefined) delete process.env.KUBERNETES_SERVICE_PORT;
      else process.env.KUBERNETES_SERVICE_PORT = saved.port;
    }
    const leases = await kc.makeApiClient(k8s.CoordinationV1Api).listNamespacedLease({ namespace: 'ironlb-system' });
    expect(leases.items).toEqual([]);
    await expect(kc.makeApiClient(k8s.CoreV1Api).listNamespacedSecret({ namespace: 'ironlb-system' })).rejects.toThrow(/403/);

    // Deleting the Pod revokes its token, as kube-apiserver checks the bound object's uid.
    await client.send('DELETE', '/api/v1/namespaces/ironlb-system/pods/probe');
    expect((await kubectlAs(volume.token, 'get', 'leases', '-n', 'ironlb-system')).stderr).toContain('Unauthorized');
  });
});
