import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tableRenderer } from '../../src/sandbox/apiserver/tables.js';
import { runKubelet } from '../../src/sandbox/kubelet/kubelet.js';
import type { ContainerExit, ContainerRuntime } from '../../src/sandbox/kubelet/runtime.js';
import { createWorkloadAdmission } from '../../src/sandbox/workloads/admission.js';
import { workloadColumns } from '../../src/sandbox/workloads/tables.js';
import { systemClock } from '../../src/sys/clock.js';
import { startTestApiServer, type TestApiServer } from '../helpers/apiserver.js';
import { runKubectl } from '../helpers/kubectl.js';
import { waitForValue } from '../helpers/wait.js';

/**
 * The kubelet stand-in's side of graceful deletion, without root: hostNetwork Pods (no Pod
 * namespace to make) and a runtime whose containers take `drainMs` to stop after SIGTERM. The
 * kubelet marks its node Lease, stops a Pod being deleted with its deletion grace period and
 * removes it with grace 0. The netns test (sandbox-termination.test.ts) does the same with real
 * processes and traffic.
 */
describe('the sandbox kubelet finishes graceful deletions', () => {
  let api: TestApiServer;
  let core: k8s.CoreV1Api;
  let logRoot: string;
  const stop = new AbortController();
  let kubelet: Promise<void>;
  const stops: { pod: string; graceMs: number; at: number }[] = [];
  const drainMs = 1500;

  const runtime: ContainerRuntime = {
    name: 'fake',
    start(launch) {
      let end: (e: ContainerExit) => void = () => undefined;
      const exited = new Promise<ContainerExit>((resolve) => { end = resolve; });
      const exit: ContainerExit = { exitCode: 0, signal: undefined, reason: 'Completed' };
      return {
        pid: undefined,
        exited,
        stop(graceMs) {
          stops.push({ pod: launch.pod.name, graceMs, at: Date.now() });
          setTimeout(() => { end(exit); }, Math.min(graceMs, drainMs));
          return exited;
        },
      };
    },
  };

  beforeAll(async () => {
    api = await startTestApiServer({ admission: createWorkloadAdmission(), table: tableRenderer(workloadColumns) });
    core = api.kubeConfig().makeApiClient(k8s.CoreV1Api);
    logRoot = await mkdtemp(join(tmpdir(), 'ironlb-kubelet-'));
    await core.createNode({ body: { metadata: { name: 'node-2' } } });
    kubelet = runKubelet({
      kubeConfig: api.kubeConfig(),
      node: { node: 'node-2', netns: 'ironlb-test-none', lanIp: '127.0.0.1', cidr: '10.244.2.0/24' },
      hostIp: '127.0.0.1',
      runtimes: () => runtime,
      logRoot,
      apiServer: { host: '127.0.0.1', port: '443' },
      restartBackoff: { baseMs: 10_000, maxMs: 10_000 },
      shutdownGraceMs: 1000,
      logger: pino({ level: process.env.KDEBUG === '1' ? 'debug' : 'silent' }),
      clock: systemClock,
    }, stop.signal);
  });
  afterAll(async () => {
    stop.abort();
    await kubelet;
    await api.close();
    await rm(logRoot, { recursive: true, force: true });
  });

  const readPod = (name: string): Promise<k8s.V1Pod | undefined> => core.readNamespacedPod({ name, namespace: 'default' }).catch(() => undefined);

  it('renews its node Lease in kube-node-lease', async () => {
    const lease = await waitForValue('the node lease', () => api.kubeConfig().makeApiClient(k8s.CoordinationV1Api).readNamespacedLease({ name: 'node-2', namespace: 'kube-node-lease' }).catch(() => undefined));
    expect(lease.spec?.holderIdentity).toBe('node-2');
    expect(lease.spec?.leaseDurationSeconds).toBe(40);
  });

  it('stops a deleted Pod with its deletion grace period, then removes it; kubectl delete returns then', async () => {
    await core.createNamespacedPod({ namespace: 'default', body: { metadata: { name: 'web' }, spec: { nodeName: 'node-2', hostNetwork: true, terminationGracePeriodSeconds: 7, containers: [{ name: 'c', image: 'app:1' }] } } });
    await waitForValue('the Pod running', async () => ((await readPod('web'))?.status?.phase === 'Running' ? true : undefined));
    const started = Date.now();
    const deleted = await runKubectl(api.kubeconfigPath, ['delete', 'pod', 'web', '--timeout=15s']);
    expect(deleted.code).toBe(0);
    expect(deleted.stdout.trim()).toBe('pod "web" deleted');
    expect(Date.now() - started).toBeGreaterThanOrEqual(drainMs);
    expect(await readPod('web')).toBeUndefined();
    expect(stops.filter((s) => s.pod === 'web').map((s) => s.graceMs)).toEqual([7000]);
  });

  it('honours a shorter grace given with the delete', async () => {
    await core.createNamespacedPod({ namespace: 'default', body: { metadata: { name: 'quick' }, spec: { nodeName: 'node-2', hostNetwork: true, containers: [{ name: 'c', image: 'app:1' }] } } });
    await waitForValue('the Pod running', async () => ((await readPod('quick'))?.status?.phase === 'Running' ? true : undefined));
    expect((await runKubectl(api.kubeconfigPath, ['delete', 'pod', 'quick', '--grace-period=3', '--wait=false'])).code).toBe(0);
    await waitForValue('the Pod removed', async () => ((await readPod('quick')) === undefined ? true : undefined));
    expect(stops.filter((s) => s.pod === 'quick').map((s) => s.graceMs)).toEqual([3000]);
  });
});
