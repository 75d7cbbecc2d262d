import { execFileSync, spawn } from 'node:child_process';
import { chmod, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServiceAdmission } from '../../src/sandbox/apiserver/service.js';
import { tableRenderer } from '../../src/sandbox/apiserver/tables.js';
import { createWorkloadAdmission } from '../../src/sandbox/workloads/admission.js';
import { workloadColumns } from '../../src/sandbox/workloads/tables.js';
import { startTestApiServer, type TestApiServer } from '../helpers/apiserver.js';
import { runKubectl } from '../helpers/kubectl.js';

const kubectlVersion = execFileSync('kubectl', ['version', '--client'], { encoding: 'utf8' });

/** Waits until `done(text so far)` holds for a process's stdout, or 10 s. */
async function untilOutput(read: () => string, done: (out: string) => boolean): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!done(read()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
}

interface Exchange {
  request: string;
  accept: string;
  contentType: string;
}

/** The requests kubectl -v=8 logs: `METHOD URL`, the Accept it sent and the Content-Type of the reply. */
function exchanges(stderr: string): Exchange[] {
  const out: Exchange[] = [];
  let replied = false;
  for (const line of stderr.split('\n')) {
    const request = /\] ((?:GET|POST|PUT|PATCH|DELETE) \S+)$/.exec(line);
    const header = /^\S+ \S+ +\d+ round_trippers\.go:\d+\] +(Accept|Content-Type): (.*)$/.exec(line);
    const current = out.at(-1);
    if (request?.[1] !== undefined) {
      out.push({ request: request[1], accept: '', contentType: '' });
      replied = false;
    } else if (line.includes('Response Status:')) replied = true;
    else if (current !== undefined && header?.[1] === 'Accept' && !replied) current.accept = header[2] ?? '';
    else if (current !== undefined && header?.[1] === 'Content-Type' && replied) current.contentType = header[2] ?? '';
  }
  return out;
}

/**
 * The commands a user types from the README and MetalLB's layer2 docs, with the kubectl installed
 * on the machine. Its typed commands (`create ...`) send protobuf bodies and ask for protobuf.
 */
describe(`typed kubectl commands against the sandbox API server (${kubectlVersion.split('\n')[0] ?? ''})`, () => {
  let api: TestApiServer;
  let dir: string;
  const kubectl = (...args: string[]) => runKubectl(api.kubeconfigPath, args);
  const sentProtobuf = (resource: string): boolean =>
    api.server.requests.entries().some((r) => r.verb === 'create' && r.resource === resource && r.contentType === 'application/vnd.kubernetes.protobuf');

  beforeAll(async () => {
    console.log(`kubectl under test:\n${kubectlVersion}`);
    api = await startTestApiServer({ admission: new Map([['/services', createServiceAdmission()], ...createWorkloadAdmission()]), table: tableRenderer(workloadColumns) });
    dir = api.kubeconfigPath.replace(/kubeconfig$/, '');
  });
  afterAll(async () => {
    await api.close();
  });

  it('creates a namespace, a configmap, a generic secret and a LoadBalancer service, each sent as protobuf', async () => {
    expect(await kubectl('create', 'namespace', 'shop')).toMatchObject({ code: 0, stdout: 'namespace/shop created\n' });
    expect(await kubectl('-n', 'shop', 'create', 'configmap', 'settings', '--from-literal=color=blue')).toMatchObject({ code: 0, stdout: 'configmap/settings created\n' });
    expect(await kubectl('-n', 'shop', 'create', 'secret', 'generic', 'creds', '--from-literal=password=s3cret')).toMatchObject({ code: 0, stdout: 'secret/creds created\n' });
    expect(await kubectl('-n', 'shop', 'create', 'service', 'loadbalancer', 'web', '--tcp=80:8080')).toMatchObject({ code: 0, stdout: 'service/web created\n' });
    for (const resource of ['namespaces', 'configmaps', 'secrets', 'services']) expect(sentProtobuf(resource), resource).toBe(true);
    const secret = await kubectl('-n', 'shop', 'get', 'secret', 'creds', '-o', 'jsonpath={.type} {.data.password}');
    expect(secret.stdout).toBe(`Opaque ${Buffer.from('s3cret').toString('base64')}`);
  });

  it('validates without persisting with --dry-run=server (dryRun=All)', async () => {
    const dry = await kubectl('-n', 'shop', 'create', 'configmap', 'draft', '--from-literal=a=b', '--dry-run=server', '-o', 'jsonpath={.metadata.name}');
    expect(dry).toMatchObject({ code: 0, stdout: 'draft' });
    expect(await kubectl('-n', 'shop', 'get', 'configmap', 'draft')).toMatchObject({ code: 1, stderr: 'Error from server (NotFound): configmaps "draft" not found\n' });
  });

  it('labels, annotates and patches (strategic, merge, json)', async () => {
    expect(await kubectl('-n', 'shop', 'label', 'service', 'web', 'tier=front')).toMatchObject({ code: 0, stdout: 'service/web labeled\n' });
    expect(await kubectl('-n', 'shop', 'annotate', 'configmap', 'settings', 'owner=team-a')).toMatchObject({ code: 0, stdout: 'configmap/settings annotated\n' });
    expect(await kubectl('-n', 'shop', 'patch', 'service', 'web', '-p', '{"spec":{"ports":[{"port":80,"name":"80-8080","targetPort":9090}]}}')).toMatchObject({ code: 0 });
    expect(await kubectl('-n', 'shop', 'patch', 'configmap', 'settings', '--type', 'merge', '-p', '{"data":{"size":"xl"}}')).toMatchObject({ code: 0 });
    expect(await kubectl('-n', 'shop', 'patch', 'configmap', 'settings', '--type', 'json', '-p', '[{"op":"replace","path":"/data/color","value":"red"}]')).toMatchObject({ code: 0 });
    const svc = JSON.parse((await kubectl('-n', 'shop', 'get', 'service', 'web', '-o', 'json')).stdout) as { metadata: { labels: Record<string, string> }; spec: { ports: Array<{ targetPort: number }> } };
    expect(svc.metadata.labels).toMatchObject({ tier: 'front' });
    expect(svc.spec.ports.map((p) => p.targetPort)).toEqual([9090]);
    const cm = (await kubectl('-n', 'shop', 'get', 'configmap', 'settings', '-o', 'yaml')).stdout;
    expect(cm).toContain('color: red');
    expect(cm).toContain('size: xl');
    expect(cm).toContain('owner: team-a');
  });

  it('gets wide and with jsonpath, describes, and waits for a jsonpath condition', async () => {
    const wide = (await kubectl('-n', 'shop', 'get', 'service', 'web', '-o', 'wide')).stdout;
    expect(wide.split('\n')[0]?.split(/\s{2,}/)).toEqual(['NAME', 'TYPE', 'CLUSTER-IP', 'EXTERNAL-IP', 'PORT(S)', 'AGE', 'SELECTOR']);
    expect((await kubectl('-n', 'shop', 'get', 'service', 'web', '-o', 'jsonpath={.spec.type}')).stdout).toBe('LoadBalancer');
    const described = await kubectl('-n', 'shop', 'describe', 'service', 'web');
    expect(described.code).toBe(0);
    expect(described.stdout).toMatch(/^Type:\s+LoadBalancer$/m);
    const waited = await kubectl('-n', 'shop', 'wait', '--for=jsonpath={.metadata.labels.tier}=front', 'service/web', '--timeout=10s');
    expect(waited).toMatchObject({ code: 0, stdout: 'service/web condition met\n' });
  });

  it('watches with get -w and sees a change made by another kubectl', async () => {
    const child = spawn('kubectl', ['--kubeconfig', api.kubeconfigPath, '-n', 'shop', 'get', 'configmap', 'settings', '-w', '--output-watch-events'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    try {
      await untilOutput(() => out, (o) => o.includes('ADDED'));
      expect(await kubectl('-n', 'shop', 'label', 'configmap', 'settings', 'seen=yes')).toMatchObject({ code: 0 });
      await untilOutput(() => out, (o) => o.includes('MODIFIED'));
    } finally {
      child.kill();
    }
    expect(out).toMatch(/^MODIFIED\s+settings\s+2\s/m);
  });

  // `kubectl edit` downloads the OpenAPI schema and validates on the server (fieldValidation=Strict).
  it('edits with a scripted KUBE_EDITOR', async () => {
    const editor = join(dir, 'editor.sh');
    await writeFile(editor, `#!/bin/sh\nsed -i 's/color: red/color: green/' "$1"\n`);
    await chmod(editor, 0o755);
    const edited = await new Promise<{ code: number | null; out: string }>((resolve) => {
      const child = spawn('kubectl', ['--kubeconfig', api.kubeconfigPath, '-n', 'shop', 'edit', 'configmap', 'settings'], { env: { ...process.env, KUBE_EDITOR: editor }, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
      child.stderr.setEncoding('utf8').on('data', (d: string) => (out += d));
      child.on('close', (code) => {
        resolve({ code, out });
      });
    });
    expect(edited).toEqual({ code: 0, out: 'configmap/settings edited\n' });
    expect((await kubectl('-n', 'shop', 'get', 'configmap', 'settings', '-o', 'jsonpath={.data.color}')).stdout).toBe('green');
  });

  it('deletes, and says NotFound afterwards; --dry-run=server deletes nothing', async () => {
    expect(await kubectl('-n', 'shop', 'delete', 'secret', 'creds', '--dry-run=server')).toMatchObject({ code: 0, stdout: 'secret "creds" deleted (server dry run)\n' });
    expect((await kubectl('-n', 'shop', 'get', 'secret', 'creds', '-o', 'name')).stdout).toBe('secret/creds\n');
    expect(await kubectl('-n', 'shop', 'delete', 'secret', 'creds')).toMatchObject({ code: 0, stdout: 'secret "creds" deleted\n' });
    expect(await kubectl('-n', 'shop', 'delete', 'configmap', 'settings')).toMatchObject({ code: 0, stdout: 'configmap "settings" deleted\n' });
    expect(await kubectl('-n', 'shop', 'get', 'secret', 'creds')).toMatchObject({ code: 1, stderr: 'Error from server (NotFound): secrets "creds" not found\n' });
  });

  it('creates deployments with `kubectl create deployment`, sent as protobuf, and keeps an explicit 0 replicas', async () => {
    expect(await kubectl('-n', 'shop', 'create', 'deployment', 'web', '--image=nginx:1.15-alpine', '--port=80')).toMatchObject({ code: 0, stdout: 'deployment.apps/web created\n' });
    expect(await kubectl('-n', 'shop', 'create', 'deployment', 'idle', '--image=nginx:1.15-alpine', '--replicas=0')).toMatchObject({ code: 0, stdout: 'deployment.apps/idle created\n' });
    expect(sentProtobuf('deployments')).toBe(true);
    const web = JSON.parse((await kubectl('-n', 'shop', 'get', 'deployment', 'web', '-o', 'json')).stdout) as {
      spec: { replicas: number; selector: unknown; strategy: unknown; template: { spec: { containers: Array<{ name: string; image: string; ports: unknown[] }> } } };
    };
    expect(web.spec).toMatchObject({ replicas: 1, selector: { matchLabels: { app: 'web' } }, strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: '25%', maxUnavailable: '25%' } } });
    expect(web.spec.template.spec.containers).toMatchObject([{ name: 'nginx', image: 'nginx:1.15-alpine', ports: [{ containerPort: 80, protocol: 'TCP' }] }]);
    // replicas is a pointer in Go: a protobuf 0 is kept, not defaulted to 1.
    expect((await kubectl('-n', 'shop', 'get', 'deployment', 'idle', '-o', 'jsonpath={.spec.replicas}')).stdout).toBe('0');
  });

  // kubectl describe and rollout history read through client-go's typed clients, which ask for protobuf.
  it('describes a deployment and a pod, and lists rollout history, from protobuf responses (-v=8 shows the content types)', async () => {
    const protobufReply = (stderr: string, path: string): boolean =>
      exchanges(stderr).some((x) => x.request.startsWith(`GET ${api.url}${path}`) && x.accept.startsWith('application/vnd.kubernetes.protobuf') && x.contentType === 'application/vnd.kubernetes.protobuf');
    const described = await kubectl('-n', 'shop', 'describe', 'deployment', 'web', '-v=8');
    expect(described.code).toBe(0);
    expect(protobufReply(described.stderr, '/apis/apps/v1/namespaces/shop/deployments/web')).toBe(true);
    expect(protobufReply(described.stderr, '/apis/apps/v1/namespaces/shop/replicasets?')).toBe(true);
    expect(described.stdout).toMatch(/^Replicas:\s+1 desired \| 0 updated \| 0 total \| 0 available \| 0 unavailable$/m);
    expect(described.stdout).toMatch(/^RollingUpdateStrategy:\s+25% max unavailable, 25% max surge$/m);
    expect(described.stdout).toMatch(/^\s+Image:\s+nginx:1.15-alpine$/m);
    expect(described.stdout).toMatch(/^\s+Port:\s+80\/TCP$/m);

    expect(await kubectl('-n', 'shop', 'run', 'solo', '--image=nginx:1.15-alpine', '--port=8080', '--labels=app=solo')).toMatchObject({ code: 0, stdout: 'pod/solo created\n' });
    const pod = await kubectl('-n', 'shop', 'describe', 'pod', 'solo', '-v=8');
    expect(pod.code).toBe(0);
    expect(protobufReply(pod.stderr, '/api/v1/namespaces/shop/pods/solo')).toBe(true);
    expect(pod.stdout).toMatch(/^Labels:\s+app=solo$/m);
    expect(pod.stdout).toMatch(/^QoS Class:\s+BestEffort$/m);
    expect(pod.stdout).toMatch(/^Tolerations:\s+node.kubernetes.io\/not-ready:NoExecute op=Exists for 300s$/m);

    // No controllers run here, so the Deployment has no ReplicaSets yet: an empty protobuf list.
    const history = await kubectl('-n', 'shop', 'rollout', 'history', 'deployment/web', '-v=8');
    expect(history).toMatchObject({ code: 0, stdout: 'deployment.apps/web \nNo rollout history found.\n' });
    expect(protobufReply(history.stderr, '/apis/apps/v1/namespaces/shop/replicasets?labelSelector=app%3Dweb')).toBe(true);
  });
});
