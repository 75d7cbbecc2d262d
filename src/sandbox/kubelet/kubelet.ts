import { randomBytes } from 'node:crypto';
import type * as k8s from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { clientNodeListWatch } from '../../k8s/client.js';
import { createInformer } from '../../k8s/informer.js';
import type { Clock } from '../../shared/clock.js';
import { child, isObject, jsonEqual, list, meta, str, type JsonObject } from '../apiserver/object.js';
import { createReconcileLoop } from '../reconcile-loop.js';
import { createJsonClient, sendOk, type JsonClient } from '../workloads/json-client.js';
import { runNodeLease } from './node-lease.js';
import { createPodSandbox, listPodNetns, pickPodIp, removePodSandbox, type NodePodNet, type PodSandbox } from './pod-network.js';
import { kubeletEvent, podStatus } from './pod-status.js';
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

/** The grace a Pod being deleted gets: metadata.deletionGracePeriodSeconds, else its spec's. */
export function deletionGraceMs(pod: JsonObject, view: PodView): number | undefined {
  const m = meta(pod);
  if (str(m, 'deletionTimestamp') === undefined) return undefined;
  const grace = m.deletionGracePeriodSeconds;
  return (typeof grace === 'number' ? Math.max(0, grace) : view.terminationGracePeriodSeconds) * 1000;
}

function podPath(pod: PodView): string {
  return `/api/v1/namespaces/${encodeURIComponent(pod.id.namespace)}/pods/${encodeURIComponent(pod.id.name)}`;
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
  let lastIp: string | undefined; // the address given last: the next Pod gets the one after it
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
    recordEvent: (pod, e) => {
      const body = kubeletEvent(pod.id, deps.node.node, e, now(), randomBytes(8).toString('hex'));
      void client.send('POST', `/api/v1/namespaces/${encodeURIComponent(pod.id.namespace)}/events`, body).then(
        (reply) => { if (reply.code >= 300) log.warn({ event: 'eventFailed', code: reply.code, reason: e.reason }, 'cannot record an event'); },
        (err: unknown) => { log.warn({ event: 'eventFailed', err, reason: e.reason }, 'cannot record an event'); },
      );
    },
  };

  async function startPod(raw: JsonObject): Promise<void> {
    const view = toPodView(raw);
    let sandbox: PodSandbox | undefined;
    let podIp = deps.hostIp;
    if (!view.hostNetwork) {
      const ip = pickPodIp(deps.node.cidr, usedIps, lastIp);
      if (ip === undefined) throw new Error(`node ${deps.node.node}: no free address in ${deps.node.cidr}`);
      usedIps.add(ip);
      lastIp = ip;
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

  const stopping = new Set<string>(); // uids being stopped

  /**
   * Stops a Pod's containers (SIGTERM, SIGKILL after `graceMs`) and removes its namespace. Its
   * status keeps being written meanwhile (readiness probes keep running, as the kubelet's do).
   */
  async function stopPod(uid: string, graceMs: number): Promise<void> {
    const r = pods.get(uid);
    if (r === undefined || stopping.has(uid)) return;
    stopping.add(uid);
    await r.worker.stop(graceMs);
    pods.delete(uid);
    written.delete(uid);
    stopping.delete(uid);
    if (r.sandbox !== undefined) {
      await removePodSandbox(deps.node, r.sandbox);
      usedIps.delete(r.sandbox.ip);
    }
    log.info({ event: 'podStopped', pod: `${r.worker.view.id.namespace}/${r.worker.view.id.name}` }, 'pod stopped');
  }

  /**
   * A Pod being deleted: stop it within its deletion grace period, then remove it from the API
   * with grace 0 and its uid as precondition, as the kubelet's status manager does once the
   * containers are gone (pkg/kubelet/status/status_manager.go).
   */
  const finishing = new Set<string>(); // uids whose final delete is under way
  async function finishDeletion(pod: JsonObject, graceMs: number): Promise<void> {
    const view = toPodView(pod);
    if (finishing.has(view.id.uid)) return;
    finishing.add(view.id.uid);
    try {
      log.info({ event: 'podTerminating', pod: `${view.id.namespace}/${view.id.name}`, graceMs }, 'pod deleted: stopping its containers');
      await stopPod(view.id.uid, graceMs);
      const reply = await client.send('DELETE', podPath(view), { apiVersion: 'v1', kind: 'DeleteOptions', gracePeriodSeconds: 0, preconditions: { uid: view.id.uid } });
      if (reply.code >= 300 && reply.code !== 404 && reply.code !== 409) throw new Error(`DELETE ${podPath(view)}: HTTP ${String(reply.code)} ${JSON.stringify(reply.body)}`);
    } catch (e: unknown) {
      log.warn({ event: 'podDeleteFailed', pod: `${view.id.namespace}/${view.id.name}`, err: e }, 'cannot remove a terminated pod; retrying');
      setTimeout(() => { syncLoop.poke(); }, 2000).unref();
    } finally {
      finishing.delete(view.id.uid);
    }
  }

  /** A Pod this kubelet runs, as the API has it now (undefined: gone). */
  function syncRunning(uid: string, r: Running, pod: JsonObject | undefined): void {
    if (pod === undefined || !runsHere(pod, deps.node.node)) {
      // Gone without a graceful deletion (forced, or its namespace deleted): stop with the grace period the Pod had.
      void stopPod(uid, r.worker.view.terminationGracePeriodSeconds * 1000);
      return;
    }
    r.worker.update(toPodView(pod), pod);
    const graceMs = deletionGraceMs(pod, r.worker.view);
    if (graceMs !== undefined) void finishDeletion(pod, graceMs);
  }

  const syncLoop = createReconcileLoop(
    async () => {
      if (!informer.hasSynced()) return;
      const present = new Map(informer.list().map((o) => [uidOf({ ...o }), { ...o }]));
      for (const [uid, r] of [...pods]) syncRunning(uid, r, present.get(uid));
      for (const [uid, pod] of present) {
        if (pods.has(uid) || !runsHere(pod, deps.node.node)) continue;
        // Deleted before it ran here (or while this kubelet was down): nothing to stop, remove it.
        if (str(meta(pod), 'deletionTimestamp') !== undefined) void finishDeletion(pod, 0);
        else if (!hard.signal.aborted && !signal.aborted) await startPod(pod);
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
  const lease = runNodeLease({ client, node: deps.node.node, clock: deps.clock, logger: log }, signal);
  await informer.run(signal);
  await lease;
  await syncLoop.idle();
  await Promise.all([...pods.keys()].map((uid) => stopPod(uid, Math.min(deps.shutdownGraceMs, (pods.get(uid)?.worker.view.terminationGracePeriodSeconds ?? 30) * 1000))));
  hard.abort();
  await statusLoop.idle();
}
