import { spawn } from 'node:child_process';
import type * as k8s from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kubectlTable } from '../helpers/kubectl.js';
import { waitForValue } from '../helpers/wait.js';
import { startWorkloadCluster, webDeploymentYaml, type WorkloadCluster } from '../helpers/workload-cluster.js';

/**
 * Graceful Pod deletion as kubectl users meet it: `kubectl delete pod` marks the Pod
 * (deletionTimestamp, Terminating in `kubectl get pods`), the owner replaces it at once, and the
 * Pod goes when its kubelet removes it with grace 0, or at once with `--grace-period=0 --force`.
 * The kubelets of node-2 and node-3 are test doubles (the real one needs the Pod network; the
 * netns test sandbox-termination.test.ts runs it): they renew their node Leases with the real
 * kubelet code, report bound Pods Running and Ready, and remove a terminating Pod only when the
 * test says so. node-1 has no kubelet.
 */

describe('graceful Pod deletion with the real kubectl', () => {
  let cluster: WorkloadCluster;
  const readPod = (name: string): Promise<k8s.V1Pod | undefined> => cluster.core.readNamespacedPod({ name, namespace: 'default' }).catch(() => undefined);
  /** What the kubelet does once a Pod's containers are gone: DELETE with grace 0, its uid as precondition. */
  const kubeletRemoves = async (pod: k8s.V1Pod): Promise<void> => {
    await cluster.core.deleteNamespacedPod({ name: pod.metadata?.name ?? '', namespace: 'default', body: { gracePeriodSeconds: 0, preconditions: { uid: pod.metadata?.uid ?? '' } } });
  };

  beforeAll(async () => {
    cluster = await startWorkloadCluster({ podIP: '10.244.2.9', nodeLeases: ['node-2', 'node-3'] });
    await waitForValue('node leases', async () => ((await cluster.kubectl('get', 'leases', '-n', 'kube-node-lease', '-o', 'name')).stdout.split('\n').filter(Boolean).length === 2 ? true : undefined));
    expect((await cluster.apply('web.yaml', webDeploymentYaml(2))).code).toBe(0);
    expect((await cluster.kubectl('rollout', 'status', 'deployment/web', '--timeout=20s')).code).toBe(0);
  });
  afterAll(async () => {
    await cluster.close();
  });

  it('returns from kubectl delete --wait=false with the Pod Terminating, and the ReplicaSet replaces it at once', async () => {
    const [victim] = await cluster.podsOf('web');
    const name = victim?.metadata?.name ?? '';
    const before = Date.now();
    const deleted = await cluster.kubectl('delete', 'pod', name, '--wait=false');
    expect(deleted.code).toBe(0);
    expect(deleted.stdout.trim()).toBe(`pod "${name}" deleted`);
    const marked = await readPod(name);
    expect(marked?.metadata?.deletionGracePeriodSeconds).toBe(30);
    const at = marked?.metadata?.deletionTimestamp?.getTime() ?? 0;
    expect(at).toBeGreaterThanOrEqual(before + 29_000);
    expect(at).toBeLessThanOrEqual(Date.now() + 31_000);
    const row = kubectlTable((await cluster.kubectl('get', 'pods')).stdout).find((r) => r[0] === name);
    expect(row?.[2]).toBe('Terminating');
    // a replacement at once: 2 Pods that count, plus the terminating one
    await waitForValue('a replacement', async () => {
      const pods = await cluster.podsOf('web');
      return pods.length === 3 && pods.filter((p) => p.metadata?.deletionTimestamp === undefined).length === 2 ? true : undefined;
    });
    expect(kubectlTable((await cluster.kubectl('get', 'rs')).stdout)[1]?.slice(1, 3)).toEqual(['2', '2']);
  });

  it('shortens a grace period but never lengthens it (--grace-period, ?gracePeriodSeconds=)', async () => {
    const pod = (await cluster.podsOf('web')).find((p) => p.metadata?.deletionTimestamp === undefined);
    const name = pod?.metadata?.name ?? '';
    expect((await cluster.kubectl('delete', 'pod', name, '--grace-period=20', '--wait=false')).code).toBe(0);
    const first = await readPod(name);
    expect(first?.metadata?.deletionGracePeriodSeconds).toBe(20);
    expect((await cluster.kubectl('delete', 'pod', name, '--grace-period=60', '--wait=false')).code).toBe(0);
    expect((await readPod(name))?.metadata?.deletionTimestamp).toEqual(first?.metadata?.deletionTimestamp);
    const raw = await cluster.kubectl('delete', '--raw', `/api/v1/namespaces/default/pods/${name}?gracePeriodSeconds=5`);
    expect(raw.code).toBe(0);
    const shortened = await readPod(name);
    expect(shortened?.metadata?.deletionGracePeriodSeconds).toBe(5);
    expect((first?.metadata?.deletionTimestamp?.getTime() ?? 0) - (shortened?.metadata?.deletionTimestamp?.getTime() ?? 0)).toBe(15_000);
  });

  it('removes a Terminating Pod at once with --grace-period=0 --force', async () => {
    const terminating = (await cluster.podsOf('web')).filter((p) => p.metadata?.deletionTimestamp !== undefined);
    expect(terminating.length).toBeGreaterThan(0);
    for (const pod of terminating) {
      const name = pod.metadata?.name ?? '';
      const forced = await cluster.kubectl('delete', 'pod', name, '--grace-period=0', '--force');
      expect(forced.code).toBe(0);
      expect(forced.stderr).toContain('Immediate deletion does not wait for confirmation that the running resource has been terminated');
      expect(forced.stdout).toContain(`pod "${name}" force deleted`);
      expect(await readPod(name)).toBeUndefined();
    }
  });

  it('keeps kubectl delete waiting until the kubelet removes the Pod', async () => {
    await waitForValue('2 running web pods', async () => ((await cluster.podsOf('web')).filter((p) => p.metadata?.deletionTimestamp === undefined && p.status?.phase === 'Running').length === 2 ? true : undefined));
    const pod = (await cluster.podsOf('web')).find((p) => p.metadata?.deletionTimestamp === undefined);
    const name = pod?.metadata?.name ?? '';
    let exited: number | null | undefined;
    const child = spawn('kubectl', ['--kubeconfig', cluster.api.kubeconfigPath, 'delete', 'pod', name, '--timeout=20s'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    const done = new Promise<number | null>((resolve) => { child.once('exit', (code) => { exited = code; resolve(code); }); });
    try {
      const marked = await waitForValue('the Pod Terminating', async () => {
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
    expect((await cluster.apply('lonely.yaml', bare('lonely', 'nodeName: node-1'))).code).toBe(0);
    expect((await cluster.apply('picky.yaml', bare('picky', 'nodeSelector: {disk: ssd}'))).code).toBe(0);
    for (const name of ['lonely', 'picky']) {
      const deleted = await cluster.kubectl('delete', 'pod', name, '--wait=false');
      expect(deleted.code).toBe(0);
      expect(await readPod(name)).toBeUndefined();
    }
  });

  it('collects a deleted Deployment: ReplicaSets at once, Pods gracefully until their kubelet removes them', async () => {
    expect((await cluster.kubectl('delete', 'deployment', 'web')).code).toBe(0);
    expect((await cluster.apps.listNamespacedReplicaSet({ namespace: 'default' })).items).toEqual([]);
    // the collector works asynchronously: a Pod a controller made from a stale cache goes a little later
    const pods = await waitForValue('every web Pod terminating', async () => {
      const now = await cluster.podsOf('web');
      return now.length > 0 && now.every((p) => p.metadata?.deletionTimestamp !== undefined) ? now : undefined;
    });
    expect(kubectlTable((await cluster.kubectl('get', 'pods', '-l', 'app=web')).stdout).slice(1).map((r) => r[2])).toEqual(pods.map(() => 'Terminating'));
    for (const pod of pods) await kubeletRemoves(pod);
    expect(await cluster.podsOf('web')).toEqual([]);
    // and none come back from a controller's stale cache
    await new Promise((r) => setTimeout(r, 1000));
    expect(await cluster.podsOf('web')).toEqual([]);
  });
});
