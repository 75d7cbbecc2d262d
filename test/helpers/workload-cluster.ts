import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { pino } from 'pino';
import { tableRenderer } from '../../src/sandbox/apiserver/tables.js';
import { runNodeLease } from '../../src/sandbox/kubelet/node-lease.js';
import { createWorkloadAdmission } from '../../src/sandbox/workloads/admission.js';
import { runWorkloadControllers } from '../../src/sandbox/workloads/controllers.js';
import { createJsonClient } from '../../src/sandbox/workloads/json-client.js';
import { workloadColumns } from '../../src/sandbox/workloads/tables.js';
import { systemClock } from '../../src/sys/clock.js';
import { startTestApiServer, type TestApiServer } from './apiserver.js';
import { runKubectl, type KubectlResult } from './kubectl.js';

/** The nginx Deployment `web` (2 or 3 replicas) the workload tests roll out with kubectl. */
export const webDeploymentYaml = (replicas: number): string => `apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: default}
spec:
  replicas: ${String(replicas)}
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - {name: nginx, image: "nginx:1.15-alpine", ports: [{containerPort: 80}]}
`;

export interface WorkloadClusterOptions {
  /** The podIP the fake kubelet reports for every Pod it starts. */
  readonly podIP: string;
  /** Nodes whose Lease in kube-node-lease is renewed with the real kubelet code (none by default). */
  readonly nodeLeases?: readonly string[];
}

/** A sandbox API server with the workload controllers and a fake kubelet, driven by the real kubectl. */
export interface WorkloadCluster {
  readonly api: TestApiServer;
  readonly core: k8s.CoreV1Api;
  readonly apps: k8s.AppsV1Api;
  /** Runs the real kubectl against the cluster. */
  kubectl(...args: string[]): Promise<KubectlResult>;
  /** Writes `yaml` to a file named `name` and runs `kubectl apply -f` on it. */
  apply(name: string, yaml: string): Promise<KubectlResult>;
  /** The Pods in `default` labelled `app=<app>`. */
  podsOf(app: string): Promise<k8s.V1Pod[]>;
  /** Stops the controllers, the fake kubelet and the leases, then the API server. */
  close(): Promise<void>;
}

/**
 * The kubelet is not part of the workload controllers (it comes with the sandbox's Pod network):
 * this test double reports every bound Pod Running and Ready, as a kubelet does once its
 * containers start, and leaves terminating Pods to the test.
 */
async function reportPodsRunning(core: k8s.CoreV1Api, podIP: string, signal: AbortSignal): Promise<void> {
  while (!signal.aborted) {
    const pods = await core.listPodForAllNamespaces().catch(() => ({ items: [] as k8s.V1Pod[] }));
    for (const pod of pods.items) {
      if (pod.spec?.nodeName === undefined || pod.status?.phase === 'Running') continue;
      const now = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
      const status = {
        phase: 'Running',
        podIP,
        conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: now }],
        containerStatuses: pod.spec.containers.map((c) => ({ name: c.name, image: c.image, ready: true, started: true, restartCount: 0, state: { running: { startedAt: now } } })),
      };
      await core.patchNamespacedPodStatus({ name: pod.metadata?.name ?? '', namespace: pod.metadata?.namespace ?? '', body: { status } }, k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch)).catch(() => undefined);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * Starts a sandbox API server with the workload admission and `kubectl get` columns, three Nodes
 * (node-1 a tainted control plane, node-2 and node-3 workers), the workload controllers and
 * scheduler stand-ins, and a fake kubelet (see reportPodsRunning).
 */
export async function startWorkloadCluster(options: WorkloadClusterOptions): Promise<WorkloadCluster> {
  const api = await startTestApiServer({ admission: createWorkloadAdmission(), table: tableRenderer(workloadColumns) });
  const core = api.kubeConfig().makeApiClient(k8s.CoreV1Api);
  const apps = api.kubeConfig().makeApiClient(k8s.AppsV1Api);
  const dir = api.kubeconfigPath.replace(/kubeconfig$/, '');
  const stop = new AbortController();
  const running: Promise<void>[] = [];
  const close = async (): Promise<void> => {
    stop.abort();
    await Promise.all(running);
    await api.close();
  };
  try {
    const taints = [{ key: 'node-role.kubernetes.io/control-plane', effect: 'NoSchedule' }];
    for (const name of ['node-1', 'node-2', 'node-3']) {
      await core.createNode({ body: { metadata: { name, labels: { 'kubernetes.io/hostname': name } }, spec: name === 'node-1' ? { taints } : {} } });
    }
  } catch (e: unknown) {
    await close();
    throw e;
  }
  const logger = pino({ level: 'silent' });
  for (const node of options.nodeLeases ?? []) running.push(runNodeLease({ client: createJsonClient(api.kubeConfig()), node, clock: systemClock, logger }, stop.signal));
  running.push(runWorkloadControllers({ kubeConfig: api.kubeConfig(), logger, clock: systemClock }, stop.signal));
  running.push(reportPodsRunning(core, options.podIP, stop.signal));
  const kubectl = (...args: string[]): Promise<KubectlResult> => runKubectl(api.kubeconfigPath, args);
  return {
    api,
    core,
    apps,
    kubectl,
    async apply(name, yaml) {
      const file = join(dir, name);
      await writeFile(file, yaml);
      return kubectl('apply', '-f', file);
    },
    async podsOf(app) {
      return (await core.listNamespacedPod({ namespace: 'default', labelSelector: `app=${app}` })).items;
    },
    close,
  };
}
