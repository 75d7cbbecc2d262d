import type * as k8s from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { clientNodeListWatch } from '../../k8s/client.js';
import { createInformer, type Informer } from '../../k8s/informer.js';
import type { Clock } from '../../shared/clock.js';
import { child, isObject, jsonEqual, list, meta, str, type JsonObject } from '../apiserver/object.js';
import { createReconcileLoop, type ReconcileLoop } from '../reconcile-loop.js';
import { decideDaemonSet } from './daemonset.js';
import { decideDeployment, revisionAnnotation } from './deployment.js';
import { createJsonClient, sendOk, type JsonClient } from './json-client.js';
import { decideReplicaSet } from './replicaset.js';
import { schedulePod } from './scheduler.js';

/**
 * The imperative shell of the sandbox's kube-controller-manager and kube-scheduler stand-ins:
 * one informer per kind, one reconcile loop per controller (ReplicaSet, Deployment, DaemonSet,
 * scheduler, garbage collector), each running its pure decision over every object of its kind and carrying it out
 * through the API, as the real controllers do (so RBAC, admission and watches see their writes).
 */
export interface WorkloadControllersDeps {
  readonly kubeConfig: k8s.KubeConfig;
  readonly logger: Logger;
  readonly clock: Clock;
}

const mergePatch = 'application/merge-patch+json';

/** Where each kind lives in the URL space. */
const kinds = {
  pods: { collection: '/api/v1/pods', prefix: '/api/v1/namespaces', plural: 'pods' },
  replicasets: { collection: '/apis/apps/v1/replicasets', prefix: '/apis/apps/v1/namespaces', plural: 'replicasets' },
  deployments: { collection: '/apis/apps/v1/deployments', prefix: '/apis/apps/v1/namespaces', plural: 'deployments' },
  daemonsets: { collection: '/apis/apps/v1/daemonsets', prefix: '/apis/apps/v1/namespaces', plural: 'daemonsets' },
  nodes: { collection: '/api/v1/nodes', prefix: '', plural: 'nodes' },
} as const;
type KindName = keyof typeof kinds;

function keyOf(obj: JsonObject): string {
  const m = meta(obj);
  return `${str(m, 'namespace') ?? ''}/${str(m, 'name') ?? ''}`;
}

function rvOf(obj: JsonObject): number {
  return Number(str(meta(obj), 'resourceVersion') ?? '0');
}

/**
 * An informer's cache plus this process's own writes that the watch has not delivered yet, so
 * that a loop never acts twice on the same state (the real controllers' "expectations").
 */
class View {
  // namespace/name -> the object as written (undefined: deleted), until the cache catches up
  private readonly own = new Map<string, JsonObject | undefined>();
  private readonly ownRv = new Map<string, number>();

  constructor(private readonly informer: Informer<k8s.KubernetesObject>) {}

  list(): JsonObject[] {
    const cached = new Map(this.informer.list().map((o) => [keyOf({ ...o }), { ...o }]));
    for (const [key, obj] of [...this.own]) {
      const seen = cached.get(key);
      const caughtUp = obj === undefined ? seen === undefined || rvOf(seen) > (this.ownRv.get(key) ?? 0) : seen !== undefined && rvOf(seen) >= rvOf(obj);
      if (caughtUp) this.own.delete(key);
      else if (obj === undefined) cached.delete(key);
      else cached.set(key, obj);
    }
    return [...cached.values()];
  }

  wrote(obj: JsonObject): void {
    this.own.set(keyOf(obj), obj);
  }

  deleted(obj: JsonObject): void {
    this.own.set(keyOf(obj), undefined);
    this.ownRv.set(keyOf(obj), rvOf(obj));
  }
}

function inNamespace(objects: readonly JsonObject[], ns: string): JsonObject[] {
  return objects.filter((o) => str(meta(o), 'namespace') === ns);
}

function objectPath(kind: KindName, obj: JsonObject, sub = ''): string {
  const m = meta(obj);
  const k = kinds[kind];
  const base = `${k.prefix}/${encodeURIComponent(str(m, 'namespace') ?? '')}/${k.plural}`;
  return `${base}/${encodeURIComponent(str(m, 'name') ?? '')}${sub === '' ? '' : `/${sub}`}`;
}

function collectionPath(kind: KindName, namespace: string): string {
  const k = kinds[kind];
  return `${k.prefix}/${encodeURIComponent(namespace)}/${k.plural}`;
}

/** A merge patch from `current` to `desired`: changed keys, and null for keys that went away. */
function mergePatchOf(current: JsonObject, desired: JsonObject): JsonObject {
  const patch: JsonObject = { ...desired };
  for (const key of Object.keys(current)) if (!(key in desired)) patch[key] = null;
  return patch;
}

/** The writes the loops share. */
class Writer {
  constructor(
    private readonly client: JsonClient,
    readonly views: Readonly<Record<KindName, View>>,
  ) {}

  async create(kind: KindName, namespace: string, body: JsonObject): Promise<void> {
    this.views[kind].wrote(await sendOk(this.client, 'POST', collectionPath(kind, namespace), body));
  }

  async delete(kind: KindName, obj: JsonObject): Promise<void> {
    await sendOk(this.client, 'DELETE', objectPath(kind, obj), { kind: 'DeleteOptions', apiVersion: 'v1', propagationPolicy: 'Background' }, 'application/json', [404]);
    this.views[kind].deleted(obj);
  }

  async patch(kind: KindName, obj: JsonObject, body: JsonObject, sub = ''): Promise<void> {
    this.views[kind].wrote(await sendOk(this.client, 'PATCH', objectPath(kind, obj, sub), body, mergePatch));
  }

  /** Writes status when it differs from the object's. */
  async status(kind: KindName, obj: JsonObject, desired: JsonObject): Promise<void> {
    const current = child(obj, 'status');
    if (jsonEqual(current, desired)) return;
    await this.patch(kind, obj, { status: mergePatchOf(current, desired) }, 'status');
  }

  async bind(pod: JsonObject, node: string): Promise<void> {
    const name = str(meta(pod), 'name') ?? '';
    await sendOk(this.client, 'POST', objectPath('pods', pod, 'binding'), { apiVersion: 'v1', kind: 'Binding', metadata: { name }, target: { apiVersion: 'v1', kind: 'Node', name: node } });
    this.views.pods.wrote({ ...pod, metadata: { ...meta(pod), resourceVersion: String(rvOf(pod) + 1) }, spec: { ...child(pod, 'spec'), nodeName: node } });
  }
}

function namespaceOf(obj: JsonObject): string {
  return str(meta(obj), 'namespace') ?? 'default';
}

async function syncReplicaSets(w: Writer, now: Date): Promise<void> {
  const pods = w.views.pods.list();
  for (const rs of w.views.replicasets.list()) {
    const ns = namespaceOf(rs);
    const decision = decideReplicaSet(rs, inNamespace(pods, ns), now);
    for (const pod of decision.create) await w.create('pods', ns, pod);
    for (const name of decision.delete) await w.delete('pods', { metadata: { namespace: ns, name } });
    await w.status('replicasets', rs, decision.status);
  }
}

async function syncDeployments(w: Writer, now: Date): Promise<void> {
  const sets = w.views.replicasets.list();
  for (const d of w.views.deployments.list()) {
    const ns = namespaceOf(d);
    const decision = decideDeployment(d, inNamespace(sets, ns), now);
    if (decision.createReplicaSet !== undefined) await w.create('replicasets', ns, decision.createReplicaSet);
    for (const [name, replicas] of decision.scale) await w.patch('replicasets', { metadata: { namespace: ns, name } }, { spec: { replicas } });
    if (str(child(meta(d), 'annotations'), revisionAnnotation) !== decision.revision) await w.patch('deployments', d, { metadata: { annotations: { [revisionAnnotation]: decision.revision } } });
    await w.status('deployments', d, decision.status);
  }
}

async function syncDaemonSets(w: Writer, now: Date): Promise<void> {
  const pods = w.views.pods.list();
  const nodes = w.views.nodes.list();
  for (const ds of w.views.daemonsets.list()) {
    const ns = namespaceOf(ds);
    const decision = decideDaemonSet(ds, nodes, inNamespace(pods, ns), now);
    for (const pod of decision.create) await w.create('pods', ns, pod);
    for (const name of decision.delete) await w.delete('pods', { metadata: { namespace: ns, name } });
    await w.status('daemonsets', ds, decision.status);
  }
}

function unscheduled(pod: JsonObject): boolean {
  const spec = child(pod, 'spec');
  return str(spec, 'nodeName') === undefined && (str(spec, 'schedulerName') ?? 'default-scheduler') === 'default-scheduler' && str(meta(pod), 'deletionTimestamp') === undefined;
}

/** The PodScheduled=False condition kube-scheduler writes on a Pod no node fits. */
function unschedulableCondition(pod: JsonObject, message: string, now: Date): JsonObject | undefined {
  const conditions = list(child(pod, 'status'), 'conditions').filter(isObject);
  const current = conditions.find((c) => c.type === 'PodScheduled');
  if (current !== undefined && current.status === 'False' && current.message === message) return undefined;
  const condition = { type: 'PodScheduled', status: 'False', lastProbeTime: null, lastTransitionTime: now.toISOString().replace(/\.\d{3}Z$/, 'Z'), reason: 'Unschedulable', message };
  return { ...child(pod, 'status'), conditions: [...conditions.filter((c) => c.type !== 'PodScheduled'), condition] };
}

async function schedule(w: Writer, now: Date, log: Logger): Promise<void> {
  const nodes = w.views.nodes.list();
  for (const pod of w.views.pods.list().filter(unscheduled)) {
    const decision = schedulePod(pod, nodes, w.views.pods.list());
    if (decision.kind === 'bind') {
      await w.bind(pod, decision.node);
      log.debug({ event: 'podScheduled', pod: keyOf(pod), node: decision.node }, 'pod bound');
      continue;
    }
    const status = unschedulableCondition(pod, decision.message, now);
    if (status !== undefined) await w.status('pods', pod, status);
  }
}

const ownerKinds: Readonly<Record<string, KindName>> = { ReplicaSet: 'replicasets', Deployment: 'deployments', DaemonSet: 'daemonsets' };

/** Whether an owner is still there: in this process's view, or else by a live read (the collector's lookup). */
async function ownerPresent(w: Writer, client: JsonClient, ns: string, ref: JsonObject): Promise<boolean> {
  const kind = ownerKinds[str(ref, 'kind') ?? ''];
  if (kind === undefined) return true;
  const uid = str(ref, 'uid');
  if (w.views[kind].list().some((o) => str(meta(o), 'uid') === uid)) return true;
  const live = await client.send('GET', objectPath(kind, { metadata: { namespace: ns, name: str(ref, 'name') ?? '' } }));
  return live.code !== 404 && str(meta(live.body), 'uid') === uid;
}

/**
 * The garbage collector stand-in's sweep: a Pod or ReplicaSet all of whose owners are gone is
 * deleted. The API server cascades on delete already; this catches dependents a controller
 * created from a stale cache while their owner was being deleted.
 */
async function collectGarbage(w: Writer, client: JsonClient): Promise<void> {
  for (const kind of ['replicasets', 'pods'] as const) {
    for (const obj of w.views[kind].list()) {
      const refs = list(meta(obj), 'ownerReferences').filter(isObject);
      // Already being deleted (a Pod in its grace period): its kubelet finishes it.
      if (refs.length === 0 || str(meta(obj), 'deletionTimestamp') !== undefined) continue;
      let present = false;
      for (const ref of refs) present ||= await ownerPresent(w, client, namespaceOf(obj), ref);
      if (!present) await w.delete(kind, obj);
    }
  }
}

function listVia(client: JsonClient, path: string): () => Promise<k8s.KubernetesListObject<k8s.KubernetesObject>> {
  return async () => {
    const body = await sendOk(client, 'GET', path);
    // Wire JSON is what client-node's ListWatch expects here; only items and metadata are read.
    return { apiVersion: 'v1', kind: 'List', metadata: { resourceVersion: str(child(body, 'metadata'), 'resourceVersion') ?? '' }, items: list(body, 'items').filter(isObject) };
  };
}

/** Runs the controllers and the scheduler until `signal` aborts. */
export async function runWorkloadControllers(deps: WorkloadControllersDeps, signal: AbortSignal): Promise<void> {
  const log = deps.logger.child({ component: 'sandbox-workloads' });
  const client = createJsonClient(deps.kubeConfig);
  const loops: ReconcileLoop[] = [];
  const pokeAll = (): void => {
    for (const loop of loops) loop.poke();
  };
  const informers = Object.fromEntries(
    (Object.keys(kinds) as KindName[]).map((kind) => [kind, createInformer<k8s.KubernetesObject>({ source: clientNodeListWatch(deps.kubeConfig, kinds[kind].collection, listVia(client, kinds[kind].collection)), path: kinds[kind].collection, logger: log, clock: deps.clock, onChange: pokeAll })]),
  ) as Record<KindName, Informer<k8s.KubernetesObject>>;
  const views = Object.fromEntries(Object.entries(informers).map(([kind, inf]) => [kind, new View(inf)])) as Record<KindName, View>;
  const w = new Writer(client, views);
  const steps: readonly [string, (now: Date) => Promise<void>][] = [
    ['replicaset', (now) => syncReplicaSets(w, now)],
    ['deployment', (now) => syncDeployments(w, now)],
    ['daemonset', (now) => syncDaemonSets(w, now)],
    ['scheduler', (now) => schedule(w, now, log)],
    ['garbage-collector', () => collectGarbage(w, client)],
  ];
  for (const [name, step] of steps) {
    loops.push(createReconcileLoop(() => step(deps.clock.wallTime()), (e) => { log.warn({ event: 'workloadSyncFailed', controller: name, err: e }, 'workload controller sync failed; retrying'); setTimeout(pokeAll, 1000).unref(); }));
  }
  await Promise.all(Object.values(informers).map((inf) => inf.run(signal)));
  await Promise.all(loops.map((l) => l.idle()));
}
