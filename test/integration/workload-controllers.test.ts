import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tableRenderer } from '../../src/sandbox/apiserver/tables.js';
import { createWorkloadAdmission } from '../../src/sandbox/workloads/admission.js';
import { runWorkloadControllers } from '../../src/sandbox/workloads/controllers.js';
import { workloadColumns } from '../../src/sandbox/workloads/tables.js';
import { systemClock } from '../../src/sys/clock.js';
import { startTestApiServer, type TestApiServer } from '../helpers/apiserver.js';
import { runKubectl } from '../helpers/kubectl.js';

/** Splits `kubectl get` output into rows of cells. */
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
  replicas: 3
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - {name: nginx, image: "nginx:1.15-alpine", ports: [{containerPort: 80}]}
`;

const daemonSetYaml = (tolerate: boolean): string => `apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent, namespace: default}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec:
      ${tolerate ? 'tolerations: [{key: node-role.kubernetes.io/control-plane, operator: Exists, effect: NoSchedule}]' : 'nodeSelector: {}'}
      containers:
      - {name: agent, image: "agent:1"}
`;

/**
 * The kubelet is not part of these controllers (it comes with the sandbox's Pod network): this
 * test double reports every bound Pod Running and Ready, as a kubelet would once its containers
 * start, so that the controllers' status and `kubectl rollout status` can be checked.
 */
function startFakeKubelet(core: k8s.CoreV1Api, signal: AbortSignal): Promise<void> {
  return (async () => {
    while (!signal.aborted) {
      const pods = await core.listPodForAllNamespaces().catch(() => ({ items: [] as k8s.V1Pod[] }));
      for (const pod of pods.items) {
        if (pod.spec?.nodeName === undefined || pod.status?.phase === 'Running') continue;
        const now = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
        const status = {
          phase: 'Running',
          podIP: '10.244.0.9',
          conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: now }],
          containerStatuses: (pod.spec.containers).map((c) => ({ name: c.name, image: c.image, ready: true, started: true, restartCount: 0, state: { running: { startedAt: now } } })),
        };
        await core.patchNamespacedPodStatus({ name: pod.metadata?.name ?? '', namespace: pod.metadata?.namespace ?? '', body: { status } }, k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch)).catch(() => undefined);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
}

describe('workload controllers and scheduler stand-ins, driven by the real kubectl', () => {
  let api: TestApiServer;
  let core: k8s.CoreV1Api;
  let apps: k8s.AppsV1Api;
  let dir: string;
  const stop = new AbortController();
  const running: Promise<void>[] = [];
  const kubectl = (...args: string[]) => runKubectl(api.kubeconfigPath, args);
  const apply = async (name: string, yaml: string) => {
    const file = join(dir, name);
    await writeFile(file, yaml);
    return kubectl('apply', '-f', file);
  };
  const podsOf = async (app: string) => (await core.listNamespacedPod({ namespace: 'default', labelSelector: `app=${app}` })).items;

  beforeAll(async () => {
    api = await startTestApiServer({ admission: createWorkloadAdmission(), table: tableRenderer(workloadColumns) });
    core = api.kubeConfig().makeApiClient(k8s.CoreV1Api);
    apps = api.kubeConfig().makeApiClient(k8s.AppsV1Api);
    dir = api.kubeconfigPath.replace(/kubeconfig$/, '');
    const taints = [{ key: 'node-role.kubernetes.io/control-plane', effect: 'NoSchedule' }];
    for (const name of ['node-1', 'node-2', 'node-3']) {
      await core.createNode({ body: { metadata: { name, labels: { 'kubernetes.io/hostname': name } }, spec: name === 'node-1' ? { taints } : {} } });
    }
    running.push(runWorkloadControllers({ kubeConfig: api.kubeConfig(), logger: pino({ level: 'silent' }), clock: systemClock }, stop.signal));
    running.push(startFakeKubelet(core, stop.signal));
  });
  afterAll(async () => {
    stop.abort();
    await Promise.all(running);
    await api.close();
  });

  it('rolls a Deployment out to 3 Pods spread over the workers, and kubectl rollout status says so', async () => {
    expect((await apply('web.yaml', deploymentYaml)).code).toBe(0);
    const rollout = await kubectl('rollout', 'status', 'deployment/web', '--timeout=20s');
    expect(rollout.code).toBe(0);
    expect(rollout.stdout).toContain('deployment "web" successfully rolled out');
    const rows = table((await kubectl('get', 'pods', '-o', 'wide')).stdout);
    expect(rows.slice(1).map((r) => [r[1], r[2]])).toEqual([['1/1', 'Running'], ['1/1', 'Running'], ['1/1', 'Running']]);
    expect(rows.slice(1).map((r) => r[6]).sort()).toEqual(['node-2', 'node-2', 'node-3']);
    expect(rows.slice(1).every((r) => /^web-[a-z0-9]+-[a-z0-9]{5}$/.test(r[0] ?? ''))).toBe(true);
    expect(table((await kubectl('get', 'deploy', 'web')).stdout)[1]?.slice(0, 4)).toEqual(['web', '3/3', '3', '3']);
    const rs = table((await kubectl('get', 'rs')).stdout);
    expect(rs[1]?.slice(1, 4)).toEqual(['3', '3', '3']);
  });

  it('scales with kubectl scale and replaces a deleted Pod', async () => {
    expect((await kubectl('scale', 'deployment/web', '--replicas=2')).code).toBe(0);
    await until('2 pods', async () => ((await podsOf('web')).length === 2 ? true : undefined));
    const [victim] = (await podsOf('web')).map((p) => p.metadata?.name ?? '');
    expect((await kubectl('delete', 'pod', victim ?? '')).code).toBe(0);
    const names = await until('a replacement pod', async () => {
      const now = (await podsOf('web')).map((p) => p.metadata?.name ?? '');
      return now.length === 2 && !now.includes(victim ?? '') ? now : undefined;
    });
    expect(names).toHaveLength(2);
    expect((await kubectl('rollout', 'status', 'deployment/web', '--timeout=20s')).code).toBe(0);
  });

  it('rolls a new template out to a new ReplicaSet and keeps the old one at 0', async () => {
    expect((await apply('web.yaml', deploymentYaml.replace('replicas: 3', 'replicas: 2').replace('nginx:1.15-alpine', 'nginx:1.16-alpine'))).code).toBe(0);
    expect((await kubectl('rollout', 'status', 'deployment/web', '--timeout=20s')).code).toBe(0);
    const sets = (await apps.listNamespacedReplicaSet({ namespace: 'default' })).items.map((r) => [r.spec?.template?.spec?.containers[0]?.image, r.spec?.replicas]);
    expect(sets.sort()).toEqual([['nginx:1.15-alpine', 0], ['nginx:1.16-alpine', 2]]);
    const d = await apps.readNamespacedDeployment({ name: 'web', namespace: 'default' });
    expect(d.metadata?.annotations?.['deployment.kubernetes.io/revision']).toBe('2');
    const described = await kubectl('describe', 'deployment', 'web');
    expect(described.code).toBe(0);
    expect(described.stdout).toMatch(/NewReplicaSet:\s+web-[a-z0-9]+ \(2\/2 replicas created\)/);
    expect(described.stdout).toMatch(/OldReplicaSets:\s+web-[a-z0-9]+ \(0\/0 replicas created\)/);
  });

  it('runs a DaemonSet Pod on each worker, and on the control plane only when tolerated', async () => {
    expect((await apply('ds.yaml', daemonSetYaml(false))).code).toBe(0);
    const workers = await until('2 daemon pods bound', async () => {
      const pods = await podsOf('agent');
      return pods.length === 2 && pods.every((p) => p.spec?.nodeName !== undefined) ? pods.map((p) => p.spec?.nodeName).sort() : undefined;
    });
    expect(workers).toEqual(['node-2', 'node-3']);
    expect((await apply('ds.yaml', daemonSetYaml(true))).code).toBe(0);
    expect((await kubectl('rollout', 'status', 'daemonset/agent', '--timeout=20s')).code).toBe(0);
    const all = await until('3 daemon pods', async () => {
      const pods = await podsOf('agent');
      return pods.length === 3 ? pods.map((p) => p.spec?.nodeName).sort() : undefined;
    });
    expect(all).toEqual(['node-1', 'node-2', 'node-3']);
    expect(table((await kubectl('get', 'ds', 'agent')).stdout)[1]?.slice(1, 6)).toEqual(['3', '3', '3', '3', '3']);
  });

  it('answers kubectl logs with the reason no log exists yet', async () => {
    const logs = await kubectl('logs', 'deployment/web');
    expect(logs.code).not.toBe(0);
    expect(logs.stderr).toMatch(/Error from server \(BadRequest\): container "nginx" in pod "web-[a-z0-9]+-[a-z0-9]{5}" is waiting to start: ContainerCreating/);
  });

  it('leaves a Pod no node fits Pending with the scheduler\'s reason', async () => {
    await core.createNamespacedPod({ namespace: 'default', body: { metadata: { name: 'picky' }, spec: { nodeSelector: { disk: 'ssd' }, containers: [{ name: 'a', image: 'a:1' }] } } });
    const condition = await until('PodScheduled=False', async () => (await core.readNamespacedPod({ name: 'picky', namespace: 'default' })).status?.conditions?.find((c) => c.type === 'PodScheduled' && c.status === 'False'));
    expect([condition.reason, condition.message]).toEqual(['Unschedulable', "0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector."]);
  });

  it('deletes a Deployment with its ReplicaSets and Pods', async () => {
    expect((await kubectl('delete', 'deployment', 'web')).code).toBe(0);
    expect((await apps.listNamespacedReplicaSet({ namespace: 'default' })).items).toEqual([]);
    await until('no web pods', async () => ((await podsOf('web')).length === 0 ? true : undefined), 5000);
    // and none come back from a controller's stale cache
    await new Promise((r) => setTimeout(r, 1000));
    expect(await podsOf('web')).toEqual([]);
  });
});
