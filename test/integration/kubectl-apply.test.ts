import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { createServiceAdmission } from '../../src/sandbox/apiserver/service.js';
import { renderTable } from '../../src/sandbox/apiserver/tables.js';
import { startTestApiServer, type TestApiServer } from '../helpers/apiserver.js';
import { runKubectl } from '../helpers/kubectl.js';

const repoRoot = join(import.meta.dirname, '..', '..');

const service = (name: string, extra: string): string => `apiVersion: v1
kind: Service
metadata:
  name: ${name}
  namespace: default
spec:
  type: LoadBalancer
  ports:
  - {port: 80, targetPort: 8080}
${extra}`;

describe('kubectl apply with validation on, and server-side apply, against the sandbox API server', () => {
  let api: TestApiServer;
  let core: k8s.CoreV1Api;
  let dir: string;
  const kubectl = (...args: string[]) => runKubectl(api.kubeconfigPath, args);
  const write = async (name: string, text: string): Promise<string> => {
    const file = join(dir, name);
    await writeFile(file, text);
    return file;
  };

  beforeAll(async () => {
    api = await startTestApiServer({ admission: new Map([['/services', createServiceAdmission()]]), table: renderTable });
    core = api.kubeConfig().makeApiClient(k8s.CoreV1Api);
    dir = api.kubeconfigPath.replace(/kubeconfig$/, '');
    const version = await kubectl('version', '--client');
    console.log(`kubectl under test: ${version.stdout.split('\n')[0] ?? version.stderr}`);
  });
  afterAll(async () => {
    await api.close();
  });

  it('applies with its default validation, which asks the server for Strict field validation', async () => {
    const file = await write('web.yaml', service('web', ''));
    const created = await kubectl('apply', '-f', file, '-v=6');
    expect(created.code, created.stderr).toBe(0);
    expect(created.stdout).toBe('service/web created\n');
    // kubectl sends fieldValidation=Strict only when the server's OpenAPI v3 lists it on PATCH.
    expect(created.stderr).toMatch(/GET \S+\/openapi\/v3\/api\/v1\?hash=[0-9A-F]{128}\S* 200 OK/);
    expect(created.stderr).toMatch(/POST \S+\/services\?fieldManager=kubectl-client-side-apply&fieldValidation=Strict 201/);
    expect(await kubectl('apply', '-f', file)).toMatchObject({ code: 0, stdout: 'service/web unchanged\n' });
  });

  it('refuses an unknown field with kube-apiserver\'s message, warns with --validate=warn and says nothing with ignore', async () => {
    const bad = (name: string) => write(`${name}.yaml`, service(name, '  foo: 1\n'));
    expect(await kubectl('apply', '-f', await bad('strict'))).toMatchObject({
      code: 1,
      stderr: `Error from server (BadRequest): error when creating "${join(dir, 'strict.yaml')}": Service in version "v1" cannot be handled as a Service: strict decoding error: unknown field "spec.foo"\n`,
    });
    await expect(core.readNamespacedService({ name: 'strict', namespace: 'default' })).rejects.toThrow();
    expect(await kubectl('apply', '--validate=warn', '-f', await bad('warned'))).toMatchObject({ code: 0, stdout: 'service/warned created\n', stderr: 'Warning: unknown field "spec.foo"\n' });
    expect(await kubectl('apply', '--validate=ignore', '-f', await bad('ignored'))).toMatchObject({ code: 0, stdout: 'service/ignored created\n', stderr: '' });
    const stored = await kubectl('get', 'svc', 'warned', '-o', 'json');
    expect(JSON.parse(stored.stdout)).not.toHaveProperty(['spec', 'foo']);
  });

  it('explains service.spec.loadBalancerClass from the server\'s OpenAPI', async () => {
    const out = await kubectl('explain', 'service.spec.loadBalancerClass');
    expect(out.code, out.stderr).toBe(0);
    expect(out.stdout).toContain('FIELD: loadBalancerClass <string>');
    expect(out.stdout.replace(/\s+/g, ' ')).toContain('loadBalancerClass is the class of the load balancer implementation this Service belongs to.');
  });

  it.each([
    { field: 'deployment.spec', doc: 'Specification of the desired behavior of the Deployment.' },
    { field: 'deployment.spec.replicas', doc: 'Number of desired pods.' },
    { field: 'deployment.spec.strategy.rollingUpdate.maxSurge', doc: 'The maximum number of pods that can be scheduled above the desired number of pods.' },
    { field: 'pod.spec.containers.livenessProbe', doc: 'Periodic probe of container liveness.' },
  ])('explains $field with the field\'s own description', async ({ field, doc }) => {
    const out = await kubectl('explain', field);
    expect(out.code, out.stderr).toBe(0);
    expect(out.stdout.replace(/\s+/g, ' ')).toContain(`DESCRIPTION: ${doc}`);
  });

  it('applies server-side twice without a change, then refuses a conflicting manager until --force-conflicts', async () => {
    const file = await write('ssa.yaml', service('ssa', '  sessionAffinity: None\n'));
    expect(await kubectl('apply', '--server-side', '-f', file)).toMatchObject({ code: 0, stdout: 'service/ssa serverside-applied\n' });
    const first = await core.readNamespacedService({ name: 'ssa', namespace: 'default' });
    expect(first.metadata?.managedFields?.map((m) => [m.manager, m.operation])).toEqual([['kubectl', 'Apply']]);
    expect(await kubectl('apply', '--server-side', '-f', file)).toMatchObject({ code: 0, stdout: 'service/ssa serverside-applied\n' });
    const second = await core.readNamespacedService({ name: 'ssa', namespace: 'default' });
    expect(second.metadata?.resourceVersion).toBe(first.metadata?.resourceVersion);

    const other = await write('other.yaml', service('ssa', '  sessionAffinity: ClientIP\n'));
    const refused = await kubectl('apply', '--server-side', '--field-manager=other', '-f', other);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('Apply failed with 1 conflict: conflict with "kubectl": .spec.sessionAffinity');
    expect((await core.readNamespacedService({ name: 'ssa', namespace: 'default' })).spec?.sessionAffinity).toBe('None');

    expect(await kubectl('apply', '--server-side', '--field-manager=other', '--force-conflicts', '-f', other)).toMatchObject({ code: 0 });
    const forced = await core.readNamespacedService({ name: 'ssa', namespace: 'default' });
    expect(forced.spec?.sessionAffinity).toBe('ClientIP');
    const owners = new Map((forced.metadata?.managedFields ?? []).map((m): [string, string] => [m.manager ?? '', JSON.stringify(m.fieldsV1 as unknown)]));
    expect(owners.get('other')).toContain('"f:sessionAffinity"');
    expect(owners.get('kubectl')).not.toContain('"f:sessionAffinity"');
  });

  it('applies a ConfigMap and a Deployment server-side, twice without a change, and refuses a conflicting manager', async () => {
    const deployment = (replicas: number): string => `apiVersion: apps/v1
kind: Deployment
metadata: {name: ssa-web, namespace: default}
spec:
  replicas: ${replicas}
  selector: {matchLabels: {app: ssa-web}}
  template:
    metadata: {labels: {app: ssa-web}}
    spec:
      containers: [{name: nginx, image: nginx:1.15-alpine, ports: [{containerPort: 80}]}]
---
apiVersion: v1
kind: ConfigMap
metadata: {name: ssa-cm, namespace: default}
data: {replicas: "${replicas}"}
`;
    const file = await write('ssa-workload.yaml', deployment(2));
    const applied = await kubectl('apply', '--server-side', '-f', file);
    expect(applied, applied.stderr).toMatchObject({ code: 0, stdout: 'deployment.apps/ssa-web serverside-applied\nconfigmap/ssa-cm serverside-applied\n' });
    const apps = api.kubeConfig().makeApiClient(k8s.AppsV1Api);
    const first = await apps.readNamespacedDeployment({ name: 'ssa-web', namespace: 'default' });
    expect(first.metadata?.managedFields?.map((m) => [m.manager, m.operation])).toEqual([['kubectl', 'Apply']]);
    expect(await kubectl('apply', '--server-side', '-f', file)).toMatchObject({ code: 0 });
    expect((await apps.readNamespacedDeployment({ name: 'ssa-web', namespace: 'default' })).metadata?.resourceVersion).toBe(first.metadata?.resourceVersion);

    const refused = await kubectl('apply', '--server-side', '--field-manager=other', '-f', await write('ssa-workload-3.yaml', deployment(3)));
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('conflict with "kubectl": .spec.replicas');
    expect((await apps.readNamespacedDeployment({ name: 'ssa-web', namespace: 'default' })).spec?.replicas).toBe(2);
  });

  it('takes over a client-side applied object server-side (kubectl upgrades its managedFields) without changing the spec', async () => {
    const file = await write('upgrade.yaml', service('upgrade', ''));
    expect((await kubectl('apply', '-f', file)).code).toBe(0);
    const before = await core.readNamespacedService({ name: 'upgrade', namespace: 'default' });
    expect(await kubectl('apply', '--server-side', '-f', file)).toMatchObject({ code: 0, stdout: 'service/upgrade serverside-applied\n' });
    const after = await core.readNamespacedService({ name: 'upgrade', namespace: 'default' });
    expect(after.metadata?.generation).toBe(1);
    expect(after.spec).toEqual(before.spec);
    expect(after.metadata?.managedFields?.map((m) => [m.manager, m.operation])).toEqual([
      ['kubectl-last-applied', 'Apply'],
      ['kubectl', 'Apply'],
    ]);
  });

  it('removes a field left out of the next apply when no other manager owns it', async () => {
    const file = await write('labels.yaml', service('labels', '').replace('namespace: default', 'namespace: default\n  labels: {a: "1", b: "2"}'));
    expect((await kubectl('apply', '--server-side', '-f', file)).code).toBe(0);
    await write('labels.yaml', service('labels', '').replace('namespace: default', 'namespace: default\n  labels: {a: "1"}'));
    expect((await kubectl('apply', '--server-side', '-f', file)).code).toBe(0);
    expect((await core.readNamespacedService({ name: 'labels', namespace: 'default' })).metadata?.labels).toEqual({ a: '1' });
  });

  it('records other writers as Update entries, which a later apply conflicts with', async () => {
    const file = await write('cm.yaml', 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm, namespace: default}\ndata: {a: "1"}\n');
    expect((await kubectl('apply', '-f', file)).code).toBe(0);
    expect((await kubectl('patch', 'configmap', 'cm', '--type=merge', '-p', '{"data":{"a":"2"}}')).code).toBe(0);
    const cm = await core.readNamespacedConfigMap({ name: 'cm', namespace: 'default' });
    const entries = (cm.metadata?.managedFields ?? []).map((m) => [m.manager, m.operation, JSON.stringify(m.fieldsV1 as unknown)]);
    expect(entries).toContainEqual(['kubectl-patch', 'Update', '{"f:data":{"f:a":{}}}']);
    const ssa = await write('cm-ssa.yaml', 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm, namespace: default}\ndata: {a: "3"}\n');
    const refused = await kubectl('apply', '--server-side', '--field-manager=ci', '-f', ssa);
    expect(refused.stderr).toContain('Apply failed with 1 conflict: conflict with "kubectl-patch" using v1: .data.a');
  });

  it('validates and applies the served objects of manifests/ironlb.yaml and config/*.yaml unchanged', async () => {
    // `api-resources -o name` prints `deployments.apps` for named groups: keep the plural.
    const served = new Set((await kubectl('api-resources', '--no-headers', '-o', 'name')).stdout.trim().split('\n').map((n) => n.split('.')[0]));
    const files = [join(repoRoot, 'manifests', 'ironlb.yaml'), join(repoRoot, 'config', 'metallb-style-config.yaml'), join(repoRoot, 'config', 'sandbox-demo.yaml')];
    let applied = 0;
    for (const file of files) {
      for (const doc of parseAllDocuments(await readFile(file, 'utf8'))) {
        const obj = doc.toJS() as { kind?: string } | null;
        const plural = `${(obj?.kind ?? '').toLowerCase()}s`;
        if (obj === null || !served.has(plural)) continue;
        const out = await runKubectl(api.kubeconfigPath, ['apply', '-f', '-'], doc.toString());
        expect(out.code, `${file} ${plural}: ${out.stderr}`).toBe(0);
        expect(out.stderr).toBe('');
        applied++;
      }
    }
    // The Namespace, the config ConfigMap and the demo Service today; Deployments and DaemonSets join once served.
    expect(applied).toBeGreaterThanOrEqual(3);
  });
});
