import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tableRenderer } from '../../src/sandbox/apiserver/tables.js';
import { createWorkloadAdmission } from '../../src/sandbox/workloads/admission.js';
import { workloadColumns } from '../../src/sandbox/workloads/tables.js';
import { startTestApiServer, type TestApiServer } from '../helpers/apiserver.js';
import { kubectlTable, runKubectl } from '../helpers/kubectl.js';

const deployment = (replicas: number, labels = 'app: web'): string => `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: default
spec:
  replicas: ${String(replicas)}
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {${labels}}
    spec:
      containers:
      - name: nginx
        image: nginx:1.15-alpine
        ports:
        - containerPort: 80
`;

describe('workload kinds with the real kubectl', () => {
  let api: TestApiServer;
  let apps: k8s.AppsV1Api;
  let core: k8s.CoreV1Api;
  let dir: string;
  const kubectl = (...args: string[]) => runKubectl(api.kubeconfigPath, args);

  beforeAll(async () => {
    api = await startTestApiServer({ admission: createWorkloadAdmission(), table: tableRenderer(workloadColumns) });
    apps = api.kubeConfig().makeApiClient(k8s.AppsV1Api);
    core = api.kubeConfig().makeApiClient(k8s.CoreV1Api);
    dir = api.kubeconfigPath.replace(/kubeconfig$/, '');
  });
  afterAll(async () => {
    await api.close();
  });

  it('refuses a Deployment whose selector does not match its template, with kube-apiserver\'s message', async () => {
    const file = join(dir, 'bad.yaml');
    await writeFile(file, deployment(1, 'app: other'));
    const out = await kubectl('apply', '-f', file);
    expect(out.code).toBe(1);
    expect(out.stderr).toContain('The Deployment "web" is invalid: spec.template.metadata.labels: Invalid value: map[string]string{"app":"other"}: `selector` does not match template `labels`');
  });

  it('applies a Deployment, defaults it, and prints NAME READY UP-TO-DATE AVAILABLE AGE (+ wide columns)', async () => {
    const file = join(dir, 'web.yaml');
    await writeFile(file, deployment(2));
    expect(await kubectl('apply', '-f', file)).toMatchObject({ code: 0, stdout: 'deployment.apps/web created\n' });
    const d = await apps.readNamespacedDeployment({ name: 'web', namespace: 'default' });
    expect([d.spec?.strategy?.rollingUpdate?.maxSurge, d.spec?.revisionHistoryLimit, d.spec?.template.spec?.containers[0]?.imagePullPolicy]).toEqual(['25%', 10, 'IfNotPresent']);
    const rows = kubectlTable((await kubectl('get', 'deploy')).stdout);
    expect(rows[0]).toEqual(['NAME', 'READY', 'UP-TO-DATE', 'AVAILABLE', 'AGE']);
    expect(rows[1]?.slice(0, 4)).toEqual(['web', '0/2', '0', '0']);
    const wide = kubectlTable((await kubectl('get', 'deployments.apps', '-o', 'wide')).stdout);
    expect(wide[0]).toEqual(['NAME', 'READY', 'UP-TO-DATE', 'AVAILABLE', 'AGE', 'CONTAINERS', 'IMAGES', 'SELECTOR']);
    expect(wide[1]?.slice(5)).toEqual(['nginx', 'nginx:1.15-alpine', 'app=web']);
  });

  it('scales through the scale subresource that discovery names (kubectl scale)', async () => {
    expect(await kubectl('scale', 'deploy/web', '--replicas=5')).toMatchObject({ code: 0, stdout: 'deployment.apps/web scaled\n' });
    expect((await apps.readNamespacedDeployment({ name: 'web', namespace: 'default' })).spec?.replicas).toBe(5);
    const scale = await apps.readNamespacedDeploymentScale({ name: 'web', namespace: 'default' });
    expect([scale.spec?.replicas, scale.status?.selector]).toEqual([5, 'app=web']);
    const negative = await kubectl('scale', 'deploy/web', '--replicas=-1');
    expect(negative.code).not.toBe(0);
    const discovery = JSON.parse((await kubectl('get', '--raw', '/apis/apps/v1')).stdout) as { resources: { name: string; group?: string; version?: string; kind: string }[] };
    expect(discovery.resources.find((r) => r.name === 'deployments/scale')).toMatchObject({ group: 'autoscaling', version: 'v1', kind: 'Scale' });
    expect(discovery.resources.find((r) => r.name === 'daemonsets')).toMatchObject({ shortNames: ['ds'], categories: ['all'] });
  });

  it('prints Pods, ReplicaSets and DaemonSets as a cluster does, and finds them by short name and in "all"', async () => {
    const pod = { metadata: { name: 'web-1', labels: { app: 'web' } }, spec: { containers: [{ name: 'nginx', image: 'nginx:1.15-alpine' }] } };
    await core.createNamespacedPod({ namespace: 'default', body: pod });
    expect(kubectlTable((await kubectl('get', 'po', '-o', 'wide')).stdout)).toEqual([
      ['NAME', 'READY', 'STATUS', 'RESTARTS', 'AGE', 'IP', 'NODE', 'NOMINATED NODE', 'READINESS GATES'],
      ['web-1', '0/1', 'Pending', '0', expect.stringMatching(/^\d+s$/), '<none>', '<none>', '<none>', '<none>'],
    ]);
    expect(await kubectl('get', 'rs')).toMatchObject({ code: 0, stdout: '', stderr: 'No resources found in default namespace.\n' });
    expect(await kubectl('get', 'ds', '-A')).toMatchObject({ code: 0, stdout: '', stderr: 'No resources found\n' });
    const all = (await kubectl('get', 'all')).stdout;
    expect(all).toContain('pod/web-1');
    expect(all).toContain('deployment.apps/web');
  });

  it('deletes a Deployment with its ReplicaSets and Pods (background cascade), and orphans them when asked', async () => {
    const d = await apps.readNamespacedDeployment({ name: 'web', namespace: 'default' });
    const owner = (o: { kind: string; name: string; uid: string }) => [{ apiVersion: 'apps/v1', controller: true, blockOwnerDeletion: true, ...o }];
    const rsBody = { metadata: { name: 'web-abc', labels: { app: 'web' }, ownerReferences: owner({ kind: 'Deployment', name: 'web', uid: d.metadata?.uid ?? '' }) }, spec: { replicas: 1, selector: { matchLabels: { app: 'web' } }, template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'nginx', image: 'nginx:1.15-alpine' }] } } } };
    const rs = await apps.createNamespacedReplicaSet({ namespace: 'default', body: rsBody });
    const podBody = { metadata: { name: 'web-abc-x', labels: { app: 'web' }, ownerReferences: owner({ kind: 'ReplicaSet', name: 'web-abc', uid: rs.metadata?.uid ?? '' }) }, spec: { containers: [{ name: 'nginx', image: 'nginx:1.15-alpine' }] } };
    await core.createNamespacedPod({ namespace: 'default', body: podBody });
    expect(await kubectl('delete', 'deploy', 'web')).toMatchObject({ code: 0, stdout: 'deployment.apps "web" deleted\n' });
    expect((await apps.listNamespacedReplicaSet({ namespace: 'default' })).items).toEqual([]);
    expect((await core.listNamespacedPod({ namespace: 'default' })).items.map((p) => p.metadata?.name)).toEqual(['web-1']);

    const rs2 = await apps.createNamespacedReplicaSet({ namespace: 'default', body: { ...rsBody, metadata: { name: 'web-def', labels: { app: 'web' } } } });
    await core.createNamespacedPod({ namespace: 'default', body: { ...podBody, metadata: { ...podBody.metadata, name: 'web-def-y', ownerReferences: owner({ kind: 'ReplicaSet', name: 'web-def', uid: rs2.metadata?.uid ?? '' }) } } });
    expect((await kubectl('delete', 'rs', 'web-def', '--cascade=orphan')).code).toBe(0);
    const orphan = await core.readNamespacedPod({ name: 'web-def-y', namespace: 'default' });
    expect(orphan.metadata?.ownerReferences).toBeUndefined();

    const rs3 = await apps.createNamespacedReplicaSet({ namespace: 'default', body: { ...rsBody, metadata: { name: 'web-ghi', labels: { app: 'web' } } } });
    await core.createNamespacedPod({ namespace: 'default', body: { ...podBody, metadata: { ...podBody.metadata, name: 'web-ghi-z', ownerReferences: owner({ kind: 'ReplicaSet', name: 'web-ghi', uid: rs3.metadata?.uid ?? '' }) } } });
    expect((await kubectl('delete', 'rs', 'web-ghi', '--cascade=foreground')).code).toBe(0);
    expect((await core.listNamespacedPod({ namespace: 'default' })).items.map((p) => p.metadata?.name).sort()).toEqual(['web-1', 'web-def-y']);
  });
});
