import type * as k8s from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { clientNodeListWatch } from '../k8s/client.js';
import { createInformer, type Informer } from '../k8s/informer.js';
import type { Clock } from '../shared/clock.js';
import { child, isObject, jsonEqual, list, meta, str, type JsonObject } from './apiserver/object.js';
import { createReconcileLoop } from './reconcile-loop.js';
import { createJsonClient, sendOk, type JsonClient } from './workloads/json-client.js';
import { desiredPodEndpointSlices, endpointSliceManager } from './workloads/pod-endpoints.js';

/** What the sandbox's EndpointSlice controller stand-in needs; it runs once per sandbox, host side. */
export interface EndpointWriterDeps {
  readonly kubeConfig: k8s.KubeConfig;
  readonly logger: Logger;
  readonly clock: Clock;
}

const managedByLabel = 'endpointslice.kubernetes.io/managed-by';

function keyOf(obj: JsonObject): string {
  const m = meta(obj);
  return `${str(m, 'namespace') ?? ''}/${str(m, 'name') ?? ''}`;
}

function slicePath(namespace: string, name?: string): string {
  return `/apis/discovery.k8s.io/v1/namespaces/${encodeURIComponent(namespace)}/endpointslices${name === undefined ? '' : `/${encodeURIComponent(name)}`}`;
}

/** Whether the stored slice already says what the desired one says (server-set metadata aside). */
function sameSlice(current: JsonObject, desired: JsonObject): boolean {
  const cm = meta(current);
  const dm = meta(desired);
  return (
    jsonEqual(child(cm, 'labels'), child(dm, 'labels')) &&
    jsonEqual(list(cm, 'ownerReferences'), list(dm, 'ownerReferences')) &&
    current.addressType === desired.addressType &&
    jsonEqual(list(current, 'endpoints'), list(desired, 'endpoints')) &&
    jsonEqual(list(current, 'ports'), list(desired, 'ports'))
  );
}

function listVia(client: JsonClient, path: string): () => Promise<k8s.KubernetesListObject<k8s.KubernetesObject>> {
  return async () => {
    const body = await sendOk(client, 'GET', path);
    // Wire JSON is what client-node's ListWatch expects; only items and metadata are read.
    return { apiVersion: 'v1', kind: 'List', metadata: { resourceVersion: str(child(body, 'metadata'), 'resourceVersion') ?? '' }, items: list(body, 'items').filter(isObject) };
  };
}

/**
 * The EndpointSlice controller stand-in: keeps, for every Service with a selector, the slices
 * workloads/pod-endpoints.ts builds from its namespace's Pods (ready/serving/terminating,
 * nodeName, targetRef, named targetPorts resolved per Pod), and deletes the slices it manages
 * that no Service wants any more (a deleted Service's, or those left from before a restart).
 */
export async function runEndpointWriter(deps: EndpointWriterDeps, signal: AbortSignal): Promise<void> {
  const log = deps.logger.child({ component: 'sandbox-endpointslices' });
  const client = createJsonClient(deps.kubeConfig);

  const loop = createReconcileLoop(
    async () => {
      if (![services, pods, slices].every((i) => i.hasSynced())) return;
      // By name, so that endpoints keep their order from one run to the next (no needless writes).
      const allPods = pods.list().map((p) => ({ ...p })).sort((a, b) => keyOf(a).localeCompare(keyOf(b)));
      const desired = new Map<string, JsonObject>();
      for (const svc of services.list().map((s) => ({ ...s }))) {
        const ns = str(meta(svc), 'namespace') ?? 'default';
        for (const slice of desiredPodEndpointSlices(svc, allPods.filter((p) => str(meta(p), 'namespace') === ns))) desired.set(keyOf(slice), slice);
      }
      const current = new Map(slices.list().map((s) => [keyOf({ ...s }), { ...s }]));
      for (const [key, slice] of desired) await write(slice, current.get(key));
      for (const [key, slice] of current) if (!desired.has(key)) await remove(slice);
    },
    (e) => {
      log.warn({ event: 'endpointSliceFailed', err: e }, 'cannot write endpoint slices; retrying');
      setTimeout(() => { loop.poke(); }, 1000).unref();
    },
  );

  async function write(slice: JsonObject, current: JsonObject | undefined): Promise<void> {
    const ns = str(meta(slice), 'namespace') ?? 'default';
    if (current !== undefined && sameSlice(current, slice)) return;
    if (current === undefined) await sendOk(client, 'POST', slicePath(ns), slice, 'application/json', [409]);
    else await sendOk(client, 'PUT', slicePath(ns, str(meta(slice), 'name')), { ...slice, metadata: { ...meta(slice), resourceVersion: str(meta(current), 'resourceVersion') ?? '' } }, 'application/json', [409]);
    log.info({ event: 'endpointSliceWritten', slice: keyOf(slice), endpoints: list(slice, 'endpoints').length }, 'endpoint slice written');
  }

  async function remove(slice: JsonObject): Promise<void> {
    await sendOk(client, 'DELETE', slicePath(str(meta(slice), 'namespace') ?? 'default', str(meta(slice), 'name')), undefined, 'application/json', [404]);
    log.info({ event: 'endpointSliceDeleted', slice: keyOf(slice) }, 'endpoint slice deleted');
  }

  const inform = (path: string, labelSelector?: string): Informer<k8s.KubernetesObject> =>
    createInformer<k8s.KubernetesObject>({
      source: clientNodeListWatch(
        deps.kubeConfig,
        path,
        listVia(client, labelSelector === undefined ? path : `${path}?labelSelector=${encodeURIComponent(labelSelector)}`),
        labelSelector === undefined ? {} : { labelSelector },
      ),
      path,
      logger: log,
      clock: deps.clock,
      onChange: () => { loop.poke(); },
    });
  const services = inform('/api/v1/services');
  const pods = inform('/api/v1/pods');
  const slices = inform('/apis/discovery.k8s.io/v1/endpointslices', `${managedByLabel}=${endpointSliceManager}`);
  await Promise.all([services.run(signal), pods.run(signal), slices.run(signal)]);
  await loop.idle();
}
