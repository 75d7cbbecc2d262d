import type * as k8s from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { clientNodeListWatch } from '../../k8s/client.js';
import { createInformer } from '../../k8s/informer.js';
import type { Clock } from '../../shared/clock.js';
import { child, isObject, jsonEqual, list, meta, str, type JsonObject } from '../apiserver/object.js';
import { createReconcileLoop } from '../reconcile-loop.js';
import { createJsonClient, sendOk, type JsonClient } from '../workloads/json-client.js';
import { createPodSandbox, listPodNetns, pickPodIp, removePodSandbox, type NodePodNet, type PodSandbox } from './pod-network.js';
import { podStatus } from './pod-status.js';
import { toPodView, type PodView } from './pod-view.js';
import { PodWorker, type PodWorkerDeps } from './pod-worker.js';
import type { RuntimeChooser } from './runtime.js';

/**
 * The sandbox's kubelet stand-in, one per node (it runs in the node agent, inside the node's
 * network namespace): it runs every Pod bound to its node (a namespace and address per Pod from
 * the node's Pod CIDR, or the node's own namespace for hostNetwork), writes their status as the
 * kubelet does, and stops a Pod's containers with its grace period when the Pod is deleted.
 */
export interface KubeletDeps {
  readonly kubeConfig: k8s.KubeConfig;
  readonly node: NodePodNet;
  /** The node's LAN address (status.hostIP, and podIP of hostNetwork Pods). */
  readonly hostIp: string;
  readonly runtimes: RuntimeChooser;
  /** Root of the container log files (log-files.ts); the API server reads the same tree. */
  readonly logRoot: string;
  readonly apiServer: { readonly host: string; readonly port: string };
  /** The directory to mount as the Pod's service-account volume, if any (the default: none). */
  readonly serviceAccountDir?: (pod: PodView) => Promise<string | undefined>;
  /** Crash-loop back-off; the kubelet's is 10 s doubling to 5 min. */
  readonly restartBackoff: { readonly baseMs: number; readonly maxMs: number };
  /** The longest a container gets between SIGTERM and SIGKILL when the kubelet itself stops. */
  readonly shutdownGraceMs: number;
  readonly logger: Logger;
  readonly clock: Clock;
}

interface Running {
  readonly worker: PodWorker;
  readonly sandbox: PodSandbox | undefined;
  readonly done: Promise<void>;
}

function uidOf(pod: JsonObject): string {
  return str(meta(pod), 'uid') ?? '';
}

/** A Pod this node should run: bound here, not finished. */
function runsHere(pod: JsonObject, node: string): boolean {
  const phase = str(child(pod, 'status'), 'phase');
  return str(child(pod, 'spec'), 'nodeName') === node && phase !== 'Succeeded' && phase !== 'Failed';
}

function statusPath(pod: PodView): string {
  return `/api/v1/namespaces/${encodeURIComponent(pod.id.namespace)}/pods/${encodeURIComponent(pod.id.name)}/status`;
}

function listPods(client: JsonClient): () => Promise<k8s.KubernetesListObject<k8s.KubernetesObject>> {
  return async () => {
    const body = await sendOk(client, 'GET', '/api/v1/pods');
    // Wire JSON is what client-node's ListWatch expects; only items and metadata are read.
    return { apiVersion: 'v1', kind: 'List', metadata: { resourceVersion: str(child(body, 'metadata'), 'resourceVersion') ?? '' }, items: list(body, 'items').filter(isObject) };
  };
}

/** Runs until `signal` aborts; then stops every container and removes every Pod namespace. */
export async function runKubelet(deps: KubeletDeps, signal: AbortSignal): Promise<void> {
  const log = deps.logger.child({ component: 'sandbox-kubelet', node: deps.node.node });
  const client = createJsonClient(deps.kubeConfig);
  const hard = new AbortController();
  const pods = new Map<string, Running>(); // uid -> running pod
  const usedIps = new Set<string>();
  const written = new Map<string, JsonObject>(); // uid -> status last written
  const now = (): string => deps.clock.wallTime().toISOString().replace(/\.\d{3}Z$/, 'Z');

  // What a crashed node agent left: containers in Pod namespaces of this node.
  for (const netns of await listPodNetns(deps.node.netns)) await removePodSandbox(deps.node, { netns, veth: '' });

  const statusLoop = createReconcileLoop(
    async () => {
      for (const [uid, r] of pods) {
        const desired = podStatus(r.worker.object, r.worker.record(), now());
        if (jsonEqual(written.get(uid), desired)) continue;
        const reply = await client.send('PATCH', statusPath(r.worker.view), { status: desired }, 'application/merge-patch+json');
        if (reply.code === 404) continue;
        if (reply.code >= 300) throw new Error(`PATCH ${statusPath(r.worker.view)}: HTTP ${String(reply.code)} ${String(reply.body.message)}`);
        written.set(uid, desired);
      }
    },
    (e) => {
      log.warn({ event: 'podStatusFailed', err: e }, 'cannot write pod status; retrying');
      setTimeout(() => { statusLoop.poke(); }, 1000).unref();
    },
  );

  const workerDeps: PodWorkerDeps = {
    runtimes: deps.runtimes,
    logRoot: deps.logRoot,
    hostIp: deps.hostIp,
    apiServer: deps.apiServer,
    serviceAccountDir: deps.serviceAccountDir ?? (() => Promise.resolve(undefined)),
    restartBackoff: deps.restartBackoff,
    clock: deps.clock,
    logger: log,
    changed: () => { statusLoop.poke(); },
    killSignal: hard.signal,
  };

  async function startPod(raw: JsonObject): Promise<void> {
    const view = toPodView(raw);
    let sandbox: PodSandbox | undefined;
    let podIp = deps.hostIp;
    if (!view.hostNetwork) {
      const ip = pickPodIp(deps.node.cidr, usedIps);
      if (ip === undefined) throw new Error(`node ${deps.node.node}: no free address in ${deps.node.cidr}`);
      usedIps.add(ip);
      podIp = ip;
      try {
        sandbox = await createPodSandbox(deps.node, view.id.uid, ip);
      } catch (e: unknown) {
        usedIps.delete(ip);
        throw e;
      }
    }
    const worker = new PodWorker(view, raw, { netns: sandbox?.netns ?? deps.node.netns, podIp }, workerDeps);
    const done = worker.start();
    pods.set(view.id.uid, { worker, sandbox, done });
    log.info({ event: 'podStarted', pod: `${view.id.namespace}/${view.id.name}`, podIp, netns: sandbox?.netns ?? deps.node.netns }, 'pod started');
    statusLoop.poke();
  }

  async function stopPod(uid: string, graceMs: number): Promise<void> {
    const r = pods.get(uid);
    if (r === undefined) return;
    pods.delete(uid);
    written.delete(uid);
    await r.worker.stop(graceMs);
    if (r.sandbox !== undefined) {
      await removePodSandbox(deps.node, r.sandbox);
      usedIps.delete(r.sandbox.ip);
    }
    log.info({ event: 'podStopped', pod: `${r.worker.view.id.namespace}/${r.worker.view.id.name}` }, 'pod stopped');
  }

  const syncLoop = createReconcileLoop(
    async () => {
      if (!informer.hasSynced()) return;
      const present = new Map(informer.list().map((o) => [uidOf({ ...o }), { ...o }]));
      for (const [uid, r] of [...pods]) {
        const pod = present.get(uid);
        if (pod === undefined || !runsHere(pod, deps.node.node)) {
          // Deleted (the sandbox API server deletes at once): stop with the grace period the Pod had.
          void stopPod(uid, r.worker.view.terminationGracePeriodSeconds * 1000);
        } else r.worker.update(toPodView(pod), pod);
      }
      for (const [uid, pod] of present) {
        if (!pods.has(uid) && runsHere(pod, deps.node.node) && !hard.signal.aborted && !signal.aborted) await startPod(pod);
      }
      statusLoop.poke();
    },
    (e) => {
      log.warn({ event: 'podSyncFailed', err: e }, 'cannot start a pod; retrying');
      setTimeout(() => { syncLoop.poke(); }, 2000).unref();
    },
  );
  const informer = createInformer<k8s.KubernetesObject>({ source: clientNodeListWatch(deps.kubeConfig, '/api/v1/pods', listPods(client)), path: '/api/v1/pods', logger: log, clock: deps.clock, onChange: () => { syncLoop.poke(); } });
  void informer.synced.then(() => { syncLoop.poke(); });
  log.info({ event: 'kubeletStarted', podCidr: deps.node.cidr }, 'sandbox kubelet running');
  await informer.run(signal);
  await syncLoop.idle();
  await Promise.all([...pods.keys()].map((uid) => stopPod(uid, Math.min(deps.shutdownGraceMs, (pods.get(uid)?.worker.view.terminationGracePeriodSeconds ?? 30) * 1000))));
  hard.abort();
  await statusLoop.idle();
}
