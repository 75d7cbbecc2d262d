import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kubectlTable } from '../helpers/kubectl.js';
import { waitForValue } from '../helpers/wait.js';
import { startWorkloadCluster, webDeploymentYaml, type WorkloadCluster } from '../helpers/workload-cluster.js';

const deploymentYaml = webDeploymentYaml(3);

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

describe('workload controllers and scheduler stand-ins, driven by the real kubectl', () => {
  let cluster: WorkloadCluster;

  beforeAll(async () => {
    cluster = await startWorkloadCluster({ podIP: '10.244.0.9' });
  });
  afterAll(async () => {
    await cluster.close();
  });

  it('rolls a Deployment out to 3 Pods spread over the workers, and kubectl rollout status says so', async () => {
    expect((await cluster.apply('web.yaml', deploymentYaml)).code).toBe(0);
    const rollout = await cluster.kubectl('rollout', 'status', 'deployment/web', '--timeout=20s');
    expect(rollout.code).toBe(0);
    expect(rollout.stdout).toContain('deployment "web" successfully rolled out');
    const rows = kubectlTable((await cluster.kubectl('get', 'pods', '-o', 'wide')).stdout);
    expect(rows.slice(1).map((r) => [r[1], r[2]])).toEqual([['1/1', 'Running'], ['1/1', 'Running'], ['1/1', 'Running']]);
    expect(rows.slice(1).map((r) => r[6]).sort()).toEqual(['node-2', 'node-2', 'node-3']);
    expect(rows.slice(1).every((r) => /^web-[a-z0-9]+-[a-z0-9]{5}$/.test(r[0] ?? ''))).toBe(true);
    expect(kubectlTable((await cluster.kubectl('get', 'deploy', 'web')).stdout)[1]?.slice(0, 4)).toEqual(['web', '3/3', '3', '3']);
    const rs = kubectlTable((await cluster.kubectl('get', 'rs')).stdout);
    expect(rs[1]?.slice(1, 4)).toEqual(['3', '3', '3']);
  });

  it('scales with kubectl scale and replaces a deleted Pod', async () => {
    expect((await cluster.kubectl('scale', 'deployment/web', '--replicas=2')).code).toBe(0);
    await waitForValue('2 pods', async () => ((await cluster.podsOf('web')).length === 2 ? true : undefined));
    const [victim] = (await cluster.podsOf('web')).map((p) => p.metadata?.name ?? '');
    expect((await cluster.kubectl('delete', 'pod', victim ?? '')).code).toBe(0);
    const names = await waitForValue('a replacement pod', async () => {
      const now = (await cluster.podsOf('web')).map((p) => p.metadata?.name ?? '');
      return now.length === 2 && !now.includes(victim ?? '') ? now : undefined;
    });
    expect(names).toHaveLength(2);
    expect((await cluster.kubectl('rollout', 'status', 'deployment/web', '--timeout=20s')).code).toBe(0);
  });

  it('rolls a new template out to a new ReplicaSet and keeps the old one at 0', async () => {
    expect((await cluster.apply('web.yaml', deploymentYaml.replace('replicas: 3', 'replicas: 2').replace('nginx:1.15-alpine', 'nginx:1.16-alpine'))).code).toBe(0);
    expect((await cluster.kubectl('rollout', 'status', 'deployment/web', '--timeout=20s')).code).toBe(0);
    const sets = (await cluster.apps.listNamespacedReplicaSet({ namespace: 'default' })).items.map((r) => [r.spec?.template?.spec?.containers[0]?.image, r.spec?.replicas]);
    expect(sets.sort()).toEqual([['nginx:1.15-alpine', 0], ['nginx:1.16-alpine', 2]]);
    const d = await cluster.apps.readNamespacedDeployment({ name: 'web', namespace: 'default' });
    expect(d.metadata?.annotations?.['deployment.kubernetes.io/revision']).toBe('2');
    const described = await cluster.kubectl('describe', 'deployment', 'web');
    expect(described.code).toBe(0);
    expect(described.stdout).toMatch(/NewReplicaSet:\s+web-[a-z0-9]+ \(2\/2 replicas created\)/);
    expect(described.stdout).toMatch(/OldReplicaSets:\s+web-[a-z0-9]+ \(0\/0 replicas created\)/);
  });

  it('runs a DaemonSet Pod on each worker, and on the control plane only when tolerated', async () => {
    expect((await cluster.apply('ds.yaml', daemonSetYaml(false))).code).toBe(0);
    const workers = await waitForValue('2 daemon pods bound', async () => {
      const pods = await cluster.podsOf('agent');
      return pods.length === 2 && pods.every((p) => p.spec?.nodeName !== undefined) ? pods.map((p) => p.spec?.nodeName).sort() : undefined;
    });
    expect(workers).toEqual(['node-2', 'node-3']);
    expect((await cluster.apply('ds.yaml', daemonSetYaml(true))).code).toBe(0);
    expect((await cluster.kubectl('rollout', 'status', 'daemonset/agent', '--timeout=20s')).code).toBe(0);
    const all = await waitForValue('3 daemon pods', async () => {
      const pods = await cluster.podsOf('agent');
      return pods.length === 3 ? pods.map((p) => p.spec?.nodeName).sort() : undefined;
    });
    expect(all).toEqual(['node-1', 'node-2', 'node-3']);
    expect(kubectlTable((await cluster.kubectl('get', 'ds', 'agent')).stdout)[1]?.slice(1, 6)).toEqual(['3', '3', '3', '3', '3']);
  });

  it('answers kubectl logs with the reason no log exists yet', async () => {
    const logs = await cluster.kubectl('logs', 'deployment/web');
    expect(logs.code).not.toBe(0);
    expect(logs.stderr).toMatch(/Error from server \(BadRequest\): container "nginx" in pod "web-[a-z0-9]+-[a-z0-9]{5}" is waiting to start: ContainerCreating/);
  });

  it('leaves a Pod no node fits Pending with the scheduler\'s reason', async () => {
    await cluster.core.createNamespacedPod({ namespace: 'default', body: { metadata: { name: 'picky' }, spec: { nodeSelector: { disk: 'ssd' }, containers: [{ name: 'a', image: 'a:1' }] } } });
    const condition = await waitForValue('PodScheduled=False', async () => (await cluster.core.readNamespacedPod({ name: 'picky', namespace: 'default' })).status?.conditions?.find((c) => c.type === 'PodScheduled' && c.status === 'False'));
    expect([condition.reason, condition.message]).toEqual(['Unschedulable', "0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector."]);
  });

  it('deletes a Deployment with its ReplicaSets and Pods', async () => {
    expect((await cluster.kubectl('delete', 'deployment', 'web')).code).toBe(0);
    expect((await cluster.apps.listNamespacedReplicaSet({ namespace: 'default' })).items).toEqual([]);
    await waitForValue('no web pods', async () => ((await cluster.podsOf('web')).length === 0 ? true : undefined), { timeoutMs: 5000 });
    // and none come back from a controller's stale cache
    await new Promise((r) => setTimeout(r, 1000));
    expect(await cluster.podsOf('web')).toEqual([]);
  });
});
