import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tableRenderer } from '../../src/sandbox/apiserver/tables.js';
import { runNodeLease } from '../../src/sandbox/kubelet/node-lease.js';
import { createWorkloadAdmission } from '../../src/sandbox/workloads/admission.js';
import { runWorkloadControllers } from '../../src/sandbox/workloads/controllers.js';
import { createJsonClient } from '../../src/sandbox/workloads/json-client.js';
import { workloadColumns } from '../../src/sandbox/workloads/tables.js';
import { systemClock } from '../../src/sys/clock.js';
import { startTestApiServer, type TestApiServer } from '../helpers/apiserver.js';
import { runKubectl, type KubectlResult } from '../helpers/kubectl.js';

/**
 * Graceful Pod deletion as kubectl users meet it: `kubectl delete pod` marks the Pod
 * (deletionTimestamp, Terminating in `kubectl get pods`), the owner replaces it at once, and the
 * Pod goes when its kubelet removes it with grace 0, or at once with `--grace-period=0 --force`.
 * The kubelets of node-2 and node-3 are test doubles (the real one needs the Pod network; the
 * netns test sandbox-termination.test.ts runs it): they renew their node Leases with the real
 * kubelet code, report bound Pods Running and Ready, and remove a terminating Pod only when the
 * test says so. node-1 has no kubelet.
 */

function table(out: string): string[][] {
  return out.trim().split('\n').map((l) => l.trim().split(/\s{2,}/));
}

async function until<T>(what: string, f: () => Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await f();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const deploymentYaml = `apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: default}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - {name: nginx, image: "nginx:1.15-alpine", ports: [{containerPort: 80}]}
`;

/** Reports every bound Pod Running and Ready, as the kubelet does once its containers run. */
function reportRunning(core: k8s.CoreV1Api, signal: AbortSignal): Promise<void> {
  return (async () => {
    while (!signal.aborted) {
      const pods = await core.listPodForAllNamespaces().catch(() => ({ items: [] as k8s.V1Pod[] }));
      for (const pod of pods.items) {
        if (pod.spec?.nodeName === undefined || pod.status?.phase === 'Running') continue;
        const now = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
        const status = {
          phase: 'Running',
          podIP: '10.244.2.9',
          conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: now }],
          containerStatuses: pod.spec.containers.map((c) => ({ name: c.name, image: c.image, ready: true, started: true, restartCount: 0, state: { running: { startedAt: now } } })),
        };
        await core.patchNamespacedPodStatus({ name: pod.metadata?.name ?? '', namespace: pod.metadata?.namespace ?? '', body: { status } }, k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch)).catch(() => undefined);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
}

describe('graceful Pod deletion with the real kubectl', () => {
  let api: TestApiServer;
  let core: k8s.CoreV1Api;
  let apps: k8s.AppsV1Api;
  let dir: string;
  const stop = new AbortController();
  const running: Promise<void>[] = [];
  const kubectl = (...args: string[]): Promise<KubectlResult> => runKubectl(api.kubeconfigPath, args);
  const apply = async (name: string, yaml: string): Promise<KubectlResult> => {
    const file = join(dir, name);
    await writeFile(file, yaml);
    return kubectl('apply', '-f', file);
  };
  const podsOf = async (app: string): Promise<k8s.V1Pod[]> => (await core.listNamespacedPod({ namespace: 'default', labelSelector: `app=${app}` })).items;
  const readPod = (name: string): Promise<k8s.V1Pod | undefined> => core.readNamespacedPod({ name, namespace: 'default' }).catch(() => undefined);
  /** What the kubelet does once a Pod's containers are gone: DELETE with grace 0, its uid as precondition. */
  const kubeletRemoves = async (pod: k8s.V1Pod): Promise<void> => {
    await core.deleteNamespacedPod({ name: pod.metadata?.name ?? '', namespace: 'default', body: { gracePeriodSeconds: 0, preconditions: { uid: pod.metadata?.uid ?? '' } } });
  };

  beforeAll(async () => {
    api = await startTestApiServer({ admission: createWorkloadAdmission(), table: tableRenderer(workloadColumns) });
    core = api.kubeConfig().makeApiClient(k8s.CoreV1Api);
    apps = api.kubeConfig().makeApiClient(k8s.AppsV1Api);
    dir = api.kubeconfigPath.replace(/kubeconfig$/, '');
    const taints = [{ key: 'node-role.kubernetes.io/control-plane', effect: 'NoSchedule' }];
    for (const name of ['node-1', 'node-2', 'node-3']) {
      await core.createNode({ body: { metadata: { name, labels: { 'kubernetes.io/hostname': name } }, spec: name === 'node-1' ? { taints } : {} } });
    }
    const logger = pino({ level: 'silent' });
    for (const node of ['node-2', 'node-3']) running.push(runNodeLease({ client: createJsonClient(api.kubeConfig()), node, clock: systemClock, logger }, stop.signal));
    running.push(runWorkloadControllers({ kubeConfig: api.kubeConfig(), logger, clock: systemClock }, stop.signal));
    running.push(reportRunning(core, stop.signal));
    await until('node leases', async () => ((await kubectl('get', 'leases', '-n', 'kube-node-lease', '-o', 'name')).stdout.split('\n').filter(Boolean).length === 2 ? true : undefined));
    expect((await apply('web.yaml', deploymentYaml)).code).toBe(0);
    expect((await kubectl('rollout', 'status', 'deployment/web', '--timeout=20s')).code).toBe(0);
  });
  afterAll(async () => {
    stop.abort();
    await Promise.all(running);
    await api.close();
  });

  it('returns from kubectl delete --wait=false with the Pod Terminating, and the ReplicaSet replaces it at once', async () => {
    const [victim] = await podsOf('web');
    const name = victim?.metadata?.name ?? '';
    const before = Date.now();
    const deleted = await kubectl('delete', 'pod', name, '--wait=false');
    expect(deleted.code).toBe(0);
    expect(deleted.stdout.trim()).toBe(`pod "${name}" deleted`);
    const marked = await readPod(name);
    expect(marked?.metadata?.deletionGracePeriodSeconds).toBe(30);
    const at = marked?.metadata?.deletionTimestamp?.getTime() ?? 0;
    expect(at).toBeGreaterThanOrEqual(before + 29_000);
    expect(at).toBeLessThanOrEqual(Date.now() + 31_000);
    const row = table((await kubectl('get', 'pods')).stdout).find((r) => r[0] === name);
    expect(row?.[2]).toBe('Terminating');
    // a replacement at once: 2 Pods that count, plus the terminating one
    await until('a replacement', async () => {
      const pods = await podsOf('web');
      return pods.length === 3 && pods.filter((p) => p.metadata?.deletionTimestamp === undefined).length === 2 ? true : undefined;
    });
    expect(table((await kubectl('get', 'rs')).stdout)[1]?.slice(1, 3)).toEqual(['2', '2']);
  });

  it('shortens a grace period but never lengthens it (--grace-period, ?gracePeriodSeconds=)', async () => {
    const pod = (await podsOf('web')).find((p) => p.metadata?.deletionTimestamp === undefined);
    const name = pod?.metadata?.name ?? '';
    expect((await kubectl('delete', 'pod', name, '--grace-period=20', '--wait=false')).code).toBe(0);
    const first = await readPod(name);
    expect(first?.metadata?.deletionGracePeriodSeconds).toBe(20);
    expect((await kubectl('delete', 'pod', name, '--grace-period=60', '--wait=false')).code).toBe(0);
    expect((await readPod(name))?.metadata?.deletionTimestamp).toEqual(first?.metadata?.deletionTimestamp);
    const raw = await kubectl('delete', '--raw', `/api/v1/namespaces/default/pods/${name}?gracePeriodSeconds=5`);
    expect(raw.code).toBe(0);
    const shortened = await readPod(name);
    expect(shortened?.metadata?.deletionGracePeriodSeconds).toBe(5);
    expect((first?.metadata?.deletionTimestamp?.getTime() ?? 0) - (shortened?.metadata?.deletionTimestamp?.getTime() ?? 0)).toBe(15_000);
  });

  it('removes a Terminating Pod at once with --grace-period=0 --force', async () => {
    const terminating = (await podsOf('web')).filter((p) => p.metadata?.deletionTimestamp !== undefined);
    expect(terminating.length).toBeGreaterThan(0);
    for (const pod of terminating) {
      const name = pod.metadata?.name ?? '';
      const forced = await kubectl('delete', 'pod', name, '--grace-period=0', '--force');
      expect(forced.code).toBe(0);
      expect(forced.stderr).toContain('Immediate deletion does not wait for confirmation that the running resource has been terminated');
      expect(forced.stdout).toContain(`pod "${name}" force deleted`);
      expect(await readPod(name)).toBeUndefined();
    }
  });

  it('keeps kubectl delete waiting until the kubelet removes the Pod', async () => {
    await until('2 running web pods', async () => ((await podsOf('web')).filter((p) => p.metadata?.deletionTimestamp === undefined && p.status?.phase === 'Running').length === 2 ? true : undefined));
    const pod = (await podsOf('web')).find((p) => p.metadata?.deletionTimestamp === undefined);
    const name = pod?.metadata?.name ?? '';
    let exited: number | null | undefined;
    const child = spawn('kubectl', ['--kubeconfig', api.kubeconfigPath, 'delete', 'pod', name, '--timeout=20s'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    const done = new Promise<number | null>((resolve) => { child.once('exit', (code) => { exited = code; resolve(code); }); });
    try {
      const marked = await until('the Pod Terminating', async () => {
        const p = await readPod(name);
        return p?.metadata?.deletionTimestamp === undefined ? undefined : p;
      });
      await new Promise((r) => setTimeout(r, 1500));
      expect(exited).toBeUndefined();
      await kubeletRemoves(marked);
      expect(await done).toBe(0);
      expect(stdout.trim()).toBe(`pod "${name}" deleted`);
      expect(await readPod(name)).toBeUndefined();
    } finally {
      if (exited === undefined) child.kill('SIGKILL');
    }
  });

  it('removes at once a Pod on a node without a kubelet, and a Pod on no node', async () => {
    const bare = (name: string, spec: string): string => `apiVersion: v1
kind: Pod
metadata: {name: ${name}, namespace: default, labels: {app: bare}}
spec:
  ${spec}
  containers:
  - {name: c, image: "busybox:1"}
`;
    expect((await apply('lonely.yaml', bare('lonely', 'nodeName: node-1'))).code).toBe(0);
    expect((await apply('picky.yaml', bare('picky', 'nodeSelector: {disk: ssd}'))).code).toBe(0);
    for (const name of ['lonely', 'picky']) {
      const deleted = await kubectl('delete', 'pod', name, '--wait=false');
      expect(deleted.code).toBe(0);
      expect(await readPod(name)).toBeUndefined();
    }
  });

  it('collects a deleted Deployment: ReplicaSets at once, Pods gracefully until their kubelet removes them', async () => {
    expect((await kubectl('delete', 'deployment', 'web')).code).toBe(0);
    expect((await apps.listNamespacedReplicaSet({ namespace: 'default' })).items).toEqual([]);
    // the collector works asynchronously: a Pod a controller made from a stale cache goes a little later
    const pods = await until('every web Pod terminating', async () => {
      const now = await podsOf('web');
      return now.length > 0 && now.every((p) => p.metadata?.deletionTimestamp !== undefined) ? now : undefined;
    });
    expect(table((await kubectl('get', 'pods', '-l', 'app=web')).stdout).slice(1).map((r) => r[2])).toEqual(pods.map(() => 'Terminating'));
    for (const pod of pods) await kubeletRemoves(pod);
    expect(await podsOf('web')).toEqual([]);
    // and none come back from a controller's stale cache
    await new Promise((r) => setTimeout(r, 1000));
    expect(await podsOf('web')).toEqual([]);
  });
});
