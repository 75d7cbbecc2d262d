import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServiceAdmission } from '../../src/sandbox/apiserver/service.js';
import { renderTable } from '../../src/sandbox/apiserver/tables.js';
import { startTestApiServer, type TestApiServer } from '../helpers/apiserver.js';
import { kubectlTable, runKubectl } from '../helpers/kubectl.js';

const manifest = (sessionAffinity: string): string => `apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: default
  labels: {app: web}
spec:
  type: LoadBalancer
  selector: {app: web}
  sessionAffinity: ${sessionAffinity}
  ports:
  - {name: http, port: 8090, targetPort: 8080}
`;

describe('the real kubectl against the sandbox API server', () => {
  let api: TestApiServer;
  let core: k8s.CoreV1Api;
  let dir: string;
  const kubectl = (...args: string[]) => runKubectl(api.kubeconfigPath, args);

  beforeAll(async () => {
    api = await startTestApiServer({ admission: new Map([['/services', createServiceAdmission()]]), table: renderTable });
    core = api.kubeConfig().makeApiClient(k8s.CoreV1Api);
    dir = api.kubeconfigPath.replace(/kubeconfig$/, '');
  });
  afterAll(async () => {
    await api.close();
  });

  it('applies a manifest (create, then change) with kubectl\'s default validation', async () => {
    const file = join(dir, 'web.yaml');
    await writeFile(file, manifest('None'));
    expect(await kubectl('apply', '-f', file)).toMatchObject({ code: 0, stdout: 'service/web created\n' });
    await writeFile(file, manifest('ClientIP'));
    expect(await kubectl('apply', '-f', file)).toMatchObject({ code: 0, stdout: 'service/web configured\n' });
    const svc = await core.readNamespacedService({ name: 'web', namespace: 'default' });
    expect(svc.spec?.sessionAffinity).toBe('ClientIP');
    expect(svc.spec?.ports?.[0]?.nodePort).toBeGreaterThanOrEqual(30000);
  });

  it('prints NAME TYPE CLUSTER-IP EXTERNAL-IP PORT(S) AGE, <pending> until the status has an IP', async () => {
    const before = kubectlTable((await kubectl('get', 'svc', 'web')).stdout);
    expect(before[0]).toEqual(['NAME', 'TYPE', 'CLUSTER-IP', 'EXTERNAL-IP', 'PORT(S)', 'AGE']);
    const svc = await core.readNamespacedService({ name: 'web', namespace: 'default' });
    expect(before[1]?.slice(0, 5)).toEqual(['web', 'LoadBalancer', svc.spec?.clusterIP, '<pending>', `8090:${String(svc.spec?.ports?.[0]?.nodePort)}/TCP`]);
    await core.patchNamespacedServiceStatus({ name: 'web', namespace: 'default', body: { status: { loadBalancer: { ingress: [{ ip: '192.0.2.10' }] } } } }, k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch));
    expect(kubectlTable((await kubectl('get', 'svc', 'web')).stdout)[1]?.[3]).toBe('192.0.2.10');
    expect(kubectlTable((await kubectl('get', 'svc', '-o', 'wide')).stdout)[0]).toContain('SELECTOR');
  });

  it('watches with get -w and sees a status change', async () => {
    const child = spawn('kubectl', ['--kubeconfig', api.kubeconfigPath, 'get', 'svc', 'web', '-w', '--output-watch-events'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    try {
      const deadline = Date.now() + 10_000;
      while (!out.includes('ADDED') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      await core.patchNamespacedServiceStatus({ name: 'web', namespace: 'default', body: { status: { loadBalancer: { ingress: [{ ip: '192.0.2.11' }] } } } }, k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch));
      while (!out.includes('192.0.2.11') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    } finally {
      child.kill();
    }
    const lines = kubectlTable(out);
    expect(lines[0]?.[0]).toBe('EVENT');
    expect(lines.find((l) => l[0] === 'MODIFIED')).toContain('192.0.2.11');
  });

  it('describes a Service with its Events, and lists Events', async () => {
    const svc = await core.readNamespacedService({ name: 'web', namespace: 'default' });
    await core.createNamespacedEvent({
      namespace: 'default',
      body: {
        metadata: { name: 'web.1' },
        involvedObject: { apiVersion: 'v1', kind: 'Service', name: 'web', namespace: 'default', uid: svc.metadata?.uid ?? '' },
        type: 'Normal',
        reason: 'IPAllocated',
        message: 'Assigned IP [192.0.2.11] from pool default',
        source: { component: 'ironlb-controller' },
        firstTimestamp: new Date(),
        lastTimestamp: new Date(),
        count: 1,
      },
    });
    const described = (await kubectl('describe', 'svc', 'web')).stdout;
    expect(described).toMatch(/LoadBalancer Ingress:\s+192\.0\.2\.11/);
    expect(described).toMatch(/Normal\s+IPAllocated\s+\S+\s+ironlb-controller\s+Assigned IP \[192\.0\.2\.11\] from pool default/);
    const events = kubectlTable((await kubectl('get', 'events')).stdout);
    expect(events[0]).toEqual(['LAST SEEN', 'TYPE', 'REASON', 'OBJECT', 'MESSAGE']);
    expect(events[1]?.slice(1)).toEqual(['Normal', 'IPAllocated', 'service/web', 'Assigned IP [192.0.2.11] from pool default']);
  });

  it('patches with merge and strategic patches and keeps ports merged by port', async () => {
    expect((await kubectl('patch', 'svc', 'web', '--type', 'merge', '-p', '{"metadata":{"annotations":{"ironlb.io/address-pool":"default"}}}')).stdout).toBe('service/web patched\n');
    expect((await kubectl('patch', 'svc', 'web', '-p', '{"spec":{"ports":[{"name":"https","port":8443,"targetPort":8443}]}}')).code).toBe(0);
    const svc = await core.readNamespacedService({ name: 'web', namespace: 'default' });
    expect(svc.metadata?.annotations?.['ironlb.io/address-pool']).toBe('default');
    expect(svc.spec?.ports?.map((p) => p.port)).toEqual([8090, 8443]);
    const refused = await kubectl('patch', 'svc', 'web', '--type', 'merge', '-p', '{"spec":{"clusterIP":"10.96.9.9"}}');
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain('spec.clusterIPs[0]: Invalid value: field is immutable');
  });

  it('prints ConfigMaps, Leases, EndpointSlices and Nodes as a cluster does', async () => {
    await core.createNamespace({ body: { metadata: { name: 'ironlb-system' } } });
    await core.createNamespacedConfigMap({ namespace: 'ironlb-system', body: { metadata: { name: 'config' }, data: { config: 'x' } } });
    await api.kubeConfig().makeApiClient(k8s.CoordinationV1Api).createNamespacedLease({ namespace: 'ironlb-system', body: { metadata: { name: 'ironlb-speaker-node-1' }, spec: { holderIdentity: 'node-1' } } });
    await api.kubeConfig().makeApiClient(k8s.DiscoveryV1Api).createNamespacedEndpointSlice({ namespace: 'default', body: { metadata: { name: 'web' }, addressType: 'IPv4', endpoints: [{ addresses: ['10.0.0.1'] }], ports: [{ port: 8080 }] } });
    await core.createNode({ body: { metadata: { name: 'node-1' }, status: { conditions: [{ type: 'Ready', status: 'True' }], nodeInfo: { kubeletVersion: 'v1.32.0' } as k8s.V1NodeSystemInfo } } });
    const out = (await kubectl('get', 'cm,leases', '-n', 'ironlb-system')).stdout;
    expect(out).toMatch(/configmap\/config\s+1\s+\d+s/);
    expect(out).toMatch(/lease\.coordination\.k8s\.io\/ironlb-speaker-node-1\s+node-1\s+\d+s/);
    expect(kubectlTable((await kubectl('get', 'endpointslices')).stdout)[1]?.slice(0, 4)).toEqual(['web', 'IPv4', '8080', '10.0.0.1']);
    expect(kubectlTable((await kubectl('get', 'nodes')).stdout)[1]).toEqual(['node-1', 'Ready', '<none>', expect.stringMatching(/^\d+s$/), 'v1.32.0']);
  });

  it('pages with --chunk-size (kubectl get sends limit and follows continue): every object once, in name order', async () => {
    await core.createNamespace({ body: { metadata: { name: 'chunks' } } });
    const names = ['c3', 'a1', 'e5', 'b2', 'd4'];
    for (const name of names) await core.createNamespacedConfigMap({ namespace: 'chunks', body: { metadata: { name } } });
    const got = await kubectl('get', 'configmaps', '-n', 'chunks', '--chunk-size=2', '-o', 'name', '-v=6');
    expect(got.code, got.stderr).toBe(0);
    expect(got.stdout).toBe(`${[...names].sort().map((n) => `configmap/${n}`).join('\n')}\n`);
    // Three requests: limit=2, then two with continue.
    expect(got.stderr.match(/configmaps\?continue=[^ ]*limit=2 200 OK/g)).toHaveLength(2);
  });

  it('sorts with --sort-by, which asks for whole objects in the Table rows', async () => {
    await core.createNamespace({ body: { metadata: { name: 'sorting' } } });
    for (const name of ['zz', 'aa']) await core.createNamespacedService({ namespace: 'sorting', body: { metadata: { name }, spec: { ports: [{ port: 80 }] } } });
    const rows = kubectlTable((await kubectl('get', 'svc', '-n', 'sorting', '--sort-by=.metadata.name')).stdout);
    expect(rows[0]).toEqual(['NAME', 'TYPE', 'CLUSTER-IP', 'EXTERNAL-IP', 'PORT(S)', 'AGE']);
    expect(rows.slice(1).map((r) => r.slice(0, 2))).toEqual([
      ['aa', 'ClusterIP'],
      ['zz', 'ClusterIP'],
    ]);
  });

  it('deletes, and says NotFound as kube-apiserver does', async () => {
    expect((await kubectl('delete', 'svc', 'web')).stdout).toBe('service "web" deleted\n');
    const gone = await kubectl('get', 'svc', 'web');
    expect(gone.code).not.toBe(0);
    expect(gone.stderr).toContain('Error from server (NotFound): services "web" not found');
  });
});
